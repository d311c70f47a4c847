"""Use cases (document types) as data: one folder each under ``usecases/``, loaded at run time.

A new folder is a new use case; no code changes. A folder ``<id>/`` holds:

``usecase.json``
    ``id`` (= folder name), ``title``, ``description``, ``legalBasis``, ``issuedBy`` (each
    ``{"de", "en"}``), ``credentialType`` (the VC type, PascalCase), ``defaultValidity``
    (``null`` = until revoked, or e.g. ``{"days": 7}``) and optionally ``schedule`` (JSON Pointer
    to the weekly time windows in the subject), ``codeField`` (JSON Pointer to a short code by
    which a clerk finds the document, e.g. the Zuordnungsmerkmal), ``submitters`` (who may
    submit the subject: ``"clerk"``, ``"landlord"``; default clerks only) and ``declaration``
    (``{"declaredBy": pointer, "title"}``: the document is the declaration of the party named at
    that pointer, which the municipality received, not its own statement; such documents carry
    an ``evidence`` item saying who submitted it and when it was received).
    ``neverHidden`` (optional): JSON Pointers of fields a holder may never hide, because a
    verifier cannot answer without them (e.g. the time windows, the chip number, the conditions).
    A pointer covers everything below it, and hiding anything that contains it is refused too.
    Each must name a field the schema requires (so a missing one can only have been hidden); the
    ``schedule`` pointer must be among them. ``govchain disclose``, verification links and the
    pages refuse to hide them, and verification answers INVALID for a document in which one is
    hidden.
``consistency`` (optional): rules between two fields of one subject, checked at issuance once
    the subject fits its schema; each names the ``basis`` it comes from (``{"de", "en"}``, quoted
    in the German message). ``{"rule": "atMost", "value": pointer, "limit": pointer}``: the
    number at ``value`` is at most the number at ``limit`` (a street-music group no larger than
    its permit's ``maxPersonen``); ``{"rule": "noneOf", "values": pointer, "forbidden":
    pointer}``: no text in the first list names one in the second, ignoring case and spaces at
    either end (no forbidden instrument). The fields must exist in the schema with those types.
``validityLimits`` (optional): the plausible dates of a document of this type, checked before
    anything is stored or computed (a year-9999 ``validFrom`` is a field error, never an
    overflow). ``maxPast`` / ``maxFuture``: how far ``validFrom`` may lie before / after the
    time of issue; ``maxDuration``: how long after ``validFrom`` ``validUntil`` may lie (each a
    duration like ``defaultValidity``, at most 100 years); ``dateYears``: ``[first, last]`` year
    of every date and date-time in the subject (``"format": "date"`` / ``"date-time"``). Each
    key left out takes its default (``DEFAULT_LIMITS``: 366 days back, 366 days ahead, 10 years
    long, years 1900 to 2100).
``schema.json``
    JSON Schema 2020-12 of ``credentialSubject``. Property ``title``s are the labels of the web form
    and of error messages; an ``errorMessage`` string on a subschema replaces the generic German
    message for whatever fails in that subschema (e.g. "muss genau 15 Ziffern haben").
``display.json``
    How pages, certificates and the CLI show a document: ``title``, ``highlight`` (pointers a
    patrol must see at a glance) and ``sections`` of ``fields``, each ``{"path", "label",
    "format"}`` with format one of FIELD_FORMATS; optional ``item`` (format of each list element)
    and ``values`` (labels ``{"de", "en"}`` for each code of an ``enum`` field); optional
    ``checker``: the pointers a checker asks a wallet to show (OpenID4VP; default: the
    ``highlight`` fields).
``examples/*.json``
    ``{"subject", "validFrom"?, "validUntil"?}``, each valid; used by tests and the demo.
``presets/<AGS>.json`` (optional)
    ``{"ags", "gemeinde", "stand"?, "hinweis"?, "subject"}``: a municipality's usual values a
    clerk's form can start from; ``subject`` is a partial subject (top-level fields may be missing).

Everything is checked on load, so a broken folder fails with a ConfigurationError naming the file
instead of failing later at a clerk's desk.

The package: `files` (the schemas of these files), `loading` (folders → `UseCaseRegistry`),
`model` (`UseCase` and a subject's field errors), `messages` (German error texts), `schema`
(finding a field in the JSON Schema).
"""

from __future__ import annotations

from govchain.domain.usecases.files import FIELD_FORMATS, SUBMITTERS
from govchain.domain.usecases.loading import (
    ENV_USECASES,
    UseCaseRegistry,
    default_usecases_dir,
    load_usecase,
)
from govchain.domain.usecases.messages import schema_title
from govchain.domain.usecases.model import DEFAULT_LIMITS, Declaration, UseCase, ValidityLimits

__all__ = [
    "DEFAULT_LIMITS",
    "ENV_USECASES",
    "FIELD_FORMATS",
    "SUBMITTERS",
    "Declaration",
    "UseCase",
    "UseCaseRegistry",
    "ValidityLimits",
    "default_usecases_dir",
    "load_usecase",
    "schema_title",
]

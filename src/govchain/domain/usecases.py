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
    and ``values`` (labels ``{"de", "en"}`` for each code of an ``enum`` field).
``examples/*.json``
    ``{"subject", "validFrom"?, "validUntil"?}``, each valid; used by tests and the demo.
``presets/<AGS>.json`` (optional)
    ``{"ags", "gemeinde", "stand"?, "hinweis"?, "subject"}``: a municipality's usual values a
    clerk's form can start from; ``subject`` is a partial subject (top-level fields may be missing).

Everything is checked on load, so a broken folder fails with a ConfigurationError naming the file
instead of failing later at a clerk's desk.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema import ValidationError as SchemaViolation
from jsonschema.exceptions import SchemaError

from govchain.domain import schedule
from govchain.domain.documents import escape_token, parse_pointer, resolve_pointer
from govchain.domain.hashing import keccak
from govchain.domain.text import BIDI_MESSAGE, bidi_control_paths
from govchain.errors import ConfigurationError, UnknownUseCaseError, ValidationError

ENV_USECASES = "GOVCHAIN_USECASES"
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
FIELD_FORMATS = ("text", "date", "list", "address", "person", "boolean", "timewindows", "money")
SUBMITTERS = ("clerk", "landlord")


def _date_time(value: object) -> bool:
    """RFC 3339 date-time with an offset; jsonschema checks this only with an extra package."""
    if not isinstance(value, str):
        return True
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", value):
        return False
    return datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None


FORMAT_CHECKER = FormatChecker(formats=("date", "time", "email"))
FORMAT_CHECKER.checks("date-time", raises=ValueError)(_date_time)


# -- the shape of the folder's own files --------------------------------------------------------

_TEXT = {
    "type": "object", "required": ["de", "en"], "additionalProperties": False,
    "properties": {"de": {"type": "string", "minLength": 1},
                   "en": {"type": "string", "minLength": 1}},
}
_POINTER = {"type": "string", "pattern": "^(/[^/]*)+$"}
_COUNT = {"type": "integer", "minimum": 0}
_DURATION = {"type": "object", "minProperties": 1, "additionalProperties": False,
             "properties": {"weeks": _COUNT, "days": _COUNT, "hours": _COUNT, "minutes": _COUNT}}
_YEAR = {"type": "integer", "minimum": 1000, "maximum": 9000}

USECASE_FILE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "title", "description", "credentialType", "legalBasis", "issuedBy",
                 "defaultValidity"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$", "maxLength": 64},
        "title": _TEXT,
        "description": _TEXT,
        "credentialType": {"type": "string", "pattern": "^[A-Z][A-Za-z0-9]*$", "maxLength": 64},
        "legalBasis": _TEXT,
        "issuedBy": _TEXT,
        "defaultValidity": {"anyOf": [
            {"type": "null"},
            {"type": "object", "minProperties": 1, "additionalProperties": False,
             "properties": {"weeks": _COUNT, "days": _COUNT, "hours": _COUNT, "minutes": _COUNT}},
        ]},
        "schedule": _POINTER,
        "codeField": _POINTER,
        "validityLimits": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "maxPast": _DURATION, "maxFuture": _DURATION, "maxDuration": _DURATION,
                "dateYears": {"type": "array", "prefixItems": [_YEAR, _YEAR], "minItems": 2,
                              "maxItems": 2},
            },
        },
        "neverHidden": {"type": "array", "uniqueItems": True, "items": _POINTER},
        "submitters": {"type": "array", "minItems": 1, "uniqueItems": True,
                       "items": {"enum": list(SUBMITTERS)}},
        "declaration": {"type": "object", "required": ["declaredBy", "title"],
                        "additionalProperties": False,
                        "properties": {"declaredBy": _POINTER, "title": _TEXT}},
    },
}
DISPLAY_FILE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["title", "highlight", "sections"],
    "additionalProperties": False,
    "properties": {
        "title": _TEXT,
        "highlight": {"type": "array", "items": _POINTER},
        "sections": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["title", "fields"], "additionalProperties": False,
            "properties": {
                "title": _TEXT,
                "fields": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "required": ["path", "label", "format"],
                    "additionalProperties": False,
                    "properties": {
                        "path": _POINTER,
                        "label": _TEXT,
                        "format": {"enum": list(FIELD_FORMATS)},
                        "item": {"enum": list(FIELD_FORMATS)},
                        "values": {"type": "object", "additionalProperties": _TEXT},
                    },
                }},
            },
        }},
    },
}
EXAMPLE_FILE_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["subject"], "additionalProperties": False,
    "properties": {
        "subject": {"type": "object"},
        "validFrom": {"type": "string", "format": "date-time"},
        "validUntil": {"type": "string", "format": "date-time"},
    },
}
PRESET_FILE_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["ags", "gemeinde", "subject"], "additionalProperties": False,
    "properties": {
        "ags": {"type": "string", "pattern": "^[0-9]{8}$"},
        "gemeinde": {"type": "string", "minLength": 1},
        "stand": {"type": "string", "format": "date"},
        "hinweis": {"type": "string"},
        "subject": {"type": "object"},
    },
}
_FILE_VALIDATORS = {
    name: Draft202012Validator(s, format_checker=FORMAT_CHECKER) for name, s in [
        ("usecase", USECASE_FILE_SCHEMA), ("display", DISPLAY_FILE_SCHEMA),
        ("example", EXAMPLE_FILE_SCHEMA), ("preset", PRESET_FILE_SCHEMA)]
}


# -- the use case -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Declaration:
    """A document that is a third party's declaration received by the municipality, not the
    municipality's own statement (the Wohnungsgeberbestätigung: the landlord declares, the
    Meldebehörde receives, § 19 BMG)."""

    declared_by: str  # JSON Pointer of the declarant in the subject, e.g. /wohnungsgeber
    title: dict[str, str]  # "Erklärung des Wohnungsgebers" / "Declaration of the landlord"


@dataclass(frozen=True)
class ValidityLimits:
    """Plausible dates of a document type (usecase.json ``validityLimits``)."""

    max_past: timedelta = timedelta(days=366)  # validFrom at most this long before issuing
    max_future: timedelta = timedelta(days=366)  # ... and at most this long after it
    max_duration: timedelta = timedelta(days=3653)  # validUntil at most this long after validFrom
    date_years: tuple[int, int] = (1900, 2100)  # dates and date-times in the subject

    def errors(self, valid_from: datetime | None, valid_until: datetime | None, at: datetime
               ) -> list[tuple[str, str]]:
        """(path, German message) for validity dates outside the limits, for issuing at `at`.

        Only comparisons with bounds computed from `at`: an absurd date (year 1 or 9999 with any
        offset) is refused without any arithmetic on it, so nothing can overflow.
        """
        errors: list[tuple[str, str]] = []
        start = valid_from if valid_from is not None else at
        if valid_from is not None:
            if valid_from < at - self.max_past:
                errors.append(("/validFrom", "Gültig ab: darf höchstens "
                               f"{_days(self.max_past)} vor dem Ausstellen liegen"))
            elif valid_from > at + self.max_future:
                errors.append(("/validFrom", "Gültig ab: darf höchstens "
                               f"{_days(self.max_future)} nach dem Ausstellen liegen"))
        if valid_until is not None:
            if valid_until <= start:
                errors.append(("/validUntil", "Gültig bis: muss nach „gültig ab“ liegen"))
            elif not errors and valid_until > start + self.max_duration:
                errors.append(("/validUntil", "Gültig bis: höchstens "
                               f"{_days(self.max_duration)} nach „gültig ab“"))
        return errors


DEFAULT_LIMITS = ValidityLimits()
_DATE_FORMATS = ("date", "date-time")


def _days(delta: timedelta) -> str:
    days = delta / timedelta(days=1)
    return f"{days:g} Tag" if days == 1 else f"{days:g} Tage"


@dataclass(frozen=True)
class UseCase:
    """One document type: metadata, the subject's schema, how to show it, examples, presets."""

    id: str
    title: dict[str, str]
    description: dict[str, str]
    credential_type: str
    legal_basis: dict[str, str]
    issued_by: dict[str, str]
    default_validity: timedelta | None
    schema: dict[str, Any]
    display: dict[str, Any]
    examples: tuple[dict[str, Any], ...] = ()
    schedule_pointer: str | None = None
    code_pointer: str | None = None
    never_hidden: tuple[str, ...] = ()  # JSON Pointers a holder may not hide
    submitters: tuple[str, ...] = ("clerk",)
    declaration: Declaration | None = None
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)  # by AGS
    directory: Path | None = None
    validity_limits: ValidityLimits = DEFAULT_LIMITS
    _validator: Draft202012Validator = field(init=False, repr=False, compare=False)
    _fast_validator: Any = field(init=False, repr=False, compare=False)
    # JSON Pointers ("*" for any list element) of the subject's dates and date-times
    _date_fields: tuple[tuple[str, ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # compiled once: issuing a batch validates every subject
        object.__setattr__(self, "_validator",
                           Draft202012Validator(self.schema, format_checker=FORMAT_CHECKER))
        # jsonschema-rs answers "valid?" ~100× faster; it is at least as strict on our formats
        # (tests/unit/test_usecases.py), so a subject it accepts is valid, and one it refuses
        # goes to the Python validator, which decides and words the German messages.
        object.__setattr__(self, "_fast_validator",
                           jsonschema_rs.validator_for(self.schema, validate_formats=True))
        object.__setattr__(self, "_date_fields", tuple(_date_fields(self.schema, self.schema)))

    def __hash__(self) -> int:
        return hash(self.id)

    @property
    def doc_type(self) -> bytes:
        """The document type as the ledger knows it: keccak256 of the id."""
        return bytes(keccak(self.id.encode()))

    def validate(self, subject: object) -> None:
        """Raises ValidationError with one (JSON Pointer, German message) per offending field."""
        errors = self.field_errors(subject)
        if errors:
            raise ValidationError(f"Ungültige Angaben für „{self.title['de']}“", errors)

    def field_errors(self, subject: object) -> list[tuple[str, str]]:
        """What validate() reports, as a list (empty when the subject is valid)."""
        schema_valid = bool(self._fast_validator.is_valid(subject))
        shown = _shown_text_errors(self.schema, subject) + self.date_year_errors(subject)
        if schema_valid and not self.schedule_pointer and not shown:
            return []
        errors = _field_errors(self._validator, self.schema, self.schedule_pointer, subject,
                               schema_valid=schema_valid)
        if shown:
            known = {path for path, _ in errors}
            errors += [(path, msg) for path, msg in shown if path not in known]
            errors.sort(key=lambda e: _pointer_order(e[0]))
        return errors


    def date_year_errors(self, subject: object) -> list[tuple[str, str]]:
        """Dates and date-times of the subject outside the plausible years (validityLimits)."""
        first, last = self.validity_limits.date_years
        errors = []
        for tokens in self._date_fields:
            for path, value in _values_at(subject, tokens, ""):
                found = re.match(r"(\d{4})-\d{2}-\d{2}", value) if isinstance(value, str) else None
                if found and not first <= int(found.group(1)) <= last:
                    errors.append((path, f"{_title(self.schema, path)}: das Jahr muss zwischen "
                                         f"{first} und {last} liegen"))
        return errors

    @property
    def protected_fields(self) -> dict[str, str]:
        """neverHidden as JSON Pointer → label (the schema's title), for disclose and messages."""
        return {p: schema_title(self.schema, p) or p for p in self.never_hidden}

    def hidden_protected_field(self, subject: object, salts: Mapping[str, Any]) -> str | None:
        """The first neverHidden pointer that is hidden in a presented subject, wholly or in part:
        missing, with a null element (a hidden list element) or an unsalted empty object (all
        members hidden) below it, or with a member the schema requires missing below it. An
        optional member that was hidden cannot be told from one never given (the hashes of hidden
        fields do not say where they were); the tools refuse to hide it all the same."""
        for pointer in self.never_hidden:
            node = _lookup(subject, pointer)
            if node is _MISSING or _incomplete(self.schema, _schema_at(self.schema, pointer),
                                               node, pointer, salts):
                return pointer
        return None

    def placeholder_problem(self, pointer: str, value: object) -> str | None:
        """Why a placeholder of hidden content (`value` null for a list element, {} for an object
        whose members were all hidden) cannot stand at `pointer`, or None: hiding leaves null
        only in a list and {} only where the schema has an object, so anything else was put
        there, not left by hiding."""
        node = _schema_at(self.schema, pointer)
        if node is None:
            return "gibt es im Schema nicht"
        if value is None:  # hiding_placeholders finds null only in lists
            return None
        if _deref(self.schema, node).get("type") == "object":
            return None
        return "ist hier kein Objekt"


def _incomplete(root: Mapping[str, Any], raw: Mapping[str, Any] | None, value: object,
                pointer: str, salts: Mapping[str, Any]) -> bool:
    node = _deref(root, raw) if raw is not None else {}
    if isinstance(value, dict):
        if not value and pointer not in salts:
            return True  # every member hidden
        if any(name not in value for name in node.get("required", ())):
            return True
        properties = node.get("properties", {})
        return any(_incomplete(root, properties.get(key), child,
                               f"{pointer}/{escape_token(key)}", salts)
                   for key, child in value.items())
    if isinstance(value, list):
        items = node.get("items")
        return any(child is None or _incomplete(
            root, items if isinstance(items, Mapping) else None, child, f"{pointer}/{i}", salts)
            for i, child in enumerate(value))
    return False


def _date_fields(root: Mapping[str, Any], node: Mapping[str, Any], prefix: tuple[str, ...] = (),
                 depth: int = 0) -> Iterator[tuple[str, ...]]:
    """The positions (tokens, "*" for any list element) whose schema has a date format."""
    if depth > 32:  # a recursive $ref: deep enough for any real document
        return
    node = _deref(root, node)
    if node.get("format") in _DATE_FORMATS:
        yield prefix
    for name, child in node.get("properties", {}).items():
        if isinstance(child, Mapping):
            yield from _date_fields(root, child, (*prefix, name), depth + 1)
    if isinstance(node.get("items"), Mapping):
        yield from _date_fields(root, node["items"], (*prefix, "*"), depth + 1)
    for key in ("allOf", "anyOf", "oneOf"):
        for child in node.get(key, ()):
            if isinstance(child, Mapping):
                yield from _date_fields(root, child, prefix, depth + 1)
    for key in ("then", "else"):
        if isinstance(node.get(key), Mapping):
            yield from _date_fields(root, node[key], prefix, depth + 1)


def _values_at(instance: object, tokens: tuple[str, ...], path: str) -> Iterator[tuple[str, Any]]:
    if not tokens:
        yield path, instance
        return
    head, rest = tokens[0], tokens[1:]
    if head == "*" and isinstance(instance, list):
        for i, item in enumerate(instance):
            yield from _values_at(item, rest, f"{path}/{i}")
    elif isinstance(instance, Mapping) and head in instance:
        yield from _values_at(instance[head], rest, f"{path}/{escape_token(head)}")


def _shown_text_errors(root: Mapping[str, Any], subject: object) -> list[tuple[str, str]]:
    """Subject text with bidirectional controls (govchain.domain.text): it would be shown to verifiers
    otherwise than it is hashed."""
    return [(path, f"{_title(root, path)}: {BIDI_MESSAGE}") for path in bidi_control_paths(subject)]


def _field_errors(validator: Draft202012Validator, root: Mapping[str, Any],
                  schedule_pointer: str | None, subject: object, *, schema_valid: bool = False
                  ) -> list[tuple[str, str]]:
    found: dict[str, tuple[int, str]] = {}
    for error in () if schema_valid else validator.iter_errors(subject):
        for path, text, rank in _explain(error):
            if path not in found or rank < found[path][0]:
                found[path] = (rank, f"{_title(root, path)}: {text}")
    if schedule_pointer and not any(p == schedule_pointer or p.startswith(schedule_pointer + "/")
                                    for p in found):
        # JSON Schema cannot compare two fields, so the order of von and bis is checked here
        raw = _lookup(subject, schedule_pointer)
        if raw is not _MISSING:
            for rel, text in schedule.window_problems(raw):
                path = schedule_pointer + rel
                found[path] = (_RANK_OTHER, f"{_title(root, path)}: {text}")
    return [(path, found[path][1]) for path in sorted(found, key=_pointer_order)]


_RANK_MISSING_OR_UNKNOWN, _RANK_TYPE, _RANK_OTHER = 0, 1, 2
_TYPE_WORDS = {
    "string": "Text", "integer": "eine ganze Zahl", "number": "eine Zahl",
    "boolean": "ja oder nein", "array": "eine Liste", "object": "ein Objekt (Gruppe von Angaben)",
    "null": "leer",
}
_FORMAT_WORDS = {
    "date": "muss ein Datum im Format JJJJ-MM-TT sein",
    "date-time": "muss Datum und Uhrzeit mit Zeitzone sein (z. B. 2026-05-01T10:30:00+02:00)",
    "time": "muss eine Uhrzeit sein",
    "email": "muss eine E-Mail-Adresse sein",
}


def _explain(error: SchemaViolation) -> list[tuple[str, str, int]]:
    """(path, German text, rank) for each field an error is about; a lower rank wins per field."""
    path = "".join("/" + escape_token(str(t)) for t in error.absolute_path)
    custom = error.schema.get("errorMessage") if isinstance(error.schema, Mapping) else None
    kind, value, instance = str(error.validator), error.validator_value, error.instance
    if kind == "required" and isinstance(instance, Mapping):
        return [(f"{path}/{escape_token(name)}", custom or "Pflichtfeld fehlt", _RANK_MISSING_OR_UNKNOWN)
                for name in value if name not in instance]
    if kind in ("additionalProperties", "unevaluatedProperties") and isinstance(instance, Mapping):
        schema = error.schema if isinstance(error.schema, Mapping) else {}
        known = schema.get("properties", {})
        patterns = list(schema.get("patternProperties", {}))
        extra = [k for k in instance
                 if k not in known and not any(re.search(p, k) for p in patterns)]
        return [(f"{path}/{escape_token(k)}", custom or "unbekanntes Feld", _RANK_MISSING_OR_UNKNOWN)
                for k in extra]
    if custom:
        return [(path, custom, _RANK_TYPE if kind == "type" else _RANK_OTHER)]
    if kind == "type":
        types = value if isinstance(value, list) else [value]
        words = " oder ".join(_TYPE_WORDS.get(str(t), str(t)) for t in types)
        return [(path, f"muss {words} sein", _RANK_TYPE)]
    return [(path, _generic_text(kind, value), _RANK_OTHER)]


def _generic_text(kind: str, value: Any) -> str:
    if kind == "format":
        return _FORMAT_WORDS.get(value, f"hat nicht das Format {value}")
    if kind == "pattern":
        return "hat nicht das erwartete Format"
    if kind == "minLength":
        return "darf nicht leer sein" if value == 1 else f"muss mindestens {value} Zeichen haben"
    if kind == "maxLength":
        return f"darf höchstens {value} Zeichen haben"
    if kind == "enum":
        return "muss einer dieser Werte sein: " + ", ".join(_shown(v) for v in value)
    if kind == "const":
        return f"muss {_shown(value)} sein"
    if kind == "minimum":
        return f"muss mindestens {value} sein"
    if kind == "maximum":
        return f"darf höchstens {value} sein"
    if kind == "exclusiveMinimum":
        return f"muss größer als {value} sein"
    if kind == "exclusiveMaximum":
        return f"muss kleiner als {value} sein"
    if kind == "minItems":
        return "braucht mindestens einen Eintrag" if value == 1 else \
            f"braucht mindestens {value} Einträge"
    if kind == "maxItems":
        return f"darf höchstens {value} Einträge haben"
    if kind == "uniqueItems":
        return "enthält einen Eintrag doppelt"
    if kind == "multipleOf":
        return f"muss ein Vielfaches von {value} sein"
    return "ist ungültig"


def _shown(value: object) -> str:
    if value is True:
        return "ja"
    if value is False:
        return "nein"
    if isinstance(value, str):
        return f"„{value}“"
    return json.dumps(value, ensure_ascii=False)


def schema_title(root: Mapping[str, Any], path: str) -> str | None:
    """The schema's title for the field at `path` (following $ref), if it has one."""
    node = _schema_at(root, path)
    if node is not None:
        title = node.get("title") or _deref(root, node).get("title")
        if isinstance(title, str):
            return title
    return None


def _title(root: Mapping[str, Any], path: str) -> str:
    """The schema's title for the field at `path`, so a clerk reads the form's label."""
    title = schema_title(root, path)
    if title is not None:
        return title
    tokens = parse_pointer(path)
    return tokens[-1] if tokens else str(root.get("title", "Dokument"))


def _schema_at(root: Mapping[str, Any], pointer: str) -> Mapping[str, Any] | None:
    """The subschema describing the instance at `pointer` (following properties, items, $ref)."""
    node: Mapping[str, Any] = root
    for token in parse_pointer(pointer):
        node = _deref(root, node)
        properties = node.get("properties", {})
        if token in properties:
            node = properties[token]
        elif (token.isdigit() or token == "-") and isinstance(node.get("items"), Mapping):
            node = node["items"]
        else:
            return None
    return node


def _deref(root: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    seen = 0
    while isinstance(node.get("$ref"), str) and seen < 20:
        target = _resolve_ref(root, node["$ref"])
        if target is None:
            return node
        node, seen = target, seen + 1
    return node


def _resolve_ref(root: Mapping[str, Any], ref: str) -> Mapping[str, Any] | None:
    if not ref.startswith("#"):
        return None
    node: Any = root
    for token in parse_pointer(ref[1:]):
        if not isinstance(node, Mapping) or token not in node:
            return None
        node = node[token]
    return node if isinstance(node, Mapping) else None


_MISSING = object()


def _lookup(instance: object, pointer: str) -> Any:
    try:
        return resolve_pointer(instance, pointer)
    except LookupError:
        return _MISSING


def _pointer_order(pointer: str) -> list[tuple[int, int, str]]:
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in parse_pointer(pointer)]


# -- loading ------------------------------------------------------------------------------------

def default_usecases_dir() -> Path:
    """GOVCHAIN_USECASES, else the repository's top-level usecases/ (editable install)."""
    configured = os.environ.get(ENV_USECASES)
    return Path(configured) if configured else Path(__file__).resolve().parents[3] / "usecases"


class UseCaseRegistry:
    """The loaded use cases, by id and by on-chain document type."""

    def __init__(self, usecases: Iterable[UseCase]) -> None:
        self._by_id: dict[str, UseCase] = {}
        self._by_doc_type: dict[bytes, UseCase] = {}
        types: dict[str, str] = {}
        for uc in usecases:
            if uc.id in self._by_id:
                raise ConfigurationError(f"Dokumentart {uc.id!r} ist doppelt vorhanden")
            if uc.credential_type in types:
                # verification recognises a document's use case by its VC type as well
                raise ConfigurationError(
                    f"Dokumentarten {types[uc.credential_type]!r} und {uc.id!r} haben denselben "
                    f"credentialType {uc.credential_type!r}")
            types[uc.credential_type] = uc.id
            self._by_id[uc.id] = uc
            self._by_doc_type[uc.doc_type] = uc

    @classmethod
    def load(cls, directory: Path) -> UseCaseRegistry:
        """Every folder in `directory` (except hidden ones and ones starting with '_')."""
        if not directory.is_dir():
            raise ConfigurationError(f"Ordner der Dokumentarten {directory} fehlt "
                                     f"(anderen Ordner mit {ENV_USECASES} angeben)")
        folders = sorted(p for p in directory.iterdir()
                         if p.is_dir() and not p.name.startswith((".", "_")))
        return cls(load_usecase(folder) for folder in folders)

    def get(self, usecase_id: str) -> UseCase:
        try:
            return self._by_id[usecase_id]
        except KeyError:
            known = ", ".join(self._by_id) or "-"
            raise UnknownUseCaseError(
                f"Unbekannte Dokumentart {usecase_id!r}; bekannt sind: {known} "
                f"(unknown use case {usecase_id!r}; known: {known})") from None

    def all(self) -> list[UseCase]:
        return list(self._by_id.values())

    def by_doc_type(self, doc_type: bytes) -> UseCase | None:
        return self._by_doc_type.get(bytes(doc_type))

    def __contains__(self, usecase_id: object) -> bool:
        return usecase_id in self._by_id

    def __iter__(self) -> Iterator[UseCase]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)


def load_usecase(folder: Path) -> UseCase:
    """Reads and checks one use case folder; ConfigurationError names the offending file."""
    meta_file = folder / "usecase.json"
    meta = _read(meta_file, "usecase")
    if meta["id"] != folder.name:
        raise ConfigurationError(f"{meta_file}: id {meta['id']!r} muss dem Ordnernamen "
                                 f"{folder.name!r} entsprechen")
    default_validity = _timedelta(meta_file, meta["defaultValidity"])

    schema_file = folder / "schema.json"
    schema = _read(schema_file)
    _check_schema(schema_file, schema)
    for key in ("schedule", "codeField"):
        if key in meta and _schema_at(schema, meta[key]) is None:
            raise ConfigurationError(f"{meta_file}: {key} {meta[key]!r} gibt es im Schema nicht")
    never_hidden = _never_hidden(meta_file, meta, schema)

    display_file = folder / "display.json"
    display = _read(display_file, "display")
    _check_display(display_file, display, schema)

    usecase = UseCase(
        id=meta["id"],
        title=meta["title"],
        description=meta["description"],
        credential_type=meta["credentialType"],
        legal_basis=meta["legalBasis"],
        issued_by=meta["issuedBy"],
        default_validity=default_validity,
        schema=schema,
        display=display,
        schedule_pointer=meta.get("schedule"),
        code_pointer=meta.get("codeField"),
        never_hidden=never_hidden,
        submitters=tuple(meta.get("submitters", ("clerk",))),
        declaration=_declaration(meta_file, meta.get("declaration"), schema),
        directory=folder,
        validity_limits=_validity_limits(meta_file, meta.get("validityLimits")),
    )
    examples = tuple(_load_example(f, usecase) for f in _json_files(folder / "examples"))
    presets = {p["ags"]: p for p in (_load_preset(f, usecase)
                                     for f in _json_files(folder / "presets"))}
    return replace(usecase, examples=examples, presets=presets)


def _declaration(path: Path, spec: Mapping[str, Any] | None, schema: Mapping[str, Any]
                 ) -> Declaration | None:
    if spec is None:
        return None
    if _schema_at(schema, spec["declaredBy"]) is None:
        raise ConfigurationError(f"{path}: declaration.declaredBy {spec['declaredBy']!r} gibt es "
                                 "im Schema nicht")
    return Declaration(declared_by=spec["declaredBy"], title=dict(spec["title"]))


def _never_hidden(path: Path, meta: Mapping[str, Any], schema: Mapping[str, Any]
                  ) -> tuple[str, ...]:
    pointers: list[str] = list(meta.get("neverHidden", ()))
    for pointer in pointers:
        node: Mapping[str, Any] = schema
        for token in parse_pointer(pointer):
            node = _deref(schema, node)
            child = node.get("properties", {}).get(token)
            if child is None:
                raise ConfigurationError(f"{path}: neverHidden {pointer!r} gibt es im Schema nicht "
                                         "(nur Felder von Objekten, keine Listenpositionen)")
            if token not in node.get("required", ()):
                # a missing optional field could have been left out or hidden: nobody could tell
                raise ConfigurationError(f"{path}: neverHidden {pointer!r} ist kein Pflichtfeld "
                                         "des Schemas")
            node = child
    schedule_pointer = meta.get("schedule")
    if schedule_pointer and not any(schedule_pointer == p or schedule_pointer.startswith(p + "/")
                                    for p in pointers):
        raise ConfigurationError(f"{path}: neverHidden muss die Zeitfenster ({schedule_pointer}) "
                                 "enthalten: ohne sie lässt sich nicht prüfen, ob die Erlaubnis "
                                 "gilt")
    return tuple(pointers)


def _json_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def _read(path: Path, shape: str | None = None) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigurationError(f"{path}: Datei fehlt") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigurationError(f"{path}: nicht lesbar ({err})") from err
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except ValueError as err:
        raise ConfigurationError(f"{path}: kein gültiges JSON ({err})") from err
    if not isinstance(data, dict):
        raise ConfigurationError(f"{path}: muss ein JSON-Objekt enthalten")
    if shape is not None:
        error = next(iter(sorted(_FILE_VALIDATORS[shape].iter_errors(data),
                                 key=lambda e: list(map(str, e.absolute_path)))), None)
        if error is not None:
            where = "".join("/" + str(t) for t in error.absolute_path) or "/"
            raise ConfigurationError(f"{path}: {where}: {error.message}")
    return data


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"Schlüssel {key!r} doppelt")
        result[key] = value
    return result


def _validity_limits(path: Path, spec: Mapping[str, Any] | None) -> ValidityLimits:
    if not spec:
        return DEFAULT_LIMITS
    durations: dict[str, timedelta] = {}
    for key, attr in (("maxPast", "max_past"), ("maxFuture", "max_future"),
                      ("maxDuration", "max_duration")):
        if key in spec:
            try:
                delta = timedelta(**spec[key])
            except OverflowError:
                delta = timedelta.max
            if not timedelta(0) < delta <= timedelta(days=36525):
                raise ConfigurationError(f"{path}: validityLimits.{key} muss größer als null und "
                                         "höchstens 100 Jahre sein")
            durations[attr] = delta
    first, last = spec.get("dateYears", DEFAULT_LIMITS.date_years)
    if first > last:
        raise ConfigurationError(f"{path}: validityLimits.dateYears: das erste Jahr muss vor "
                                 "dem letzten liegen")
    return replace(DEFAULT_LIMITS, date_years=(first, last), **durations)


def _timedelta(path: Path, spec: Mapping[str, int] | None) -> timedelta | None:
    if spec is None:
        return None
    delta = timedelta(**spec)
    if delta <= timedelta(0):
        raise ConfigurationError(f"{path}: defaultValidity muss größer als null sein")
    return delta


def _check_schema(path: Path, schema: Mapping[str, Any]) -> None:
    if schema.get("$schema", DRAFT_2020_12) != DRAFT_2020_12:
        raise ConfigurationError(f"{path}: $schema muss {DRAFT_2020_12} sein")
    try:
        Draft202012Validator.check_schema(schema)  # its own format checker compiles patterns
    except SchemaError as err:
        where = "".join("/" + str(t) for t in err.absolute_path) or "/"
        raise ConfigurationError(f"{path}: kein gültiges JSON Schema 2020-12: {where}: "
                                 f"{err.message}") from err
    if schema.get("type") != "object":
        raise ConfigurationError(f"{path}: credentialSubject muss \"type\": \"object\" sein")
    for ref in _refs(schema):
        if _resolve_ref(schema, ref) is None:
            raise ConfigurationError(f"{path}: $ref {ref!r} lässt sich nicht auflösen (nur "
                                     "Verweise innerhalb der Datei, z. B. #/$defs/anschrift)")


def _refs(node: object) -> Iterator[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _check_display(path: Path, display: Mapping[str, Any], schema: Mapping[str, Any]) -> None:
    shown = {spec["path"] for section in display["sections"] for spec in section["fields"]}
    for pointer in display["highlight"]:
        if pointer not in shown:  # the label and format of a highlight come from its field
            raise ConfigurationError(f"{path}: highlight {pointer!r} ist kein Feld der sections")
    for section in display["sections"]:
        for spec in section["fields"]:
            node = _schema_at(schema, spec["path"])
            if node is None:
                raise ConfigurationError(f"{path}: Feld {spec['path']!r} gibt es im Schema nicht")
            if "values" in spec:
                node = _deref(schema, node)
                items = node.get("items")
                codes = node.get("enum") or (
                    _deref(schema, items).get("enum") if isinstance(items, Mapping) else None)
                if not codes or set(spec["values"]) != set(codes):
                    raise ConfigurationError(
                        f"{path}: values von {spec['path']!r} müssen genau die Werte des enum "
                        f"benennen ({', '.join(map(str, codes or [])) or 'kein enum'})")


def _load_example(path: Path, usecase: UseCase) -> dict[str, Any]:
    example = _read(path, "example")
    errors = usecase.field_errors(example["subject"])
    if errors:
        raise ConfigurationError(f"{path}: Beispiel passt nicht zum Schema: " + "; ".join(
            f"{p}: {m}" for p, m in errors))
    if "validFrom" in example and "validUntil" in example and datetime.fromisoformat(
            example["validUntil"]) <= datetime.fromisoformat(example["validFrom"]):
        raise ConfigurationError(f"{path}: validUntil muss nach validFrom liegen")
    return example


def _load_preset(path: Path, usecase: UseCase) -> dict[str, Any]:
    preset = _read(path, "preset")
    if preset["ags"] != path.stem:
        raise ConfigurationError(f"{path}: ags {preset['ags']!r} muss dem Dateinamen entsprechen")
    # a preset fills only some top-level fields, so only those must be complete and valid
    partial = {k: v for k, v in usecase.schema.items()
               if k not in ("required", "if", "then", "else", "dependentRequired")}
    validator = Draft202012Validator(partial, format_checker=FORMAT_CHECKER)
    errors = _field_errors(validator, usecase.schema, usecase.schedule_pointer, preset["subject"])
    if errors:
        raise ConfigurationError(f"{path}: Vorgabe passt nicht zum Schema: " + "; ".join(
            f"{p}: {m}" for p, m in errors))
    return preset

"""A use case (document type) as loaded: its schema, display, validity rules, declaration and
fields never hidden, and the field errors of a subject."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator

from govchain.domain import schedule
from govchain.domain.hashing import keccak
from govchain.domain.pointers import escape_token
from govchain.domain.text import BIDI_MESSAGE, bidi_control_paths
from govchain.domain.usecases.files import FORMAT_CHECKER
from govchain.domain.usecases.messages import _RANK_OTHER, _explain, _title, schema_title
from govchain.domain.usecases.schema import _MISSING, _deref, _lookup, _pointer_order, _schema_at
from govchain.errors import ValidationError


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
class Consistency:
    """A rule between two fields of one subject (``consistency`` in usecase.json), checked at
    issuance: ``atMost`` (the number at `value` is at most the number at `other`) or ``noneOf``
    (no text in the list at `value` names one in the list at `other`, ignoring case). `basis`
    says where the rule comes from, for the message."""

    rule: str
    value: str
    other: str
    basis: dict[str, str]

    def errors(self, schema: Mapping[str, Any], subject: object) -> list[tuple[str, str]]:
        value, other = _lookup(subject, self.value), _lookup(subject, self.other)
        if value is _MISSING or other is _MISSING:
            return []  # a missing field is the schema's to report
        basis = self.basis["de"]
        if self.rule == "atMost":
            if (isinstance(value, int | float) and isinstance(other, int | float)
                    and not isinstance(value, bool) and value > other):
                return [(self.value, f"{_title(schema, self.value)}: höchstens {other} "
                                     f"({_title(schema, self.other)}; {basis})")]
            return []
        if not isinstance(value, list) or not isinstance(other, list):
            return []
        forbidden = {o.strip().casefold() for o in other if isinstance(o, str)}
        return [(f"{self.value}/{i}", f"{_title(schema, self.value)}: „{v}“ ist nicht erlaubt "
                                      f"({_title(schema, self.other)}; {basis})")
                for i, v in enumerate(value)
                if isinstance(v, str) and v.strip().casefold() in forbidden]


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
    consistency: tuple[Consistency, ...] = ()
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
        if schema_valid:  # the rules compare fields the schema has checked
            shown += [e for rule in self.consistency for e in rule.errors(self.schema, subject)]
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

"""Use cases (document types) as data: one folder each under ``usecases/``, loaded at run time.

A new folder is a new use case; no code changes. A folder ``<id>/`` holds:

``usecase.json``
    ``id`` (= folder name), ``title``, ``description``, ``legalBasis``, ``issuedBy`` (each
    ``{"de", "en"}``), ``credentialType`` (the VC type, PascalCase), ``defaultValidity``
    (``null`` = until revoked, or e.g. ``{"days": 7}``) and optionally ``schedule`` (JSON Pointer
    to the weekly time windows in the subject), ``codeField`` (JSON Pointer to a short code by
    which a clerk finds the document, e.g. the Zuordnungsmerkmal) and ``submitters`` (who may
    submit the subject: ``"clerk"``, ``"landlord"``; default clerks only).
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

from govchain import schedule
from govchain.documents import escape_token, parse_pointer, resolve_pointer
from govchain.errors import ConfigurationError, UnknownUseCaseError, ValidationError
from govchain.hashing import keccak

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
        "submitters": {"type": "array", "minItems": 1, "uniqueItems": True,
                       "items": {"enum": list(SUBMITTERS)}},
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
    submitters: tuple[str, ...] = ("clerk",)
    presets: dict[str, dict[str, Any]] = field(default_factory=dict)  # by AGS
    directory: Path | None = None
    _validator: Draft202012Validator = field(init=False, repr=False, compare=False)
    _fast_validator: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # compiled once: issuing a batch validates every subject
        object.__setattr__(self, "_validator",
                           Draft202012Validator(self.schema, format_checker=FORMAT_CHECKER))
        # jsonschema-rs answers "valid?" ~100× faster; it is at least as strict on our formats
        # (tests/unit/test_usecases.py), so a subject it accepts is valid, and one it refuses
        # goes to the Python validator, which decides and words the German messages.
        object.__setattr__(self, "_fast_validator",
                           jsonschema_rs.validator_for(self.schema, validate_formats=True))

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
        if schema_valid and not self.schedule_pointer:
            return []
        return _field_errors(self._validator, self.schema, self.schedule_pointer, subject,
                             schema_valid=schema_valid)


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
    return Path(configured) if configured else Path(__file__).resolve().parents[2] / "usecases"


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
        submitters=tuple(meta.get("submitters", ("clerk",))),
        directory=folder,
    )
    examples = tuple(_load_example(f, usecase) for f in _json_files(folder / "examples"))
    presets = {p["ags"]: p for p in (_load_preset(f, usecase)
                                     for f in _json_files(folder / "presets"))}
    return replace(usecase, examples=examples, presets=presets)


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

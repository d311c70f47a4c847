"""Loading the use-case folders (one folder, one use case) with every check of their files, and
the registry of the loaded ones."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from govchain.domain.pointers import parse_pointer
from govchain.domain.usecases.files import _FILE_VALIDATORS, DRAFT_2020_12, FORMAT_CHECKER
from govchain.domain.usecases.model import (
    DEFAULT_LIMITS,
    Consistency,
    Declaration,
    UseCase,
    ValidityLimits,
    _field_errors,
)
from govchain.domain.usecases.schema import _deref, _resolve_ref, _schema_at
from govchain.errors import ConfigurationError, UnknownUseCaseError

ENV_USECASES = "GOVCHAIN_USECASES"


def default_usecases_dir() -> Path:
    """GOVCHAIN_USECASES, else the repository's top-level usecases/ (editable install)."""
    configured = os.environ.get(ENV_USECASES)
    return Path(configured) if configured else Path(__file__).resolve().parents[4] / "usecases"


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
        consistency=_consistency(meta_file, meta.get("consistency", ()), schema),
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


def _consistency(path: Path, rules: Sequence[Mapping[str, Any]], schema: Mapping[str, Any]
                 ) -> tuple[Consistency, ...]:
    """The consistency rules, each naming fields the schema has, of the kinds the rule needs."""
    kinds = {"atMost": (("value", "limit"), ("integer", "number")),
             "noneOf": (("values", "forbidden"), ("array",))}
    loaded = []
    for rule in rules:
        keys, types = kinds[rule["rule"]]
        for key in keys:
            node = _schema_at(schema, rule[key])
            kind = _deref(schema, node).get("type") if node is not None else None
            if kind not in types:
                raise ConfigurationError(f"{path}: consistency {rule['rule']} {key} "
                                         f"{rule[key]!r} muss ein Feld vom Typ "
                                         f"{' oder '.join(types)} im Schema sein")
        loaded.append(Consistency(rule["rule"], rule[keys[0]], rule[keys[1]], rule["basis"]))
    return tuple(loaded)


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
    for pointer in display.get("checker", ()):
        if _schema_at(schema, pointer) is None:
            raise ConfigurationError(f"{path}: checker {pointer!r} gibt es im Schema nicht")
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

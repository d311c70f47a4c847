"""A subject as flat fields named by JSON Pointer, and back: what a posted form, a CSV row or a
prefill holds (``/halter/anschrift/ort`` → value; list rows counted in ``__count__<pointer>``),
turned into the typed credentialSubject the use case's schema describes. Shared by the pages'
forms and the command line's CSV import."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from govchain.domain.pointers import escape_token
from govchain.domain.strictjson import normalize_number
from govchain.domain.timefmt import BERLIN
from govchain.domain.usecases import UseCase
from govchain.domain.usecases.schema import resolve_schema

COUNT_PREFIX = "__count__"
RawForm = dict[str, list[str]]


def schema_type(node: Mapping[str, Any]) -> str:
    kind = node.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind is None:
        if "properties" in node:
            return "object"
        if "items" in node:
            return "array"
        if "enum" in node and all(isinstance(v, bool) for v in node["enum"]):
            return "boolean"
        return "string"
    return str(kind)


def field_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def row_count(raw: RawForm, pointer: str, default: int) -> int:
    counted = (raw.get(COUNT_PREFIX + pointer) or [""])[0]
    return int(counted) if counted.isdigit() and int(counted) <= 1000 else default


def raw_form(items: Iterable[tuple[str, object]]) -> RawForm:
    """The posted text fields (files ignored), by name."""
    raw: RawForm = {}
    for name, value in items:
        if isinstance(value, str):
            raw.setdefault(name, []).append(value)
    return raw


def subject_from_form(usecase: UseCase, raw: RawForm, *, skip: Iterable[str] = ()) -> dict[str, Any]:
    """The credentialSubject the form describes, with JSON types from the schema.

    Empty inputs are left out (so a missing required field is reported as missing), a value that
    cannot be converted is kept as text (so the schema reports the wrong type), empty list rows
    and optional groups left completely empty are dropped.
    """
    root = usecase.schema
    skipped = set(skip)

    def value_of(raw_node: Mapping[str, Any], pointer: str, required: bool) -> Any:
        node = resolve_schema(root, raw_node)
        kind = schema_type(node)
        if kind == "object":
            if not required and _blank(raw, pointer):
                return _EMPTY
            result = {}
            wanted = set(node.get("required", []))
            for name, child in node.get("properties", {}).items():
                child_pointer = f"{pointer}/{escape_token(name)}"
                if child_pointer in skipped:
                    continue
                value = value_of(child, child_pointer, name in wanted)
                if value is not _EMPTY:
                    result[name] = value
            return result if result or required else _EMPTY
        if kind == "array":
            items = resolve_schema(root, node.get("items", {}))
            if "enum" in items and node.get("uniqueItems"):
                chosen = raw.get(pointer, [])
                values = [v for v in items["enum"] if field_text(v) in chosen]
                return values if values or required else _EMPTY
            count = row_count(raw, pointer, default=0)
            rows = [value_of(items, f"{pointer}/{i}", False) for i in range(count)
                    if not _blank(raw, f"{pointer}/{i}")]
            kept = [r for r in rows if r is not _EMPTY and r != {}]
            return kept if kept or required else _EMPTY
        text = (raw.get(pointer) or [""])[0]
        return _scalar(node, kind, text, required)

    subject = value_of(root, "", True)
    return subject if isinstance(subject, dict) else {}


_EMPTY: Any = object()


def _blank(raw: RawForm, pointer: str) -> bool:
    """Nothing typed, chosen or ticked at `pointer` or below (an untouched row or group)."""
    inside = pointer + "/"
    return not any(value.strip() for name, values in raw.items()
                   if name == pointer or name.startswith(inside) for value in values)


def _scalar(node: Mapping[str, Any], kind: str, text: str, required: bool) -> Any:
    if kind == "boolean" and "enum" not in node:
        if required:
            return text in ("true", "on")
        return {"true": True, "false": False}.get(text, _EMPTY)
    value = text.strip()
    if value == "":
        return _EMPTY
    if "enum" in node or "const" in node:
        for candidate in node.get("enum", [node.get("const")]):
            if field_text(candidate) == value:
                return candidate
        return value
    if kind == "integer":
        return int(value) if re.fullmatch(r"[+-]?\d{1,15}", value) else value
    if kind == "number":  # a German decimal comma too; never NaN or infinity
        plain = value.replace(",", ".")
        if not re.fullmatch(r"[+-]?\d{1,15}(\.\d{1,15})?", plain):
            return value
        return normalize_number(float(plain))  # 29 stays 29, as in JSON read from a request
    if node.get("format") == "date-time" and re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?",
                                                          value):
        return datetime.fromisoformat(value).replace(tzinfo=BERLIN).isoformat()
    return value


def raw_from_subject(usecase: UseCase, subject: Mapping[str, Any]) -> RawForm:
    """Prefill values for a form from a (partial) subject, e.g. a municipality's preset."""
    raw: RawForm = {}
    root = usecase.schema

    def walk(raw_node: Mapping[str, Any], value: Any, pointer: str) -> None:
        node = resolve_schema(root, raw_node)
        kind = schema_type(node)
        if kind == "object" and isinstance(value, Mapping):
            for name, child in node.get("properties", {}).items():
                if name in value:
                    walk(child, value[name], f"{pointer}/{escape_token(name)}")
        elif kind == "array" and isinstance(value, list):
            items = resolve_schema(root, node.get("items", {}))
            if "enum" in items and node.get("uniqueItems"):
                raw[pointer] = [field_text(v) for v in value]
                return
            raw[COUNT_PREFIX + pointer] = [str(len(value))]
            for i, item in enumerate(value):
                walk(items, item, f"{pointer}/{i}")
        elif value is not None and not isinstance(value, dict | list):
            raw[pointer] = [field_text(value)]

    walk(root, subject, "")
    return raw

"""German messages for what a subject's schema validation found: named by the field's title, in
words a clerk understands, or the schema's own `errorMessage`."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from jsonschema import ValidationError as SchemaViolation

from govchain.domain.pointers import escape_token, parse_pointer
from govchain.domain.usecases.schema import _deref, _schema_at

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

"""The JSON Schemas of a use-case folder's own files (usecase.json, display.json, examples,
presets), checked when the folder is loaded."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

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
        "consistency": {"type": "array", "items": {"oneOf": [
            {"type": "object", "required": ["rule", "value", "limit", "basis"],
             "additionalProperties": False,
             "properties": {"rule": {"const": "atMost"}, "value": _POINTER, "limit": _POINTER,
                            "basis": _TEXT}},
            {"type": "object", "required": ["rule", "values", "forbidden", "basis"],
             "additionalProperties": False,
             "properties": {"rule": {"const": "noneOf"}, "values": _POINTER,
                            "forbidden": _POINTER, "basis": _TEXT}},
        ]}},
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
        "checker": {"type": "array", "minItems": 1, "uniqueItems": True, "items": _POINTER},
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

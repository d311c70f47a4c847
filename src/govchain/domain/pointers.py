"""JSON Pointers (RFC 6901) into a subject, and walking its leaves: the addresses every field hash,
form input, display rule and hidden field is named by."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from govchain.errors import InputError


def escape_token(token: str) -> str:
    """One JSON Pointer reference token (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def parse_pointer(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise InputError(f"Ungültiger Feldpfad {pointer!r}: muss mit '/' beginnen (JSON Pointer)")
    return [_unescape(t) for t in pointer[1:].split("/")]


def resolve_pointer(instance: Any, pointer: str) -> Any:
    """The value at `pointer` inside `instance`; LookupError if there is none."""
    node = instance
    for token in parse_pointer(pointer):
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise LookupError(pointer)
    return node


def copy_json(value: Any) -> Any:
    """A deep copy of JSON data (dicts, lists, scalars); several times faster than deepcopy."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value


def iter_leaves(value: Any, pointer: str = "") -> list[tuple[str, Any]]:
    """(JSON Pointer, value) of every scalar and every empty list or object, in document order.

    A None inside a list is where a hidden list element stood; it is skipped (a real null value
    inside a list is not allowed by any use case schema).
    """
    out: list[tuple[str, Any]] = []
    _leaves(value, pointer, out)
    return out


def _leaves(value: Any, pointer: str, out: list[tuple[str, Any]]) -> None:
    if isinstance(value, dict):
        if not value:
            out.append((pointer, value))
        for key, child in value.items():
            if "~" in key or "/" in key:
                key = escape_token(key)
            _leaves(child, f"{pointer}/{key}", out)
    elif isinstance(value, list):
        if not value:
            out.append((pointer, value))
        for i, child in enumerate(value):
            if child is not None:
                _leaves(child, f"{pointer}/{i}", out)
    else:
        out.append((pointer, value))


def is_within(pointer: str, other: str) -> bool:
    """Whether `pointer` is `other` or lies below it (a pointer covers everything below it)."""
    return pointer == other or pointer.startswith(other + "/")


def hiding_placeholders(subject: Any, salts: Mapping[str, Any], pointer: str = "") -> list[str]:
    """Pointers of what hiding left in a subject: null list elements (hidden elements) and
    unsalted empty objects (objects whose members were all hidden). They carry no content and
    are never shown; each stands for at least one hidden hash of its own."""
    out: list[str] = []
    _placeholders(subject, salts, pointer, out)
    return out


def _placeholders(value: Any, salts: Mapping[str, Any], pointer: str, out: list[str]) -> None:
    if isinstance(value, dict):
        if not value and pointer not in salts:
            out.append(pointer)
        for key, child in value.items():
            _placeholders(child, salts, f"{pointer}/{escape_token(key)}", out)
    elif isinstance(value, list):
        for i, child in enumerate(value):
            if child is None:
                out.append(f"{pointer}/{i}")
            else:
                _placeholders(child, salts, f"{pointer}/{i}", out)

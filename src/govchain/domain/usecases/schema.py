"""Finding one's way in a use case's JSON Schema, in one place for the checks, the messages, the
forms and the subject fields: the subschema at a JSON Pointer, `$ref` followed (replacing the node,
or merged under its own keys), and the order of fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from govchain.domain.pointers import parse_pointer, resolve_pointer


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



def resolve_schema(root: Mapping[str, Any], node: Mapping[str, Any]) -> dict[str, Any]:
    """`node` with its ``$ref`` (inside the file) followed; its own keys win over the target's."""
    seen = 0
    result = dict(node)
    while isinstance(result.get("$ref"), str) and seen < 20:
        target = _resolve_ref(root, result.pop("$ref"))
        if target is None:
            break
        result = {**target, **result}
        seen += 1
    return result


_MISSING = object()


def _lookup(instance: object, pointer: str) -> Any:
    try:
        return resolve_pointer(instance, pointer)
    except LookupError:
        return _MISSING


def _pointer_order(pointer: str) -> list[tuple[int, int, str]]:
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in parse_pointer(pointer)]

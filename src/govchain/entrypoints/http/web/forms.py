"""Forms generated from a use case's JSON Schema (the posted form becomes a subject in
`govchain.domain.subject_fields`).

Each input is named by the JSON Pointer of its value (``/halter/anschrift/ort``), so a posted form
maps back onto the subject without knowing the use case, and an error the schema validation reports
for a pointer lands next to the input of that pointer. Lists get numbered rows and "add"/"remove"
submit buttons that work without JavaScript; the number of rows travels in ``__count__<pointer>``.

What the generator understands: objects (fieldsets), strings (with ``format`` date, time,
date-time, email; ``maxLength``; long ones as text areas), integers and numbers, booleans
(check box when required, yes/no selection when optional), ``enum`` (selection), lists of
strings, of objects and of enum values (a group of check boxes when ``uniqueItems``), and ``$ref``
inside the schema file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from govchain.domain.pointers import escape_token, parse_pointer
from govchain.domain.subject_fields import COUNT_PREFIX, RawForm, field_text, row_count, schema_type
from govchain.domain.usecases import UseCase
from govchain.domain.usecases.schema import resolve_schema
from govchain.entrypoints.http.web.i18n import Translator

ADD_BUTTON = "__add__"
REMOVE_BUTTON = "__remove__"
TEXTAREA_FROM = 201  # maxLength from which a text gets a text area
DEFAULT_MAX_ROWS = 50
InputKind = Literal["text", "date", "time", "datetime-local", "email", "number", "textarea",
                    "select", "checkbox", "checkboxes"]


@dataclass
class Option:
    value: str
    label: str
    selected: bool


@dataclass
class Input:
    pointer: str
    id: str
    label: str
    kind: InputKind
    required: bool
    value: str = ""
    checked: bool = False
    options: list[Option] = field(default_factory=list)
    help: str | None = None
    error: str | None = None
    maxlength: int | None = None
    minimum: float | None = None
    maximum: float | None = None
    step: str | None = None
    node: str = "input"

    @property
    def name(self) -> str:
        return self.pointer


@dataclass
class Fieldset:
    pointer: str
    id: str
    legend: str
    required: bool
    children: list[Node]
    help: str | None = None
    error: str | None = None
    node: str = "fieldset"


@dataclass
class Row:
    index: int
    content: Node
    remove_label: str
    can_remove: bool


@dataclass
class Repeat:
    pointer: str
    id: str
    legend: str
    required: bool
    rows: list[Row]
    count: int
    can_add: bool
    add_label: str
    help: str | None = None
    error: str | None = None
    node: str = "repeat"

    @property
    def count_name(self) -> str:
        return COUNT_PREFIX + self.pointer


Node = Input | Fieldset | Repeat


@dataclass
class GeneratedForm:
    nodes: list[Node]
    errors: list[tuple[str, str, str]]  # (anchor id, label, message) for the error summary

    def inputs(self) -> Iterable[Input]:
        def walk(nodes: Sequence[Node]) -> Iterable[Input]:
            for n in nodes:
                if isinstance(n, Input):
                    yield n
                elif isinstance(n, Fieldset):
                    yield from walk(n.children)
                else:
                    yield from walk([r.content for r in n.rows])
        return walk(self.nodes)


def html_id(pointer: str) -> str:
    return "f" + re.sub(r"[^A-Za-z0-9_-]", "_", pointer.replace("/", "-"))


def _pattern(pointer: str) -> str:
    """The pointer with list indexes generalised, as display.json names fields."""
    return re.sub(r"/\d+(?=/|$)", "", pointer)


class FieldLabels:
    """Labels from display.json (German and English) and the schema's titles (German)."""

    def __init__(self, usecase: UseCase, t: Translator) -> None:
        self.t = t
        self.display: dict[str, Mapping[str, Any]] = {
            f["path"]: f for s in usecase.display.get("sections", []) for f in s["fields"]}

    def label(self, pointer: str, node: Mapping[str, Any]) -> str:
        spec = self.display.get(_pattern(pointer))
        title = node.get("title")
        if spec is not None and (self.t.lang != "de" or not isinstance(title, str)):
            return self.t.pick(spec.get("label"), str(title or ""))
        if isinstance(title, str):
            return title
        tokens = parse_pointer(pointer)
        return tokens[-1] if tokens else ""

    def help(self, node: Mapping[str, Any]) -> str | None:
        text = node.get("description")
        return text if isinstance(text, str) and self.t.lang == "de" else None

    def value_label(self, pointer: str, value: object) -> str:
        spec = self.display.get(_pattern(pointer))
        if spec is not None and isinstance(spec.get("values"), Mapping):
            texts = spec["values"].get(str(value))
            if texts:
                return self.t.pick(texts, str(value))
        if isinstance(value, bool):
            return self.t("yes" if value else "no")
        key = f"enum.{value}"
        return self.t(key) if self.t.has(key) else str(value)


def build_form(usecase: UseCase, t: Translator, raw: RawForm | None = None,
               errors: Sequence[tuple[str, str]] = (), *, skip: Iterable[str] = ()) -> GeneratedForm:
    """The form for `usecase`, filled with `raw` (what was posted or prefilled) and showing
    `errors` (pointer, message) next to their inputs."""
    builder = _Builder(usecase, t, raw or {}, set(skip))
    nodes = builder.properties(usecase.schema, "")
    summary = builder.place_errors(nodes, errors)
    return GeneratedForm(nodes, summary)


class _Builder:
    def __init__(self, usecase: UseCase, t: Translator, raw: RawForm, skip: set[str]) -> None:
        self.root = usecase.schema
        self.t = t
        self.raw = raw
        self.skip = skip
        self.labels = FieldLabels(usecase, t)

    def properties(self, node: Mapping[str, Any], pointer: str) -> list[Node]:
        required = set(node.get("required", []))
        result: list[Node] = []
        for name, child in node.get("properties", {}).items():
            child_pointer = f"{pointer}/{escape_token(name)}"
            if child_pointer in self.skip:
                continue
            result.append(self.node(child, child_pointer, name in required))
        return result

    def node(self, raw_node: Mapping[str, Any], pointer: str, required: bool) -> Node:
        node = resolve_schema(self.root, raw_node)
        kind = schema_type(node)
        label = self.labels.label(pointer, node)
        help_ = self.labels.help(node)
        if kind == "object":
            return Fieldset(pointer, html_id(pointer), label, required,
                            self.properties(node, pointer), help_)
        if kind == "array":
            items = resolve_schema(self.root, node.get("items", {}))
            if "enum" in items and node.get("uniqueItems"):
                chosen = set(self.raw.get(pointer, []))
                options = [Option(str(v), self.labels.value_label(pointer + "/0", v), str(v) in chosen)
                           for v in items["enum"]]
                return Input(pointer, html_id(pointer), label, "checkboxes", required,
                             options=options, help=help_)
            return self.repeat(node, items, pointer, label, required, help_)
        return self.leaf(node, pointer, label, required, help_)

    def repeat(self, node: Mapping[str, Any], items: Mapping[str, Any], pointer: str, label: str,
               required: bool, help_: str | None) -> Repeat:
        minimum = int(node.get("minItems", 0))
        maximum = int(node.get("maxItems", DEFAULT_MAX_ROWS))
        count = row_count(self.raw, pointer, default=max(minimum, 1))
        item_title = items.get("title") if isinstance(items.get("title"), str) else label
        rows = []
        for i in range(count):
            item_pointer = f"{pointer}/{i}"
            content = self.node(items, item_pointer, True)
            number = self.t("form.row_number", label=item_title, n=i + 1)
            if isinstance(content, Input):
                content.label = number
            else:
                content.legend = number
            rows.append(Row(i, content, self.t("form.remove_row", label=number), count > minimum))
        return Repeat(pointer, html_id(pointer), label, required, rows, count, count < maximum,
                      self.t("form.add_row", label=item_title), help_)

    def leaf(self, node: Mapping[str, Any], pointer: str, label: str, required: bool,
             help_: str | None) -> Input:
        kind = schema_type(node)
        value = (self.raw.get(pointer) or [""])[0]
        item = Input(pointer, html_id(pointer), label, "text", required, value, help=help_)
        if "enum" in node or "const" in node:
            values = node.get("enum", [node.get("const")])
            item.kind = "select"
            item.options = ([] if required and len(values) == 1 else
                            [Option("", self.t("form.choose"), value == "")])
            item.options += [Option(field_text(v), self.labels.value_label(pointer, v),
                                    field_text(v) == value) for v in values]
            if required and len(values) == 1:
                item.options[0].selected = True
        elif kind == "boolean":
            if required:
                item.kind, item.checked = "checkbox", value in ("true", "on")
            else:
                item.kind = "select"
                item.options = [Option(v, text, v == value) for v, text in
                                [("", self.t("form.not_stated")), ("true", self.t("yes")),
                                 ("false", self.t("no"))]]
        elif kind in ("integer", "number"):
            item.kind = "number"
            item.step = "1" if kind == "integer" else "any"
            item.minimum = node.get("minimum")
            item.maximum = node.get("maximum")
        else:
            fmt = node.get("format")
            formats: dict[str, InputKind] = {"date": "date", "time": "time",
                                             "date-time": "datetime-local", "email": "email"}
            item.kind = formats.get(str(fmt), "text")
            max_length = node.get("maxLength")
            item.maxlength = int(max_length) if isinstance(max_length, int) else None
            if item.kind == "text" and (item.maxlength or 0) >= TEXTAREA_FROM:
                item.kind = "textarea"
        return item

    def place_errors(self, nodes: list[Node], errors: Sequence[tuple[str, str]]
                     ) -> list[tuple[str, str, str]]:
        by_pointer: dict[str, Node] = {}

        def index(items: Sequence[Node]) -> None:
            for n in items:
                by_pointer[n.pointer] = n
                if isinstance(n, Fieldset):
                    index(n.children)
                elif isinstance(n, Repeat):
                    index([r.content for r in n.rows])

        index(nodes)
        summary: list[tuple[str, str, str]] = []
        for pointer, message in errors:
            target = pointer
            while target and target not in by_pointer:  # e.g. an error about a hidden list row
                target = target.rsplit("/", 1)[0]
            found = by_pointer.get(target)
            if found is None:
                summary.append(("form-errors", "", message))
                continue
            found.error = f"{found.error} {message}" if found.error else message
            label = found.legend if isinstance(found, Fieldset | Repeat) else found.label
            summary.append((_focus_id(found), label, message))
        return summary


def _focus_id(node: Node) -> str:
    """The id an error summary links to: the input itself, or a group's first input."""
    if isinstance(node, Input):
        return node.id + ("-0" if node.kind == "checkboxes" else "")
    if isinstance(node, Fieldset):
        return _focus_id(node.children[0]) if node.children else node.id
    return _focus_id(node.rows[0].content) if node.rows else node.id + "-add"


def apply_row_buttons(raw: RawForm) -> bool:
    """Applies an "add row"/"remove row" button press to `raw`; True if there was one."""
    added = (raw.pop(ADD_BUTTON, None) or [""])[0]
    removed = (raw.pop(REMOVE_BUTTON, None) or [""])[0]
    if added and added.startswith("/"):
        count = row_count(raw, added, default=0)
        raw[COUNT_PREFIX + added] = [str(count + 1)]
        return True
    if removed and re.fullmatch(r"(/[^/]+)+/\d+", removed):
        array, index = removed.rsplit("/", 1)
        _remove_row(raw, array, int(index))
        return True
    return False


def _remove_row(raw: RawForm, array: str, index: int) -> None:
    count = row_count(raw, array, default=index + 1)
    moved: RawForm = {}
    for name, values in raw.items():
        prefix = COUNT_PREFIX if name.startswith(COUNT_PREFIX) else ""
        pointer = name[len(prefix):]
        if pointer.startswith(array + "/"):
            rest = pointer[len(array) + 1:]
            head, _, tail = rest.partition("/")
            if head.isdigit():
                i = int(head)
                if i == index:
                    continue
                if i > index:
                    name = prefix + f"{array}/{i - 1}" + (f"/{tail}" if tail else "")
        moved[name] = values
    moved[COUNT_PREFIX + array] = [str(max(count - 1, 0))]
    raw.clear()
    raw.update(moved)

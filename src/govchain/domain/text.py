"""Text that other people are shown (names, subject values): refusing the invisible characters
that change the direction in which it is displayed.

A bidirectional control (U+202E RIGHT-TO-LEFT OVERRIDE and its kin, Unicode TR #9) makes
"Stadt Aachen\u202eneb\u202c" read differently from what is stored and hashed; a verifier sees one
text, the ledger and the records hold another. German administrative names never need them, so
they are refused wherever such text enters: subjects at issuance, municipality names at
admission, usernames and display names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from govchain.domain.pointers import escape_token
from govchain.errors import ValidationError

# U+061C ARABIC LETTER MARK, U+200E/U+200F LEFT-TO-RIGHT/RIGHT-TO-LEFT MARK, U+202A–U+202E
# embeddings and overrides, U+2066–U+2069 isolates.
_BIDI_CONTROL = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")

BIDI_MESSAGE = ("enthält unsichtbare Steuerzeichen der Schreibrichtung (z. B. U+202E), die den "
                "angezeigten Text verfälschen können")


def has_bidi_control(text: str) -> bool:
    return _BIDI_CONTROL.search(text) is not None


def bidi_control_paths(value: object) -> list[str]:
    """The JSON Pointers of every string (member name or value) in `value` that holds a
    bidirectional control; iterative, so any nesting depth is safe."""
    found: list[str] = []
    stack: list[tuple[str, object]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if has_bidi_control(item):
                found.append(path)
        elif isinstance(item, Mapping):
            for key, child in item.items():
                child_path = f"{path}/{escape_token(str(key))}"
                if isinstance(key, str) and has_bidi_control(key):
                    found.append(child_path)
                else:
                    stack.append((child_path, child))
        elif isinstance(item, list | tuple):
            stack.extend((f"{path}/{i}", child) for i, child in enumerate(item))
    return found


def check_shown_text(field: str, label: str, text: str) -> None:
    """ValidationError (422) naming `field` (a JSON Pointer) if `text` holds a bidirectional
    control."""
    if has_bidi_control(text):
        raise ValidationError(f"Ungültige Angabe: {label}", [(field, f"{label}: {BIDI_MESSAGE}")])

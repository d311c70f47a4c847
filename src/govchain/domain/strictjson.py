"""JSON from outside, read as I-JSON (RFC 7493) so that RFC 8785 can hash it: bounded nesting,
unique member names, only numbers an IEEE double holds exactly.

Every entry that parses JSON from a user, a file or a request reads it with `loads`. The nesting
depth is measured before parsing, without recursion: an imported library (py_ecc) raises the
interpreter's recursion limit to 100,000, so json's own RecursionError comes only after the C
stack has overflowed, and one deeply nested body would kill the process.
"""

from __future__ import annotations

import json
import math
from array import array
from itertools import accumulate
from typing import Any

from govchain.errors import InputError

MAX_DEPTH = 64  # a document nests about 10 levels; the C stack holds thousands
MAX_SAFE_INT = 2**53 - 1  # RFC 8785 numbers are IEEE doubles

# The parser's depth at any point is the number of brackets open there, whatever their kind:
# +1 for each opening one, -1 (a signed byte) for each closing one, nothing for anything else.
_STEPS = (bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff"), bytes(sorted(set(range(256)) - set(b"[]{}"))))
_CHUNK = 256 * 1024  # bounds the memory of splitting a text of many short strings


class JsonInputError(InputError):
    """Input is not JSON (`malformed`), or not JSON that govchain accepts: too deep, duplicate
    member names, numbers outside RFC 8785."""

    def __init__(self, message: str, *, malformed: bool = False) -> None:
        super().__init__(message)
        self.malformed = malformed


def loads(data: bytes | bytearray | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value of `data` (UTF-8 if bytes). Integral numbers within ±(2**53 - 1) become
    int whatever their spelling (``29.0`` is 29, as RFC 8785 hashes it); JsonInputError for
    anything else that is not I-JSON or nests deeper than `max_depth`."""
    if isinstance(data, str):
        text = data
        raw = data.encode("utf-8", "surrogatepass")
    else:
        raw = bytes(data)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise JsonInputError("Der Inhalt ist kein gültiges JSON (kein UTF-8)",
                                 malformed=True) from None
    check_depth(raw, max_depth)
    try:
        return json.loads(text.removeprefix("\ufeff"), object_pairs_hook=_object,
                          parse_int=_int, parse_float=_float, parse_constant=_constant)
    except json.JSONDecodeError as err:
        raise JsonInputError(f"Der Inhalt ist kein gültiges JSON (Zeile {err.lineno}, "
                             f"Spalte {err.colno}: {err.msg})", malformed=True) from None
    except RecursionError:  # not after check_depth; kept as a second line
        raise JsonInputError(_too_deep(max_depth)) from None


def check_depth(raw: bytes, max_depth: int = MAX_DEPTH) -> None:
    """JsonInputError if parsing the UTF-8 JSON text `raw` would nest arrays and objects deeper
    than `max_depth`. Runs in C (replace, split, translate, accumulate) and never recurses.

    Escaped backslashes, then escaped quotes are removed, so every quote left opens or closes a
    string; the parts inside strings are dropped and of the rest only brackets kept. Unclosed
    brackets count (the parser descends into them before it finds the text cut off); whatever
    follows a syntax error (an unterminated string, a stray closing bracket) is never parsed, so
    how it is counted does not matter.
    """
    unescaped = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    parts: list[bytes] = []
    in_string = False
    for start in range(0, len(unescaped), _CHUNK):
        pieces = unescaped[start:start + _CHUNK].split(b'"')
        parts.append(b"".join(pieces[1 if in_string else 0::2]).translate(*_STEPS))
        in_string ^= len(pieces) % 2 == 0  # an odd number of quotes in the chunk
    steps = b"".join(parts)
    # A run of max_depth + 1 opening brackets is the usual attack, found at once; otherwise the
    # running sum of +1 per "[" and -1 per "]" is the parser's depth (up to the first negative
    # sum, where the parser stops with a syntax error).
    if b"\x01" * (max_depth + 1) in steps or max(accumulate(array("b", steps)), default=0) > max_depth:
        raise JsonInputError(_too_deep(max_depth))


def _too_deep(max_depth: int) -> str:
    return f"Zu tief verschachteltes JSON (höchstens {max_depth} Ebenen)"


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise JsonInputError(f"Doppelter Schlüssel „{_shown(key)}“ im JSON "
                                     "(RFC 8785 verlangt eindeutige Namen)")
            seen.add(key)
    return result


def _shown(text: str, limit: int = 40) -> str:
    """A key as it can be shown in a message: short, control and format characters escaped."""
    shown = json.dumps(text[:limit], ensure_ascii=False)[1:-1]  # control characters escaped
    shown = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in shown)
    return shown + ("…" if len(text) > limit else "")


def normalize_number(value: int | float) -> int | float:
    """`value` as RFC 8785 sees it: an integral value within ±(2**53 - 1) is the same number
    whether written 29 or 29.0, so it is an int; JsonInputError for numbers outside RFC 8785."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INT:
            raise JsonInputError(_out_of_range(str(value)))
        return value
    if not math.isfinite(value):
        raise JsonInputError(_out_of_range(repr(value)))
    if value.is_integer() and abs(value) <= MAX_SAFE_INT:
        return int(value)
    return value


def _int(text: str) -> int | float:
    # 2**53 has 16 digits: longer spellings are out of range without converting them (int() of
    # a very long digit string is slow, and refused beyond 4,300 digits).
    if len(text.lstrip("-")) > 16:
        raise JsonInputError(_out_of_range(text))
    return normalize_number(int(text))


def _float(text: str) -> int | float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonInputError(_out_of_range(text))
    return normalize_number(value)


def _constant(text: str) -> Any:
    raise JsonInputError(f"{text} ist in JSON nicht erlaubt (RFC 8785)")


def _out_of_range(text: str) -> str:
    return f"Zahl {text[:30]} liegt außerhalb des Bereichs von JSON-Zahlen (RFC 8785)"

"""strictjson, the one reader of JSON from outside: nesting measured without recursion, unique
member names, numbers as RFC 8785 hashes them."""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import pytest

from govchain.domain.strictjson import MAX_DEPTH, JsonInputError, loads, normalize_number

TOO_DEEP = "Zu tief verschachteltes JSON"


def arrays(depth: int) -> str:
    return "[" * depth + "]" * depth


def objects(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize("nest", [arrays, objects])
def test_the_depth_limit_is_exact_for_json(nest: object) -> None:
    assert callable(nest)
    loads(nest(MAX_DEPTH))
    loads(nest(MAX_DEPTH), max_depth=MAX_DEPTH)
    with pytest.raises(JsonInputError, match=TOO_DEEP):
        loads(nest(MAX_DEPTH + 1))
    with pytest.raises(JsonInputError, match=TOO_DEEP):
        loads(nest(4), max_depth=3)
    loads(nest(3), max_depth=3)


def test_mixed_brackets_count_as_one_depth() -> None:
    mixed = '[{"a":' * 32 + "1" + "}]" * 32
    assert loads(mixed, max_depth=64)
    with pytest.raises(JsonInputError, match=TOO_DEEP):
        loads(mixed, max_depth=63)


@pytest.mark.parametrize("depth", [100_000, 1_000_000])
@pytest.mark.parametrize("shape", ["arrays", "objects", "unclosed", "siblings", "in a document"])
def test_huge_depths_are_refused_quickly_whatever_the_recursion_limit(depth: int, shape: str
                                                                      ) -> None:
    text = {"arrays": arrays(depth), "objects": objects(depth), "unclosed": "[" * depth,
            # no long run of "[": [[],[[],[[],... opens one level per element
            "siblings": "[[]," * depth + "1" + "]" * depth,
            "in a document": json.dumps({"credentialSubject": {"x": "DEEP"}}).replace(
                '"DEEP"', arrays(depth))}[shape]
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(10**7)  # what an imported library may do; the check must not care
    try:
        start = time.monotonic()
        with pytest.raises(JsonInputError, match=TOO_DEEP):
            loads(text)
        with pytest.raises(JsonInputError, match=TOO_DEEP):
            loads(text.encode())
        assert time.monotonic() - start < 10
    finally:
        sys.setrecursionlimit(before)


@pytest.mark.parametrize("text", [
    '["[[[[[[[[[[", "{{{{{{{{"]',
    '{"a": "\\"[[[[[[[[[", "b": "\\\\"}',
    '["\\\\\\"[[[[[[[[[[", "]]]]]]]]]]]]"]',
    '{"[[[[[[[[[[": 1}',
    '["\\u005b\\u005b\\u005b\\u005b\\u005b"]',
])
def test_brackets_inside_strings_do_not_count(text: str) -> None:
    assert loads(text, max_depth=2) == json.loads(text)


def test_closing_brackets_inside_strings_do_not_hide_real_depth() -> None:
    # "]]]]" in a string must not cancel the real brackets around it
    text = "[" * 5 + '"]]]]]]]]]]"' + "]" * 5
    with pytest.raises(JsonInputError, match=TOO_DEEP):
        loads(text, max_depth=4)
    text = "[" * 5 + '"\\\\",' + "[" * 5 + "]" * 10  # an escaped backslash ends no string
    with pytest.raises(JsonInputError, match=TOO_DEEP):
        loads(text, max_depth=9)
    assert loads(text, max_depth=10)


@pytest.mark.parametrize("text", ["[[]", "[1}", '{"a": [1}', "]", "[1]]", '"abc', '["a\\"]',
                                  "", "   ", "{'a': 1}", '{"a" 1}'])
def test_unbalanced_or_malformed_text_is_refused_as_malformed(text: str) -> None:
    with pytest.raises(JsonInputError, match="kein gültiges JSON") as caught:
        loads(text)
    assert caught.value.malformed


def test_unclosed_deep_text_is_too_deep_not_just_malformed() -> None:
    with pytest.raises(JsonInputError, match=TOO_DEEP) as caught:
        loads('{"a": ' + "[" * 65)
    assert not caught.value.malformed


def test_an_unterminated_string_takes_linear_time() -> None:
    start = time.monotonic()
    with pytest.raises(JsonInputError, match="kein gültiges JSON"):
        loads('"' + '\\"[' * 1_000_000)
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("text, key", [
    ('{"a": 1, "a": 2}', "a"),
    ('{"a": 1, "a": 1}', "a"),  # the same value twice is still two members
    ('{"x": {"y": [{"k": 1, "z": 0, "k": 2}]}}', "k"),
    ('[1, {"ü": 1, "\\u00fc": 2}]', "ü"),  # the same name, escaped once
])
def test_duplicate_member_names_are_refused_at_any_level(text: str, key: str) -> None:
    with pytest.raises(JsonInputError, match=f"Doppelter Schlüssel „{key}“"):
        loads(text)


def test_a_duplicate_name_is_shown_harmlessly() -> None:
    with pytest.raises(JsonInputError) as caught:
        loads(json.dumps({"x": 1}).replace("}", ', "\\u202eevil\\n' + "z" * 100 + '": 1, "\\u202eevil\\n'
                                           + "z" * 100 + '": 2}'))
    message = str(caught.value)
    assert "\u202e" not in message and "\n" not in message and "…" in message
    assert len(message) < 150


def test_different_names_are_kept() -> None:
    assert loads('{"a": 1, "A": 2, "a ": 3}') == {"a": 1, "A": 2, "a ": 3}


@pytest.mark.parametrize("text, value", [
    ("29.0", 29), ("-0.0", 0), ("2.9e1", 29), ("1E2", 100), ("9007199254740991", 2**53 - 1),
    ("-9007199254740991", -(2**53 - 1)), ("9007199254740991.0", 2**53 - 1),
    ("0.5", 0.5), ("1e300", 1e300), ("29", 29),
])
def test_numbers_are_read_as_rfc8785_hashes_them(text: str, value: int | float) -> None:
    parsed = loads(f'{{"n": {text}}}')["n"]
    assert parsed == value and type(parsed) is type(value)


def test_integral_floats_become_int_inside_documents() -> None:
    parsed = loads('{"alter": 29.0, "liste": [1.0, 2.5]}')
    assert parsed == {"alter": 29, "liste": [1, 2.5]}
    assert json.dumps(parsed) == '{"alter": 29, "liste": [1, 2.5]}'


@pytest.mark.parametrize("text", ["9007199254740992", "-9007199254740992", "1" * 5000, "1e400",
                                  "-1e400", "NaN", "Infinity", "-Infinity"])
def test_numbers_outside_rfc8785_are_refused(text: str) -> None:
    with pytest.raises(JsonInputError, match="RFC 8785"):
        loads(f"[{text}]")


def test_normalize_number() -> None:
    assert normalize_number(29.0) == 29 and type(normalize_number(29.0)) is int
    assert normalize_number(True) is True
    assert normalize_number(0.25) == 0.25
    with pytest.raises(JsonInputError):
        normalize_number(2**53)
    with pytest.raises(JsonInputError):
        normalize_number(float("nan"))


def test_bytes_must_be_utf8_and_a_bom_is_allowed() -> None:
    assert loads('{"name": "Jürgen"}'.encode()) == {"name": "Jürgen"}
    assert loads(b"\xef\xbb\xbf[1]") == [1]
    assert loads("\ufeff[1]") == [1]
    with pytest.raises(JsonInputError, match="UTF-8") as caught:
        loads('{"name": "Jürgen"}'.encode("latin-1"))
    assert caught.value.malformed
    with pytest.raises(JsonInputError, match="UTF-8"):
        loads('["x"]'.encode("utf-16"))


def test_lone_surrogates_in_text_are_read_as_json_reads_them() -> None:
    assert loads('["\\ud800"]') == ["\ud800"]
    assert loads('["\ud800"]') == ["\ud800"]


# What the entrypoints may still read with json itself: their own trusted files and values.
TRUSTED_READS = {
    "http/tokens.py",  # a login token's claims, read only after its HMAC matched
    "http/web/i18n.py",  # the pages' own locale files
}


def test_entrypoints_read_outside_json_only_with_strictjson() -> None:
    package = Path(__file__).resolve().parents[2] / "src" / "govchain" / "entrypoints"
    entrypoints = list(package.glob("**/*.py"))
    assert len(entrypoints) > 20
    offenders = [str(path.relative_to(package)) for path in entrypoints
                 if re.search(r"\bjson\.loads?\(", path.read_text())
                 and str(path.relative_to(package)) not in TRUSTED_READS]
    assert offenders == [], "read JSON from outside with govchain.domain.strictjson.loads"

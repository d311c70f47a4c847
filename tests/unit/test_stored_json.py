"""Stored JSON (db.engine.json_text): orjson where it can, the json module else; what is stored
reads back as what the json module would have stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from govchain.adapters.db.engine import json_text

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)


def _json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@given(json_values)
def test_stored_json_reads_back_as_what_the_json_module_stores(value: Any) -> None:
    try:
        expected = json.loads(_json_dumps(value))
    except UnicodeEncodeError:
        return
    text = json_text(value)
    assert json.loads(text) == expected


def test_umlauts_are_stored_readable_and_compact() -> None:
    assert json_text({"name": "Jürgen Müßig", "n": [1, 2]}) == '{"name":"Jürgen Müßig","n":[1,2]}'


def test_what_orjson_refuses_takes_the_json_module_way() -> None:
    big = {"n": 2**80, "s": "\ud800"}  # an integer beyond 64 bits, a lone surrogate
    assert json_text({"n": 2**80}) == '{"n":1208925819614629174706176}'
    assert json_text(big) == _json_dumps(big)


def test_values_json_cannot_store_are_refused_as_before() -> None:
    for value in ({"at": datetime(2026, 1, 1, tzinfo=UTC)}, {"x": object()}):
        with pytest.raises(TypeError):
            json_text(value)

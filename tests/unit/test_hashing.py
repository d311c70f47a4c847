"""The hashing hot path: the fast leaf serialisation must give exactly the RFC 8785 bytes."""

from __future__ import annotations

from typing import Any

import rfc8785
from eth_hash.auto import keccak as reference_keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from govchain.domain.hashing import canonical_json, keccak, leaf_json
from govchain.errors import InputError

scalars = st.one_of(
    st.text(),  # any code point, control characters and non-BMP included
    st.booleans(),
    st.none(),
    st.integers(),  # beyond 2**53 too: those take the general path
    st.floats(allow_nan=False, allow_infinity=False),
)


def _outcome(fn: Any, *args: Any) -> object:
    """The bytes a serialiser returns, or "refused" (rfc8785 refuses lone surrogates and
    integers beyond 2**53 with its own errors, govchain with InputError; both must refuse)."""
    try:
        return fn(*args)
    except (rfc8785.CanonicalizationError, InputError):
        return "refused"


@settings(max_examples=500)
@given(pointer=st.text(), salt=st.text(), value=scalars)
def test_leaf_json_is_rfc8785(pointer: str, salt: str, value: Any) -> None:
    assert _outcome(leaf_json, pointer, salt, value) == _outcome(
        canonical_json, {"path": pointer, "salt": salt, "value": value})


@given(value=st.recursive(scalars, lambda c: st.lists(c, max_size=3)
                          | st.dictionaries(st.text(), c, max_size=3), max_leaves=8))
def test_leaf_json_of_containers_is_rfc8785(value: Any) -> None:
    assert _outcome(leaf_json, "/a", "00", value) == _outcome(
        canonical_json, {"path": "/a", "salt": "00", "value": value})


json_values = st.recursive(
    scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(), c, max_size=4),
    max_leaves=20)


@settings(max_examples=400)
@given(value=json_values)
def test_canonical_json_fast_path_is_rfc8785(value: Any) -> None:
    assert _outcome(canonical_json, value) == _outcome(rfc8785.dumps, value)


def test_keys_are_sorted_by_utf16_code_units_as_jcs_says() -> None:
    value = {"\U0001f600": 1, "\ufb01": 2, "a": 3, "ä": 4}  # astral sorts before U+FB01 in UTF-16
    assert canonical_json(value) == rfc8785.dumps(value)
    assert canonical_json(value).index("😀".encode()) < canonical_json(value).index("ﬁ".encode())


def test_lone_surrogates_and_unsafe_integers_are_refused_like_rfc8785() -> None:
    for value in ("\ud800", 2 ** 53, -(2 ** 60)):
        assert _outcome(leaf_json, "/a", "00", value) == "refused"
        assert _outcome(rfc8785.dumps, {"path": "/a", "salt": "00", "value": value}) == "refused"


@given(st.binary(max_size=300))
def test_keccak_matches_the_ethereum_reference(data: bytes) -> None:
    assert keccak(data) == reference_keccak(data)


def test_keccak_known_value() -> None:
    assert keccak(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"


ascii_keyed = st.recursive(
    scalars, lambda c: st.lists(c, max_size=4)
    | st.dictionaries(st.text(st.characters(max_codepoint=127)), c, max_size=4),
    max_leaves=20)


@settings(max_examples=400)
@given(value=ascii_keyed)
def test_canonical_json_of_ascii_keys_is_rfc8785(value: Any) -> None:
    # ASCII keys take the json module's C encoder (after the check that nothing else is in)
    assert _outcome(canonical_json, value) == _outcome(rfc8785.dumps, value)


@given(envelope=st.dictionaries(st.text(), st.text(), max_size=4),
       hashes=st.lists(st.binary(min_size=32, max_size=32), max_size=30))
def test_target_hash_is_keccak_of_the_jcs_it_describes(envelope: dict[str, str],
                                                       hashes: list[bytes]) -> None:
    from govchain.domain.documents import target_hash_of
    from govchain.domain.hashing import to_hex

    expected = reference_keccak(rfc8785.dumps({
        "envelope": to_hex(reference_keccak(rfc8785.dumps(envelope))),
        "fields": sorted(to_hex(h) for h in hashes)}))
    assert target_hash_of(envelope, hashes) == expected

"""Token Status List (draft-ietf-oauth-status-list): the draft's own examples, round trips, and
lists that must not be read (malformed, or inflating beyond the limit)."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from govchain.domain import token_status_list as tsl
from govchain.domain.jose import b64url_encode
from govchain.domain.token_status_list import StatusListError
from govchain.errors import InputError

# The draft's examples (section 4.1 / 4.2): statuses, byte array, "lst".
ONE_BIT = [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1]
ONE_BIT_BYTES = bytes([0xB9, 0xA3])
ONE_BIT_LST = "eNrbuRgAAhcBXQ"
TWO_BIT = [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3]
TWO_BIT_BYTES = bytes([0xC9, 0x44, 0xF9])
TWO_BIT_LST = "eNo76fITAAPfAgc"


def test_constants() -> None:
    assert (tsl.VALID, tsl.INVALID, tsl.SUSPENDED, tsl.BITS) == (0, 1, 2, 2)
    assert issubclass(StatusListError, InputError)


@pytest.mark.parametrize(("statuses", "bits", "packed", "lst"), [
    (ONE_BIT, 1, ONE_BIT_BYTES, ONE_BIT_LST),
    (TWO_BIT, 2, TWO_BIT_BYTES, TWO_BIT_LST),
])
def test_the_drafts_examples(statuses: list[int], bits: int, packed: bytes, lst: str) -> None:
    assert tsl.pack(statuses, len(statuses), bits) == packed
    assert tsl.pack(dict(enumerate(statuses)), len(statuses), bits) == packed
    assert tsl.encode_list(packed) == lst  # zlib level 9, as the draft's examples were made
    assert tsl.decode_list(lst) == packed
    assert [tsl.get_status(packed, i, bits) for i in range(len(statuses))] == statuses
    assert tsl.status_list_claim(packed, bits) == {"bits": bits, "lst": lst}
    assert tsl.read_status_list_claim({"bits": bits, "lst": lst}) == (bits, packed)


def test_index_zero_is_in_the_lowest_bits_of_byte_zero() -> None:
    assert tsl.pack({0: tsl.INVALID}, 4) == b"\x01"
    assert tsl.pack({0: tsl.SUSPENDED}, 4) == b"\x02"
    assert tsl.pack({3: tsl.INVALID}, 4) == b"\x40"
    assert tsl.pack({4: 3}, 5) == b"\x00\x03"
    assert tsl.pack({}, 5) == b"\x00\x00"
    assert tsl.pack({1: 0xAB}, 2, bits=8) == b"\x00\xab"
    assert tsl.pack({1: 0xA}, 2, bits=4) == b"\xa0"


def test_set_status_overwrites_only_its_bits() -> None:
    buf = bytearray(b"\xff\xff")
    tsl.set_status(buf, 2, tsl.VALID)
    assert buf == bytearray(b"\xcf\xff")
    tsl.set_status(buf, 2, tsl.SUSPENDED)
    assert buf == bytearray(b"\xef\xff")
    assert tsl.get_status(buf, 2) == tsl.SUSPENDED and tsl.get_status(buf, 7) == 3


@given(st.sampled_from(tsl.ALLOWED_BITS), st.data())
def test_round_trip(bits: int, data: st.DataObject) -> None:
    statuses = data.draw(st.lists(st.integers(0, (1 << bits) - 1), min_size=1, max_size=300))
    packed = tsl.pack(statuses, len(statuses), bits)
    assert len(packed) == -(-len(statuses) * bits // 8)
    decoded = tsl.decode_list(tsl.encode_list(packed))
    assert decoded == packed
    assert [tsl.get_status(decoded, i, bits) for i in range(len(statuses))] == statuses
    buf = bytearray(len(packed))
    for i, value in enumerate(statuses):
        tsl.set_status(buf, i, value, bits)
    assert bytes(buf) == packed


def test_a_zlib_bomb_is_refused() -> None:
    bomb = b64url_encode(zlib.compress(bytes(64 * 1024 * 1024), 9))
    assert len(bomb) < 100_000
    with pytest.raises(StatusListError, match="größer als"):
        tsl.decode_list(bomb)
    with pytest.raises(StatusListError, match="größer als 1000 Bytes"):
        tsl.decode_list(b64url_encode(zlib.compress(bytes(1001))), max_bytes=1000)
    assert tsl.decode_list(b64url_encode(zlib.compress(bytes(1000))), max_bytes=1000) == bytes(1000)


@pytest.mark.parametrize(("lst", "message"), [
    (TWO_BIT_LST + "=", "base64url"),
    (TWO_BIT_LST.replace("_", "/") + "/", "base64url"),
    (b64url_encode(b"not zlib at all"), "keine gültigen ZLIB-Daten"),
    (b64url_encode(zlib.compress(TWO_BIT_BYTES)[:-3]), "unvollständige"),
    (b64url_encode(zlib.compress(TWO_BIT_BYTES) + b"\0"), "überzählige"),
    (b64url_encode(zlib.compress(b"")), "leer"),
    # raw DEFLATE and GZIP framing are not the ZLIB format the draft asks for
    (b64url_encode(zlib.compress(TWO_BIT_BYTES, wbits=-15)), "ZLIB"),
    (b64url_encode(zlib.compress(TWO_BIT_BYTES, wbits=31)), "ZLIB"),
])
def test_malformed_lists_are_refused(lst: str, message: str) -> None:
    with pytest.raises(StatusListError, match=message):
        tsl.decode_list(lst)


@pytest.mark.parametrize("claim", [
    None, [], {"bits": 3, "lst": TWO_BIT_LST}, {"bits": True, "lst": ONE_BIT_LST},
    {"bits": "2", "lst": TWO_BIT_LST}, {"bits": 2}, {"bits": 2, "lst": 5},
])
def test_malformed_claims_are_refused(claim: object) -> None:
    with pytest.raises(StatusListError):
        tsl.read_status_list_claim(claim)


def test_indexes_outside_the_list() -> None:
    with pytest.raises(StatusListError):
        tsl.get_status(TWO_BIT_BYTES, 12)
    with pytest.raises(StatusListError):
        tsl.get_status(TWO_BIT_BYTES, -1)
    with pytest.raises(StatusListError):
        tsl.get_status(TWO_BIT_BYTES, True)
    with pytest.raises(IndexError):
        tsl.set_status(bytearray(1), 4, 1)
    with pytest.raises(IndexError):
        tsl.pack({5: 1}, 5)
    with pytest.raises(IndexError):
        tsl.pack([0] * 6, 5)


def test_values_and_widths_that_do_not_fit() -> None:
    with pytest.raises(ValueError, match="2 Bit"):
        tsl.set_status(bytearray(1), 0, 4)
    with pytest.raises(ValueError, match="2 Bit"):
        tsl.pack({0: -1}, 1)
    with pytest.raises(ValueError, match="bits"):
        tsl.pack([1], 1, bits=3)
    with pytest.raises(ValueError, match="bits"):
        tsl.get_status(b"\0", 0, bits=16)

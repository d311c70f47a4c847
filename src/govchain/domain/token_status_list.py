"""IETF Token Status List (draft-ietf-oauth-status-list): the status list SD-JWT VCs point to
with ``status.status_list`` (``idx``, ``uri``), as bytes and as the ``status_list`` claim.

Each Referenced Token has ``bits`` bits at index ``idx``: bit offset ``idx * bits`` of the byte
array, counted from the least significant bit of byte 0 — the reverse of the W3C Bitstring
Status List (data_integrity), which starts with the most significant bit. govchain uses two
bits: VALID, INVALID (revoked) and SUSPENDED in one list. The list travels DEFLATE-compressed
in ZLIB format and base64url-encoded (``lst``); reading it inflates at most ``max_bytes``, so a
small crafted list cannot exhaust memory.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from typing import Any, Final

from govchain.domain.compression import ZLIB, inflate
from govchain.domain.jose import b64url_decode, b64url_encode
from govchain.errors import InputError

VALID: Final = 0
INVALID: Final = 1
SUSPENDED: Final = 2
BITS: Final = 2
ALLOWED_BITS: Final = (1, 2, 4, 8)
MAX_LIST_BYTES: Final = 16 * 1024 * 1024  # what decoding inflates at most (zlib bombs)


class StatusListError(InputError):
    """A status list (or an index into one) read from outside is malformed or out of range."""


def _check_bits(bits: int) -> None:
    if bits not in ALLOWED_BITS:
        raise ValueError(f"bits muss 1, 2, 4 oder 8 sein, nicht {bits!r}")


def _position(idx: int, bits: int) -> tuple[int, int]:
    """Byte and bit shift of index ``idx``."""
    offset = idx * bits
    return offset // 8, offset % 8


def capacity(packed: bytes | bytearray, bits: int = BITS) -> int:
    """How many statuses the byte array holds."""
    _check_bits(bits)
    return len(packed) * 8 // bits


def set_status(buf: bytearray, idx: int, value: int, bits: int = BITS) -> None:
    """Sets the status of index ``idx``; IndexError or ValueError for what does not fit."""
    _check_bits(bits)
    if isinstance(idx, bool) or not 0 <= idx < capacity(buf, bits):
        raise IndexError(f"Statusindex {idx} außerhalb der Liste (0…{capacity(buf, bits) - 1})")
    if isinstance(value, bool) or not 0 <= value < 1 << bits:
        raise ValueError(f"Status {value!r} passt nicht in {bits} Bit")
    byte, shift = _position(idx, bits)
    mask = ((1 << bits) - 1) << shift
    buf[byte] = (buf[byte] & ~mask & 0xFF) | (value << shift)


def get_status(packed: bytes | bytearray, idx: int, bits: int = BITS) -> int:
    """The status of index ``idx``; StatusListError for an index the list does not hold (it
    comes from a token, so from outside)."""
    _check_bits(bits)
    if not isinstance(idx, int) or isinstance(idx, bool) or not 0 <= idx < capacity(packed, bits):
        raise StatusListError(f"Statusindex {idx!r} liegt außerhalb der Statusliste")
    byte, shift = _position(idx, bits)
    return (packed[byte] >> shift) & ((1 << bits) - 1)


def pack(statuses: Mapping[int, int] | Iterable[int], size: int, bits: int = BITS) -> bytes:
    """The byte array of a list of ``size`` statuses: from index → status (missing ones are
    VALID) or from the statuses of index 0, 1, …"""
    _check_bits(bits)
    if size < 0:
        raise ValueError("size darf nicht negativ sein")
    buf = bytearray(-(-size * bits // 8))
    items = statuses.items() if isinstance(statuses, Mapping) else enumerate(statuses)
    for idx, value in items:
        if not 0 <= idx < size:
            raise IndexError(f"Statusindex {idx} außerhalb der Liste (0…{size - 1})")
        set_status(buf, idx, value, bits)
    return bytes(buf)


def encode_list(packed: bytes | bytearray) -> str:
    """``lst``: base64url of the ZLIB-compressed (DEFLATE, level 9) byte array. Deterministic,
    so a hash of it can be an ETag."""
    return b64url_encode(zlib.compress(bytes(packed), 9))


def decode_list(lst: str, *, max_bytes: int = MAX_LIST_BYTES) -> bytes:
    """Inverse of :func:`encode_list`; StatusListError for anything malformed, empty or
    inflating to more than ``max_bytes``."""
    try:
        compressed = b64url_decode(lst, "Statusliste (lst)")
    except InputError as err:
        raise StatusListError(str(err)) from err
    try:  # ZLIB framing, as the draft asks
        packed = inflate(compressed, wbits=ZLIB, max_bytes=max_bytes, what="Statusliste (lst)")
    except InputError as err:
        raise StatusListError(str(err)) from err
    if not packed:
        raise StatusListError("Statusliste (lst) ist leer")
    return packed


def status_list_claim(packed: bytes | bytearray, bits: int = BITS) -> dict[str, Any]:
    """The ``status_list`` claim of a Status List Token."""
    _check_bits(bits)
    return {"bits": bits, "lst": encode_list(packed)}


def read_status_list_claim(claim: object, *,
                           max_bytes: int = MAX_LIST_BYTES) -> tuple[int, bytes]:
    """``bits`` and the byte array of a ``status_list`` claim from outside; StatusListError
    for anything malformed."""
    if not isinstance(claim, Mapping):
        raise StatusListError("status_list ist kein JSON-Objekt")
    bits = claim.get("bits")
    if isinstance(bits, bool) or bits not in ALLOWED_BITS:
        raise StatusListError("status_list: bits muss 1, 2, 4 oder 8 sein")
    return bits, decode_list(claim.get("lst", ""), max_bytes=max_bytes)

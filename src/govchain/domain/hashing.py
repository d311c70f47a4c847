"""Hash primitives shared by documents, Merkle trees and the contracts: keccak-256 and RFC 8785 JSON."""

from __future__ import annotations

import json
import json.encoder
from typing import Any, Final, NewType

import rfc8785
from sha3 import keccak_256

from govchain.errors import InputError

Hash32 = NewType("Hash32", bytes)


def keccak(data: bytes) -> Hash32:
    # safe-pysha3 (C): ~1.8 µs per short input; eth_hash over pycryptodome took ~8 µs.
    return Hash32(keccak_256(data).digest())


_MAX_SAFE_INT: Final = 2 ** 53 - 1
_dumps_str = json.encoder.encode_basestring  # the C function behind ensure_ascii=False


def _scalar_json(value: Any) -> bytes | None:
    """RFC 8785 bytes of a string, bool, None or safe integer, or None for anything else.

    For these values JCS and Python's json module agree (strings: the same short escapes, other
    control characters as lowercase \\u00xx, everything else as UTF-8); floats, big integers
    and containers go through rfc8785. tests/unit/test_hashing.py checks the agreement.
    """
    if type(value) is str:
        try:
            return _dumps_str(value).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: let rfc8785 refuse it
            return None
    if value is True:
        return b"true"
    if value is False:
        return b"false"
    if value is None:
        return b"null"
    if type(value) is int and -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:
        return str(value).encode("ascii")
    return None


def leaf_json(pointer: str, salt: str, value: Any) -> bytes:
    """RFC 8785 of {"path": pointer, "salt": salt, "value": value}: the bytes a field hash
    covers, built without the general serialiser on the hot path of issuing and verifying."""
    path = _scalar_json(pointer)
    salt_json = _scalar_json(salt)
    value_json = _scalar_json(value)
    if path is None or salt_json is None or value_json is None:
        return canonical_json({"path": pointer, "salt": salt, "value": value})
    return b'{"path":' + path + b',"salt":' + salt_json + b',"value":' + value_json + b"}"


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JCS) serialisation: one byte string per JSON value, keys sorted, numbers normalised."""
    try:
        if _plain(value):
            try:
                return _PLAIN_ENCODER.encode(value).encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate: rfc8785 refuses it below
                pass
        return rfc8785.dumps(value)  # floats, big integers, non-ASCII keys: the general way
    except rfc8785.CanonicalizationError as err:  # 2**53 and beyond, NaN, lone surrogates...
        raise InputError(f"Kein kanonisierbares JSON (RFC 8785): {err}") from err
    except RecursionError as err:
        raise InputError("Zu tief verschachteltes JSON") from err


# For JSON of strings, booleans, null, safe integers and ASCII keys, the json module's C encoder
# writes exactly the JCS bytes: the same string escapes as _scalar_json, and ASCII keys sort the
# same by code point as by UTF-16 code unit. _plain checks that a value is of that kind.
_PLAIN_ENCODER: Final = json.JSONEncoder(ensure_ascii=False, sort_keys=True,
                                         separators=(",", ":"), check_circular=False,
                                         allow_nan=False)


def _plain(value: Any) -> bool:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is dict:
        for key, child in value.items():
            if type(key) is not str or not key.isascii() or not _plain(child):
                return False
        return True
    if kind is list or kind is tuple:
        return all(_plain(child) for child in value)
    return kind is int and -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT


def to_hex(value: bytes) -> str:
    return "0x" + value.hex()


def from_hex32(text: object) -> Hash32:
    """Parses a 0x-prefixed 32-byte hex string; raises ValueError for anything else."""
    if not isinstance(text, str) or len(text) != 66 or not text.startswith("0x"):
        raise ValueError(f"not a 32-byte hex string: {text!r:.80}")
    return Hash32(bytes.fromhex(text[2:]))

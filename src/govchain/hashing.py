"""Hash primitives shared by documents, Merkle trees and the contracts: keccak-256 and RFC 8785 JSON."""

from __future__ import annotations

from typing import Any, NewType

import rfc8785
from eth_hash.auto import keccak as _keccak

Hash32 = NewType("Hash32", bytes)


def keccak(data: bytes) -> Hash32:
    return Hash32(_keccak(data))


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JCS) serialisation: one byte string per JSON value, keys sorted, numbers normalised."""
    return rfc8785.dumps(value)


def to_hex(value: bytes) -> str:
    return "0x" + value.hex()


def from_hex32(text: object) -> Hash32:
    """Parses a 0x-prefixed 32-byte hex string; raises ValueError for anything else."""
    if not isinstance(text, str) or len(text) != 66 or not text.startswith("0x"):
        raise ValueError(f"not a 32-byte hex string: {text!r:.80}")
    return Hash32(bytes.fromhex(text[2:]))

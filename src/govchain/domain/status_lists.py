"""Bitstring Status Lists (W3C): where each document's two status bits live, as data.

Every document issued with status lists gets one position, the same in two lists of its
municipality: ``/status/{ags}/revocation-{n}`` and ``/status/{ags}/suspension-{n}``. Positions
leak nothing about the order of issuance: the n-th document of a municipality gets position
P(n) of list n // LIST_SIZE, where P is a keyed pseudorandom permutation of [0, LIST_SIZE) (a
Feistel network over 18 bits with keyed BLAKE2s rounds and cycle walking; the key is drawn once
per municipality and kept in the database). Allocation is then a counter increment, never a
collision, never a retry.

The lists are a view of the ledger: the service sets a bit where the ledger's status index says
the document is revoked or suspended (services.credentials). The ledger's own entry stays first
in ``credentialStatus`` and is what govchain's verification follows.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from govchain.errors import InputError

LIST_SIZE = 131_072  # bits per list: the minimum the specification asks for herd privacy
PURPOSES = ("revocation", "suspension")
ENTRY_TYPE = "BitstringStatusListEntry"
_BITS = 18  # LIST_SIZE < 2**18: a balanced 9+9-bit Feistel network, then cycle walking
_HALF = _BITS // 2
_MASK = (1 << _HALF) - 1
_ROUNDS = 6  # Luby–Rackoff: 4 make a strong pseudorandom permutation; 6 for margin
_LIST_ID = re.compile(r"(revocation|suspension)-([0-9]{1,9})")


def _round_function(key: bytes, scope: bytes) -> Callable[[int, int], int]:
    """The Feistel round function of one list: a keyed BLAKE2s of (list, round, half)."""
    base = hashlib.blake2s(scope, key=key, digest_size=4)

    def f(rnd: int, half: int) -> int:
        h = base.copy()
        h.update(bytes((rnd, half >> 8, half & 0xFF)))
        return int.from_bytes(h.digest(), "big") & _MASK
    return f


def _permute(f: Callable[[int, int], int], n: int) -> int:
    x = n
    while True:  # cycle walking: 2 steps on average (2**18 / 2**17)
        left, right = x >> _HALF, x & _MASK
        for rnd in range(_ROUNDS):
            left, right = right, left ^ f(rnd, right)
        x = (left << _HALF) | right
        if x < LIST_SIZE:
            return x


def positions(key: bytes, ags: str, counters: Iterable[int]) -> list[tuple[int, int]]:
    """(list number, index in the list) of the documents of `ags` with these counter values
    (0-based: the n-th document reserved counter n)."""
    out = []
    functions: dict[int, Callable[[int, int], int]] = {}
    for counter in counters:
        if counter < 0:
            raise ValueError("counter < 0")
        list_no, n = divmod(counter, LIST_SIZE)
        f = functions.get(list_no)
        if f is None:
            f = functions[list_no] = _round_function(key, f"{ags}/{list_no}".encode())
        out.append((list_no, _permute(f, n)))
    return out


def position(key: bytes, ags: str, counter: int) -> tuple[int, int]:
    """The position of one counter value (see `positions`)."""
    return positions(key, ags, (counter,))[0]


def list_id(purpose: str, list_no: int) -> str:
    return f"{purpose}-{list_no}"


def parse_list_id(text: str) -> tuple[str, int]:
    match = _LIST_ID.fullmatch(text)
    if match is None:
        raise InputError(f"Unbekannte Statusliste {text!r}")
    return match.group(1), int(match.group(2))


def list_url(base_url: str, ags: str, purpose: str, list_no: int) -> str:
    return f"{base_url.rstrip('/')}/status/{ags}/{list_id(purpose, list_no)}"


def entries(base_url: str, ags: str, list_no: int, index: int) -> list[dict[str, Any]]:
    """The two BitstringStatusListEntry of a document at `index` of list `list_no`."""
    out = []
    for purpose in PURPOSES:
        url = list_url(base_url, ags, purpose, list_no)
        # no entry "id" (optional in the specification): it would repeat the list's URL
        out.append({"type": ENTRY_TYPE, "statusPurpose": purpose,
                    "statusListIndex": str(index), "statusListCredential": url})
    return out


def entries_of(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The document's BitstringStatusListEntry items (none for documents issued before)."""
    status = document.get("credentialStatus")
    if not isinstance(status, list):
        return []
    return [e for e in status if isinstance(e, Mapping) and e.get("type") == ENTRY_TYPE]


def position_of(document: Mapping[str, Any]) -> tuple[int, int] | None:
    """(list number, index) of an issued document's entries, None without status lists."""
    found = entries_of(document)
    if not found:
        return None
    _, list_no = parse_list_id(str(found[0]["statusListCredential"]).rsplit("/", 1)[-1])
    return list_no, int(found[0]["statusListIndex"])

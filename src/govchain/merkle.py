"""Merkle trees over document hashes, compatible with OpenZeppelin's MerkleProof (sorted pairs).

A leaf is keccak256(0x00 || targetHash): a 33-byte preimage, while an inner node hashes the 64 bytes of
its two sorted children. The two can never be confused, so an inner node cannot pass as a document;
the contract derives leaves the same way (DocumentRegistry.leafOf).
"""

from __future__ import annotations

from collections.abc import Sequence

from govchain.hashing import Hash32, keccak

LEAF_PREFIX = b"\x00"


def leaf_of(target_hash: bytes) -> Hash32:
    return keccak(LEAF_PREFIX + target_hash)


def hash_pair(a: bytes, b: bytes) -> Hash32:
    return keccak(a + b) if a < b else keccak(b + a)


def process_proof(leaf: bytes, proof: Sequence[bytes]) -> Hash32:
    node = Hash32(leaf)
    for sibling in proof:
        node = hash_pair(node, sibling)
    return node


def root_of(target_hash: bytes, proof: Sequence[bytes]) -> Hash32:
    """The root that `proof` leads to from the document with `target_hash`."""
    return process_proof(leaf_of(target_hash), proof)


class MerkleTree:
    """A tree over the leaves of a batch; an odd node at the end of a level moves up unchanged."""

    def __init__(self, target_hashes: Sequence[bytes]) -> None:
        if not target_hashes:
            raise ValueError("a Merkle tree needs at least one document")
        level = [leaf_of(t) for t in target_hashes]
        self._levels: list[list[Hash32]] = [level]
        while len(level) > 1:
            nxt = [hash_pair(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                nxt.append(level[-1])
            self._levels.append(nxt)
            level = nxt

    @property
    def root(self) -> Hash32:
        return self._levels[-1][0]

    def __len__(self) -> int:
        return len(self._levels[0])

    def proof(self, index: int) -> list[Hash32]:
        """Sibling hashes from the leaf at `index` up to the root."""
        if not 0 <= index < len(self):
            raise IndexError(index)
        path: list[Hash32] = []
        for level in self._levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                path.append(level[sibling])
            index //= 2
        return path

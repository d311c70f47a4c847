"""Merkle trees over document hashes, compatible with OpenZeppelin's MerkleProof (sorted pairs).

A leaf is keccak256(0x00 || targetHash): a 33-byte preimage, while an inner node hashes the 64 bytes of
its two sorted children. The two can never be confused, so an inner node cannot pass as a document;
the contract derives leaves the same way (DocumentRegistry.leafOf).
"""

from __future__ import annotations

from collections.abc import Sequence

from govchain.domain.hashing import Hash32, keccak

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

    def to_bytes(self) -> bytes:
        """Every node, level by level from the leaves, after the leaf count (4 bytes): what a
        batch stores, so that any document's proof is read from it without hashing."""
        return len(self).to_bytes(4, "big") + b"".join(b"".join(level) for level in self._levels)


class StoredTree:
    """A tree read back from MerkleTree.to_bytes: proofs by slicing, no hashing."""

    def __init__(self, data: bytes) -> None:
        count = int.from_bytes(data[:4], "big")
        if count < 1:
            raise ValueError("a stored Merkle tree needs at least one leaf")
        self._data = data
        self._starts: list[int] = []
        self._sizes: list[int] = []
        offset, size = 4, count
        while True:
            self._starts.append(offset)
            self._sizes.append(size)
            offset += 32 * size
            if size == 1:
                break
            size = (size + 1) // 2
        if offset != len(data):
            raise ValueError("stored Merkle tree has the wrong length")

    @property
    def root(self) -> Hash32:
        start = self._starts[-1]
        return Hash32(self._data[start:start + 32])

    def __len__(self) -> int:
        return self._sizes[0]

    def index_of(self, target_hash: bytes) -> int:
        """The leaf index of the document with `target_hash`; ValueError if it is not a leaf."""
        leaf, start, end = leaf_of(target_hash), self._starts[0], self._starts[0] + 32 * len(self)
        at = self._data.find(leaf, start, end)
        while at != -1 and (at - start) % 32:  # a match across two leaves: look on
            at = self._data.find(leaf, at + 1, end)
        if at == -1:
            raise ValueError("not a leaf of this tree")
        return (at - start) // 32

    def proof(self, index: int) -> list[Hash32]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        path: list[Hash32] = []
        for start, size in zip(self._starts[:-1], self._sizes[:-1], strict=True):
            sibling = index ^ 1
            if sibling < size:
                path.append(Hash32(self._data[start + 32 * sibling:start + 32 * sibling + 32]))
            index //= 2
        return path

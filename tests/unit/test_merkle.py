"""Merkle trees: every leaf proves to the root; inner nodes never pass as documents."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from govchain.domain.merkle import MerkleTree, StoredTree, hash_pair, leaf_of, process_proof, root_of


def targets(n: int) -> list[bytes]:
    return [os.urandom(32) for _ in range(n)]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 100, 1000])
def test_every_leaf_proves_to_the_root(n: int) -> None:
    ts = targets(n)
    tree = MerkleTree(ts)
    for i, t in enumerate(ts):
        assert root_of(t, tree.proof(i)) == tree.root


def test_single_document_root_is_its_leaf() -> None:
    (t,) = targets(1)
    tree = MerkleTree([t])
    assert tree.root == leaf_of(t)
    assert tree.proof(0) == []


def test_leaf_hash_differs_from_target_and_from_inner_nodes() -> None:
    a, b = targets(2)
    assert leaf_of(a) != a
    tree = MerkleTree([a, b])
    inner = tree.root
    # Presenting the inner node as a document's targetHash leads elsewhere.
    assert root_of(inner, []) != tree.root
    assert leaf_of(inner) != inner


def test_wrong_proof_or_target_fails() -> None:
    ts = targets(8)
    tree = MerkleTree(ts)
    proof = tree.proof(3)
    assert root_of(ts[4], proof) != tree.root
    proof[0] = bytes(32)
    assert root_of(ts[3], proof) != tree.root


def test_hash_pair_is_commutative() -> None:
    a, b = targets(2)
    assert hash_pair(a, b) == hash_pair(b, a)


def test_empty_tree_and_bad_index_are_refused() -> None:
    with pytest.raises(ValueError):
        MerkleTree([])
    with pytest.raises(IndexError):
        MerkleTree(targets(2)).proof(2)


@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=40, unique=True),
       st.data())
def test_property_any_leaf_proves(ts: list[bytes], data: st.DataObject) -> None:
    tree = MerkleTree(ts)
    i = data.draw(st.integers(0, len(ts) - 1))
    assert process_proof(leaf_of(ts[i]), tree.proof(i)) == tree.root


@given(n=st.integers(min_value=1, max_value=300))
def test_stored_tree_gives_the_same_root_and_proofs(n: int) -> None:
    ts = sorted(targets(n))
    tree = MerkleTree(ts)
    stored = StoredTree(tree.to_bytes())
    assert stored.root == tree.root and len(stored) == n
    for i, t in enumerate(ts):
        assert stored.index_of(t) == i
        assert stored.proof(i) == tree.proof(i)


def test_stored_tree_refuses_what_it_does_not_hold() -> None:
    ts = targets(5)
    data = MerkleTree(ts).to_bytes()
    stored = StoredTree(data)
    with pytest.raises(ValueError, match="not a leaf"):
        stored.index_of(os.urandom(32))
    with pytest.raises(ValueError, match="not a leaf"):
        stored.index_of(stored.root)  # an inner node is no document
    with pytest.raises(ValueError, match="wrong length"):
        StoredTree(data[:-1])
    with pytest.raises(IndexError):
        stored.proof(5)

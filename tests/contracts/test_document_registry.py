"""DocumentRegistry: anchoring, status per (root, leaf), domain separation, key lifecycle, views."""

from __future__ import annotations

import pytest
from contracts_world import (
    AGS_AACHEN,
    AGS_GELSENKIRCHEN,
    AGS_KOELN,
    HUND,
    MUSIK,
    REASON_INCIDENT,
    REASON_INQUIRY,
    WOHNUNG,
    Batch,
    World,
)
from eth_utils.crypto import keccak

from govchain.domain.merkle import MerkleTree, hash_pair, leaf_of, process_proof, root_of

NONE, SUSPENDED, REVOKED = 0, 1, 2
ZERO32 = b"\x00" * 32
ZERO_ADDRESS = "0x" + "00" * 20


def leaf(target_hash: bytes) -> bytes:
    return keccak(b"\x00" + target_hash)


# -- anchoring ------------------------------------------------------------------------------------

def test_anchor_one_root(world: World) -> None:
    batch = Batch.of("new", 100)
    receipt = world.transact(world.documents.functions.anchor(HUND, [batch.root]), world.a2)
    assert world.events(receipt) == [
        ("RootAnchored", {"root": batch.root, "ags": AGS_AACHEN, "account": world.a2,
                          "docType": HUND}),
    ]
    assert world.documents.functions.anchorOf(batch.root).call() == (
        world.a2, world.timestamp(receipt), receipt["blockNumber"], HUND)
    # the design target: 100 documents for well under 1,000 gas each
    assert receipt["gasUsed"] < 100_000


def test_anchor_several_roots_in_one_transaction(world: World) -> None:
    roots = [Batch.of(f"b{i}", 3 + i).root for i in range(4)]
    receipt = world.transact(world.documents.functions.anchor(WOHNUNG, roots), world.g1)
    assert world.events(receipt) == [
        ("RootAnchored", {"root": r, "ags": AGS_GELSENKIRCHEN, "account": world.g1,
                          "docType": WOHNUNG})
        for r in roots
    ]
    ts = world.timestamp(receipt)
    for r in roots:
        assert world.documents.functions.anchorOf(r).call() == (
            world.g1, ts, receipt["blockNumber"], WOHNUNG)


def test_issuer_registry_reference(world: World) -> None:
    assert world.documents.functions.issuerRegistry().call() == world.issuers.address


def test_anchor_rejects_empty_batch_and_zero_root(world: World) -> None:
    docs = world.documents.functions
    world.assert_reverts(docs.anchor(HUND, []), world.a1, "DocumentRegistryEmptyBatch")
    world.assert_reverts(docs.anchor(HUND, [ZERO32]), world.a1, "DocumentRegistryZeroRoot")
    world.assert_reverts(docs.anchor(HUND, [keccak(text="x"), ZERO32]), world.a1,
                         "DocumentRegistryZeroRoot")


def test_anchor_checks_the_caller_before_the_batch(world: World) -> None:
    world.assert_reverts(world.documents.functions.anchor(HUND, []), world.stranger,
                         "IssuerRegistryUnknownAccount", world.stranger)


def test_double_anchoring_is_rejected(world: World) -> None:
    docs = world.documents.functions
    root = world.batches["aachen"].root
    fresh = keccak(text="fresh")
    # again by the same account, by another account of the same or of another municipality
    for sender, doc_type in ((world.a1, HUND), (world.a2, MUSIK), (world.g1, HUND)):
        world.assert_reverts(docs.anchor(doc_type, [root]), sender,
                             "DocumentRegistryRootAlreadyAnchored", root)
    # inside one batch, and behind a new root in the same batch
    world.assert_reverts(docs.anchor(HUND, [fresh, fresh]), world.a1,
                         "DocumentRegistryRootAlreadyAnchored", fresh)
    world.assert_reverts(docs.anchor(HUND, [fresh, root]), world.a1,
                         "DocumentRegistryRootAlreadyAnchored", root)
    # nothing of a rejected batch is stored
    assert docs.anchorOf(fresh).call() == (ZERO_ADDRESS, 0, 0, ZERO32)
    # the original anchor is untouched
    assert docs.anchorOf(root).call()[0] == world.a1


# -- status changes -------------------------------------------------------------------------------

def test_revoke(world: World) -> None:
    batch = world.batches["aachen"]
    target, _ = batch.doc(0)
    receipt = world.transact(world.status_change("revoke", batch, 0, REASON_INCIDENT), world.a1)
    assert world.events(receipt) == [
        ("DocumentRevoked", {"root": batch.root, "leaf": leaf(target), "account": world.a1,
                             "reason": REASON_INCIDENT}),
    ]
    assert world.documents.functions.statusOf(batch.root, target).call() == (
        REVOKED, REASON_INCIDENT, world.timestamp(receipt), world.a1)
    for action, extra in (("revoke", (1,)), ("suspend", (1,)), ("reinstate", ())):
        world.assert_reverts(world.status_change(action, batch, 0, *extra), world.a1,
                             "DocumentRegistryAlreadyRevoked", batch.root, leaf(target))
    # the other documents of the batch are untouched
    assert world.documents.functions.statusOf(batch.root, batch.target_hashes[2]).call()[0] == NONE


def test_a_suspended_document_can_be_revoked(world: World) -> None:
    batch = world.batches["aachen"]  # document 1 is suspended in the baseline
    world.transact(world.status_change("revoke", batch, 1, REASON_INCIDENT), world.a2)
    status = world.documents.functions.statusOf(batch.root, batch.target_hashes[1]).call()
    assert status[:2] == (REVOKED, REASON_INCIDENT) and status[3] == world.a2


def test_suspend(world: World) -> None:
    batch = world.batches["aachen"]
    target, _ = batch.doc(3)
    receipt = world.transact(world.status_change("suspend", batch, 3, REASON_INQUIRY), world.a2)
    assert world.events(receipt) == [
        ("DocumentSuspended", {"root": batch.root, "leaf": leaf(target), "account": world.a2,
                               "reason": REASON_INQUIRY}),
    ]
    assert world.documents.functions.statusOf(batch.root, target).call() == (
        SUSPENDED, REASON_INQUIRY, world.timestamp(receipt), world.a2)
    world.assert_reverts(world.status_change("suspend", batch, 3, REASON_INQUIRY), world.a1,
                         "DocumentRegistryAlreadySuspended", batch.root, leaf(target))


def test_reinstate(world: World) -> None:
    batch = world.batches["aachen"]
    target, _ = batch.doc(1)
    assert world.documents.functions.statusOf(batch.root, target).call()[:3] != (NONE, 0, 0)
    receipt = world.transact(world.status_change("reinstate", batch, 1), world.a2)
    assert world.events(receipt) == [
        ("DocumentReinstated", {"root": batch.root, "leaf": leaf(target), "account": world.a2}),
    ]
    # back to "as issued", keeping who lifted the suspension and when
    assert world.documents.functions.statusOf(batch.root, target).call() == (
        NONE, 0, world.timestamp(receipt), world.a2)
    world.assert_reverts(world.status_change("reinstate", batch, 1), world.a1,
                         "DocumentRegistryNotSuspended", batch.root, leaf(target))
    world.assert_reverts(world.status_change("reinstate", batch, 4), world.a1,
                         "DocumentRegistryNotSuspended", batch.root, leaf(batch.target_hashes[4]))
    # and it can be suspended again
    world.transact(world.status_change("suspend", batch, 1, REASON_INQUIRY), world.a1)


@pytest.mark.parametrize(("action", "extra"), [
    ("revoke", (REASON_INCIDENT,)), ("suspend", (REASON_INQUIRY,)), ("reinstate", ()),
])
def test_status_change_of_an_unknown_root(world: World, action: str,
                                          extra: tuple[int, ...]) -> None:
    batch = Batch.of("never-anchored", 4)
    world.assert_reverts(world.status_change(action, batch, 0, *extra), world.a1,
                         "DocumentRegistryRootNotAnchored", batch.root)


@pytest.mark.parametrize(("action", "extra"), [
    ("revoke", (REASON_INCIDENT,)), ("suspend", (REASON_INQUIRY,)), ("reinstate", ()),
])
def test_status_change_with_a_wrong_proof(world: World, action: str,
                                          extra: tuple[int, ...]) -> None:
    batch = world.batches["aachen"]
    fn = getattr(world.documents.functions, action)
    target, proof = batch.doc(1)
    _, other_proof = batch.doc(2)
    forged = keccak(text="forged document")
    cases = [
        (target, other_proof),            # the path of another document
        (target, []),                     # no path in a tree of five
        (target, proof[:-1]),             # a truncated path
        (target, [*proof, keccak(text="x")]),  # a path that runs past the root
        (forged, proof),                  # a document that was never issued
    ]
    for t, p in cases:
        world.assert_reverts(fn(batch.root, t, p, *extra), world.a1,
                             "DocumentRegistryInvalidProof", batch.root, leaf(t))


def test_single_document_batch_needs_an_empty_proof(world: World) -> None:
    batch, _ = world.anchor(world.a1, HUND, "single", 1)
    target, proof = batch.doc(0)
    assert proof == [] and batch.root == leaf(target)
    world.transact(world.documents.functions.revoke(batch.root, target, [], REASON_INCIDENT),
                   world.a1)
    assert world.documents.functions.statusOf(batch.root, target).call()[0] == REVOKED


@pytest.mark.parametrize("size", [2, 3, 7, 64, 100])
def test_every_document_of_a_batch_can_be_revoked(world: World, size: int) -> None:
    batch, _ = world.anchor(world.a1, HUND, f"size{size}", size)
    for i in {0, 1, size // 2, size - 1}:
        world.transact(world.status_change("revoke", batch, i, i), world.a2)
        status = world.documents.functions.statusOf(batch.root, batch.target_hashes[i]).call()
        assert status[:2] == (REVOKED, i)


# -- domain separation ----------------------------------------------------------------------------

def test_leaf_of_matches_the_python_merkle_tree(world: World) -> None:
    for t in (ZERO32, keccak(text="doc"), b"\xff" * 32):
        assert world.documents.functions.leafOf(t).call() == leaf(t) == leaf_of(t)


def test_an_inner_node_can_never_pass_as_a_document(world: World) -> None:
    hashes = [keccak(text=f"inner/{i}") for i in range(4)]
    tree = MerkleTree(hashes)
    world.transact(world.documents.functions.anchor(HUND, [tree.root]), world.a1)
    leaves = [leaf(t) for t in hashes]
    inner01, inner23 = hash_pair(leaves[0], leaves[1]), hash_pair(leaves[2], leaves[3])
    assert hash_pair(inner01, inner23) == tree.root

    # Without domain separation the inner node plus the upper path would reach the root: the
    # forgery the 0x00 prefix exists to stop.
    assert process_proof(inner01, [inner23]) == tree.root
    assert root_of(inner01, [inner23]) != tree.root  # what a verifier computes off-chain

    docs = world.documents.functions
    for action, extra in (("revoke", (1,)), ("suspend", (1,)), ("reinstate", ())):
        world.assert_reverts(docs[action](tree.root, inner01, [inner23], *extra), world.a1,
                             "DocumentRegistryInvalidProof", tree.root, leaf(inner01))
    # a leaf is no document either: the registry hashes whatever it is given as a targetHash
    world.assert_reverts(docs.revoke(tree.root, leaves[0], [bytes(p) for p in tree.proof(0)], 1),
                         world.a1, "DocumentRegistryInvalidProof", tree.root, leaf(leaves[0]))
    v = docs.verification(tree.root, inner01).call()
    assert v[2] == leaf(inner01) and v[13] == NONE
    assert docs.statusOf(tree.root, inner01).call() == (NONE, 0, 0, ZERO_ADDRESS)


def test_status_is_kept_per_root_and_leaf(world: World) -> None:
    shared = keccak(text="the same document hash")
    x_hashes = [shared, *[keccak(text=f"x/{i}") for i in range(3)]]
    y_hashes = [keccak(text="y/0"), shared, keccak(text="y/2")]
    x, y = MerkleTree(x_hashes), MerkleTree(y_hashes)
    world.transact(world.documents.functions.anchor(HUND, [x.root, y.root]), world.a1)
    docs = world.documents.functions

    world.transact(docs.revoke(x.root, shared, [bytes(p) for p in x.proof(0)], REASON_INCIDENT),
                   world.a1)
    assert docs.statusOf(x.root, shared).call()[0] == REVOKED
    assert docs.statusOf(y.root, shared).call() == (NONE, 0, 0, ZERO_ADDRESS)
    assert docs.verification(y.root, shared).call()[13] == NONE

    world.transact(docs.suspend(y.root, shared, [bytes(p) for p in y.proof(1)], REASON_INQUIRY),
                   world.a1)
    assert docs.statusOf(y.root, shared).call()[0] == SUSPENDED
    assert docs.statusOf(x.root, shared).call()[0] == REVOKED


# -- key lifecycle --------------------------------------------------------------------------------

def test_a_new_account_revokes_after_the_anchoring_account_was_retired(world: World) -> None:
    batch = world.batches["aachen"]  # anchored by a1
    reg, docs = world.issuers.functions, world.documents.functions
    world.transact(reg.retireAccount(world.a1), world.admin)
    world.transact(reg.retireAccount(world.a2), world.admin)
    world.transact(reg.addAccount(AGS_AACHEN, world.spare1), world.admin)

    world.assert_reverts(world.status_change("revoke", batch, 0, 1), world.a1,
                         "IssuerRegistryAccountRetired", world.a1)
    receipt = world.transact(world.status_change("revoke", batch, 0, REASON_INCIDENT), world.spare1)
    assert world.events(receipt)[0][1]["account"] == world.spare1
    world.transact(world.status_change("reinstate", batch, 1), world.spare1)

    v = docs.verification(batch.root, batch.target_hashes[0]).call()
    assert v[6] == world.a1  # the anchor still names the account that made it
    assert v[10] > 0  # accountRetiredAt, after the anchoring: the anchor stays valid
    assert v[10] >= v[8]
    assert v[13] == REVOKED


def test_compromise_splits_anchors_at_the_compromise_time(world: World) -> None:
    reg, docs = world.issuers.functions, world.documents.functions
    early, r_early = world.anchor(world.a2, HUND, "early", 10)
    t_early = world.timestamp(r_early)
    world.tester.time_travel(t_early + 3600)
    late, r_late = world.anchor(world.a2, HUND, "late", 10)
    t_late = world.timestamp(r_late)
    assert t_late > t_early

    # the key leaked at t_late: everything a2 anchored from then on is suspect
    world.transact(reg.markCompromised(world.a2, t_late), world.registrar)
    v_early = docs.verification(early.root, early.target_hashes[0]).call()
    v_late = docs.verification(late.root, late.target_hashes[0]).call()
    for v, anchored_at in ((v_early, t_early), (v_late, t_late)):
        assert v[0] is True and v[6] == world.a2 and v[8] == anchored_at and v[11] == t_late
    assert v_early[8] < v_early[11]  # anchored before the compromise: the issuer check passes
    assert v_late[8] >= v_late[11]   # at or after it: the issuer check fails

    # the compromised key can do nothing more
    world.assert_reverts(docs.anchor(HUND, [keccak(text="more")]), world.a2,
                         "IssuerRegistryAccountCompromised", world.a2, t_late)
    world.assert_reverts(world.status_change("revoke", early, 0, 1), world.a2,
                         "IssuerRegistryAccountCompromised", world.a2, t_late)
    # while the municipality, through another account, revokes what the attacker anchored
    world.transact(world.status_change("revoke", late, 3, REASON_INCIDENT), world.a1)

    # a later finding moves the time earlier: now the early batch is suspect too
    world.transact(reg.markCompromised(world.a2, t_early), world.admin)
    v_early = docs.verification(early.root, early.target_hashes[0]).call()
    assert v_early[8] >= v_early[11] == t_early


def test_a_suspended_municipality_still_manages_its_documents(world: World) -> None:
    batch = world.batches["koeln"]
    world.assert_reverts(world.documents.functions.anchor(WOHNUNG, [keccak(text="k")]), world.k1,
                         "IssuerRegistryMunicipalityNotActive", AGS_KOELN)
    world.transact(world.status_change("suspend", batch, 2, REASON_INQUIRY), world.k1)
    world.transact(world.status_change("revoke", batch, 2, REASON_INCIDENT), world.k1)
    v = world.documents.functions.verification(batch.root, batch.target_hashes[2]).call()
    assert (v[3], v[4], v[5], v[13]) == (AGS_KOELN, "Stadt Köln", False, REVOKED)


# -- views never revert ---------------------------------------------------------------------------

def test_verification_of_a_suspended_document_has_every_field(world: World) -> None:
    batch = world.batches["aachen"]
    target = batch.target_hashes[1]
    anchor = world.documents.functions.anchorOf(batch.root).call()
    status = world.documents.functions.statusOf(batch.root, target).call()
    v = world.documents.functions.verification(batch.root, target).call()
    assert v == (
        True,                # anchored
        batch.root,          # root
        leaf(target),        # leaf
        AGS_AACHEN,          # ags, derived from the anchoring account
        "Stadt Aachen",      # municipalityName
        True,                # municipalityActive
        world.a1,            # account
        HUND,                # docType
        anchor[1],           # anchoredAt
        anchor[2],           # anchorBlock
        0,                   # accountRetiredAt
        0,                   # accountCompromisedSince
        True,                # docTypeAllowedNow
        SUSPENDED,           # status
        REASON_INQUIRY,      # reason
        status[2],           # statusChangedAt
    )


def test_verification_reports_retired_and_compromised_accounts(world: World) -> None:
    reg, docs = world.issuers.functions, world.documents.functions
    batch = world.batches["aachen"]
    world.transact(reg.retireAccount(world.a1), world.admin)
    world.transact(reg.markCompromised(world.a1, world.compromised_since), world.admin)
    acc = reg.issuerAccount(world.a1).call()
    v = docs.verification(batch.root, batch.target_hashes[0]).call()
    assert (v[10], v[11]) == (acc[3], acc[4]) == (acc[3], world.compromised_since)


@pytest.mark.parametrize("root", [ZERO32, keccak(text="unknown root")])
def test_views_answer_for_an_unknown_root(world: World, root: bytes) -> None:
    docs = world.documents.functions
    target = keccak(text="some document")
    assert docs.anchorOf(root).call() == (ZERO_ADDRESS, 0, 0, ZERO32)
    assert docs.statusOf(root, target).call() == (NONE, 0, 0, ZERO_ADDRESS)
    assert docs.verification(root, target).call() == (
        False, root, leaf(target), b"\x00" * 8, "", False, ZERO_ADDRESS, ZERO32,
        0, 0, 0, 0, False, NONE, 0, 0,
    )


def test_views_answer_for_an_unknown_document_under_a_known_root(world: World) -> None:
    batch = world.batches["aachen"]
    target = keccak(text="not in this batch")
    v = world.documents.functions.verification(batch.root, target).call()
    # anchored says nothing about membership: that is the proof, checked by the verifier
    assert v[0] is True and v[2] == leaf(target) and v[13] == NONE


def test_anchors_of_other_municipalities_are_reported_with_their_own_data(world: World) -> None:
    batch, _ = world.anchor(world.g1, HUND, "ge", 2)
    v = world.documents.functions.verification(batch.root, batch.target_hashes[0]).call()
    assert (v[3], v[4], v[6]) == (AGS_GELSENKIRCHEN, "Stadt Gelsenkirchen", world.g1)

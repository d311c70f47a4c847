"""No one where they do not belong, completed: every state-changing function x EVERY account of the
baseline (test_authorization.py's table lists the interesting ones; here no account is left out),
and the situations a single call per function cannot show: the right municipality with the wrong
proof, another municipality's batch, a key that was rotated, retired or compromised after it
anchored, a suspended municipality, a registrar whose role was taken away.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from contracts_world import (
    AACHEN_SIGNING_KEY,
    AACHEN_SIGNING_KEY_ID,
    AGS_AACHEN,
    AGS_GELSENKIRCHEN,
    AGS_KOELN,
    DEFAULT_ADMIN_ROLE,
    HUND,
    MUSIK,
    REASON_INCIDENT,
    REGISTRAR_ROLE,
    World,
)
from eth_utils.crypto import keccak
from test_authorization import ALL_CALLS, ALLOWED, DENIED, ISSUER_CALLS, REGISTRAR_CALLS
from web3.contract.contract import ContractFunction

Outcome = tuple[str, tuple[object, ...]] | None  # None: the call succeeds
# Every account of the baseline (conftest.ROLES); checked against the world below.
ROLES = ("admin", "registrar", "admin_only", "a1", "a2", "retired", "compromised", "g1", "k1",
         "stranger", "spare1", "spare2")


def expected(world: World, fn: str, role: str) -> Outcome:
    """What `role` gets for `fn`: the table's answer, else the rule that applies to it."""
    caller = world.accounts[role]
    if role in ALLOWED[fn]:
        return None
    if role in DENIED[fn]:
        return DENIED[fn][role](world, caller)
    if fn in REGISTRAR_CALLS:
        return "AccessControlUnauthorizedAccount", (caller, REGISTRAR_ROLE)
    if fn in ISSUER_CALLS:
        assert role.startswith("spare"), role  # every other issuer-side role is in the table
        return "IssuerRegistryUnknownAccount", (caller,)
    return "AccessControlUnauthorizedAccount", (caller, DEFAULT_ADMIN_ROLE)


MATRIX = [(fn, role) for fn in ALL_CALLS for role in ROLES]
# test_authorization.py already runs the table's cells; these are the ones it leaves out.
UNTABLED = [(fn, role) for fn, role in MATRIX if role not in ALLOWED[fn] and role not in DENIED[fn]]


@pytest.mark.parametrize(("fn", "role"), UNTABLED, ids=[f"{f}-{r}" for f, r in UNTABLED])
def test_every_function_by_every_other_account(world: World, fn: str, role: str) -> None:
    caller = world.accounts[role]
    outcome = expected(world, fn, role)
    if outcome is None:
        receipt = world.transact(ALL_CALLS[fn](world), caller)
        assert world.events(receipt)
    else:
        world.assert_reverts(ALL_CALLS[fn](world), caller, outcome[0], *outcome[1])


def test_the_matrix_has_every_account_and_both_answers(world: World) -> None:
    allowed = [(f, r) for f, r in MATRIX if expected(world, f, r) is None]
    assert set(ROLES) == set(world.accounts)
    # Exactly the table's positive controls are allowed; everything else is refused.
    assert sorted(allowed) == sorted((f, r) for f, roles in ALLOWED.items() for r in roles)


# -- situations ------------------------------------------------------------------------------

Scenario = Callable[[World], tuple[ContractFunction, str, str, tuple[object, ...]]]


def _other_leaf(w: World) -> tuple[ContractFunction, str, str, tuple[object, ...]]:
    # Aachen's own account, Aachen's root, but a document that is not in the batch.
    batch = w.batches["aachen"]
    _, proof = batch.doc(0)
    forged = keccak(text="not in the batch")
    fn = w.documents.functions.revoke(batch.root, forged, proof, REASON_INCIDENT)
    leaf = w.documents.functions.leafOf(forged).call()
    return fn, w.a1, "DocumentRegistryInvalidProof", (batch.root, leaf)


def _inner_node(w: World) -> tuple[ContractFunction, str, str, tuple[object, ...]]:
    # An inner node of the tree presented as a document: the contract derives the leaf itself.
    batch = w.batches["aachen"]
    _, proof = batch.doc(0)
    inner = proof[-1]
    fn = w.documents.functions.revoke(batch.root, inner, proof[:-1], REASON_INCIDENT)
    leaf = w.documents.functions.leafOf(inner).call()
    return fn, w.a1, "DocumentRegistryInvalidProof", (batch.root, leaf)


def _other_municipalitys_batch(w: World) -> tuple[ContractFunction, str, str, tuple[object, ...]]:
    # Gelsenkirchen's active account on Köln's batch (Köln being suspended changes nothing).
    fn = w.status_change("revoke", w.batches["koeln"], 0, REASON_INCIDENT)
    return fn, w.g1, "DocumentRegistryWrongMunicipality", (w.g1, AGS_KOELN, AGS_GELSENKIRCHEN)


def _aachen_on_koeln(w: World) -> tuple[ContractFunction, str, str, tuple[object, ...]]:
    fn = w.status_change("suspend", w.batches["koeln"], 1, REASON_INCIDENT)
    return fn, w.a2, "DocumentRegistryWrongMunicipality", (w.a2, AGS_KOELN, AGS_AACHEN)


def _unanchored_root(w: World) -> tuple[ContractFunction, str, str, tuple[object, ...]]:
    root = keccak(text="never anchored")
    fn = w.documents.functions.revoke(root, keccak(text="doc"), [], REASON_INCIDENT)
    return fn, w.a1, "DocumentRegistryRootNotAnchored", (root,)


def _type_not_admitted(w: World) -> tuple[ContractFunction, str, str, tuple[object, ...]]:
    other = keccak(text="baugenehmigung")
    fn = w.documents.functions.anchor(other, [keccak(text="r")])
    return fn, w.a1, "IssuerRegistryDocTypeNotAllowed", (AGS_AACHEN, other)


def _reanchor_someone_elses_root(w: World) -> tuple[ContractFunction, str, str, tuple[object, ...]]:
    # Claiming Köln's root for Aachen (e.g. to take over its revocation) is refused.
    root = w.batches["koeln"].root
    fn = w.documents.functions.anchor(HUND, [root])
    return fn, w.a1, "DocumentRegistryRootAlreadyAnchored", (root,)


def _renounce_for_another(w: World) -> tuple[ContractFunction, str, str, tuple[object, ...]]:
    fn = w.issuers.functions.renounceRole(REGISTRAR_ROLE, w.registrar)
    return fn, w.stranger, "AccessControlBadConfirmation", ()


def _uncompromise(w: World) -> tuple[ContractFunction, str, str, tuple[object, ...]]:
    # A compromise time can only move earlier: nobody, not even the registrar, can lift it.
    later = w.compromised_since + 1
    fn = w.issuers.functions.markCompromised(w.compromised, later)
    return fn, w.registrar, "IssuerRegistryInvalidCompromiseTime", (later,)


def _steal_account(w: World) -> tuple[ContractFunction, str, str, tuple[object, ...]]:
    # An account belongs to one municipality for ever: the registrar cannot move it to another.
    fn = w.issuers.functions.addAccount(AGS_GELSENKIRCHEN, w.a1)
    return fn, w.registrar, "IssuerRegistryAccountExists", (w.a1,)


def _uncompromise_signing_key(w: World) -> tuple[ContractFunction, str, str, tuple[object, ...]]:
    # As for accounts: a signing key's compromise time can only move earlier.
    since = w.compromised_since - 10
    w.transact(w.issuers.functions.markSigningKeyCompromised(AACHEN_SIGNING_KEY_ID, since),
               w.registrar)
    fn = w.issuers.functions.markSigningKeyCompromised(AACHEN_SIGNING_KEY_ID, since + 1)
    return fn, w.registrar, "IssuerRegistryInvalidCompromiseTime", (since + 1,)


def _steal_signing_key(w: World) -> tuple[ContractFunction, str, str, tuple[object, ...]]:
    # A signing key belongs to one municipality for ever: it cannot be added to another.
    fn = w.issuers.functions.addSigningKey(AGS_GELSENKIRCHEN, AACHEN_SIGNING_KEY)
    return fn, w.registrar, "IssuerRegistrySigningKeyExists", (AACHEN_SIGNING_KEY_ID,)


SCENARIOS: dict[str, Scenario] = {
    "proof-of-another-document": _other_leaf,
    "inner-node-as-document": _inner_node,
    "other-municipality-batch": _other_municipalitys_batch,
    "aachen-on-suspended-koeln": _aachen_on_koeln,
    "unanchored-root": _unanchored_root,
    "type-not-admitted": _type_not_admitted,
    "reanchor-foreign-root": _reanchor_someone_elses_root,
    "renounce-for-another": _renounce_for_another,
    "lift-compromise": _uncompromise,
    "move-account-to-other-municipality": _steal_account,
    "lift-signing-key-compromise": _uncompromise_signing_key,
    "move-signing-key-to-other-municipality": _steal_signing_key,
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_wrong_situation(world: World, name: str) -> None:
    fn, sender, error, args = SCENARIOS[name](world)
    world.assert_reverts(fn, sender, error, *args)


def test_retired_and_compromised_keys_cannot_touch_their_own_old_documents(world: World) -> None:
    # Two new Aachen keys anchor a batch each while usable; then one is retired and the other
    # marked compromised. Neither may change the status of its own documents any more, while
    # another active account of Aachen may.
    reg = world.issuers.functions
    for spare in (world.spare1, world.spare2):
        world.transact(reg.addAccount(AGS_AACHEN, spare), world.registrar)
    retired_batch, _ = world.anchor(world.spare1, HUND, "retired-early", 2)
    compromised_batch, receipt = world.anchor(world.spare2, HUND, "compromised-early", 2)
    since = world.timestamp(receipt)
    world.transact(reg.retireAccount(world.spare1), world.registrar)
    world.transact(reg.markCompromised(world.spare2, since), world.registrar)
    world.assert_reverts(world.status_change("revoke", retired_batch, 0, REASON_INCIDENT),
                         world.spare1, "IssuerRegistryAccountRetired", world.spare1)
    world.assert_reverts(world.status_change("suspend", compromised_batch, 0, REASON_INCIDENT),
                         world.spare2, "IssuerRegistryAccountCompromised", world.spare2, since)
    world.assert_reverts(world.documents.functions.anchor(HUND, [keccak(text="late")]),
                         world.spare2, "IssuerRegistryAccountCompromised", world.spare2, since)
    for batch in (retired_batch, compromised_batch):
        world.transact(world.status_change("revoke", batch, 0, REASON_INCIDENT), world.a2)


def test_a_suspended_municipality_can_still_revoke_but_not_anchor(world: World) -> None:
    # Suspension stops new documents; revoking existing ones must stay possible (a suspension
    # is often the moment to withdraw what was issued wrongly).
    world.assert_reverts(world.documents.functions.anchor(MUSIK, [keccak(text="k")]), world.k1,
                         "IssuerRegistryMunicipalityNotActive", AGS_KOELN)
    world.transact(world.status_change("revoke", world.batches["koeln"], 0, REASON_INCIDENT),
                   world.k1)


def test_a_registrar_whose_role_was_revoked_can_do_nothing(world: World) -> None:
    world.transact(world.issuers.functions.revokeRole(REGISTRAR_ROLE, world.registrar), world.admin)
    for fn in REGISTRAR_CALLS:
        world.assert_reverts(REGISTRAR_CALLS[fn](world), world.registrar,
                             "AccessControlUnauthorizedAccount", world.registrar, REGISTRAR_ROLE)


def test_a_withdrawn_document_type_can_no_longer_be_anchored(world: World) -> None:
    world.transact(world.issuers.functions.setDocTypes(AGS_AACHEN, [HUND]), world.registrar)
    world.assert_reverts(world.documents.functions.anchor(MUSIK, [keccak(text="m")]), world.a1,
                         "IssuerRegistryDocTypeNotAllowed", AGS_AACHEN, MUSIK)
    world.transact(world.documents.functions.anchor(HUND, [keccak(text="h")]), world.a1)

"""Every state-changing function x every kind of account that may not call it → the exact error.

Each table row is also checked against a positive control: the same call by an account that may
make it succeeds, so no row passes merely because the call was broken.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from contracts_world import (
    AACHEN_SIGNING_KEY_ID,
    AGS_AACHEN,
    AGS_GELSENKIRCHEN,
    AGS_KOELN,
    DEFAULT_ADMIN_ROLE,
    HUND,
    MUSIK,
    REASON_INCIDENT,
    REASON_INQUIRY,
    REGISTRAR_ROLE,
    World,
    signing_key,
)
from eth_utils.crypto import keccak
from web3.contract.contract import ContractFunction

Call = Callable[[World], ContractFunction]
# (error name, arguments) expected when `caller` makes the call
Expect = Callable[[World, str], tuple[str, tuple[object, ...]]]

FRESH_ROOT = keccak(text="a root nobody anchored yet")

REGISTRAR_CALLS: dict[str, Call] = {
    "admitMunicipality": lambda w: w.issuers.functions.admitMunicipality(
        b"05111000", "Düsseldorf", [w.spare1], [HUND]),
    "setDocTypes": lambda w: w.issuers.functions.setDocTypes(AGS_AACHEN, [HUND]),
    "suspendMunicipality": lambda w: w.issuers.functions.suspendMunicipality(AGS_AACHEN),
    "reactivateMunicipality": lambda w: w.issuers.functions.reactivateMunicipality(AGS_KOELN),
    "addAccount": lambda w: w.issuers.functions.addAccount(AGS_AACHEN, w.spare1),
    "retireAccount": lambda w: w.issuers.functions.retireAccount(w.a2),
    "markCompromised": lambda w: w.issuers.functions.markCompromised(w.a2, w.compromised_since),
    "addSigningKey": lambda w: w.issuers.functions.addSigningKey(
        AGS_AACHEN, signing_key("aachen/signing-key/2")),
    "retireSigningKey": lambda w: w.issuers.functions.retireSigningKey(AACHEN_SIGNING_KEY_ID),
    "markSigningKeyCompromised": lambda w: w.issuers.functions.markSigningKeyCompromised(
        AACHEN_SIGNING_KEY_ID, w.compromised_since),
}
ROLE_ADMIN_CALLS: dict[str, Call] = {
    "grantRole": lambda w: w.issuers.functions.grantRole(REGISTRAR_ROLE, w.spare1),
    "revokeRole": lambda w: w.issuers.functions.revokeRole(REGISTRAR_ROLE, w.registrar),
}
ISSUER_CALLS: dict[str, Call] = {
    # street music: Aachen may issue it, Gelsenkirchen may not, Köln may but is suspended
    "anchor": lambda w: w.documents.functions.anchor(MUSIK, [FRESH_ROOT]),
    "revoke": lambda w: w.status_change("revoke", w.batches["aachen"], 0, REASON_INCIDENT),
    "suspend": lambda w: w.status_change("suspend", w.batches["aachen"], 0, REASON_INQUIRY),
    "reinstate": lambda w: w.status_change("reinstate", w.batches["aachen"], 1),
}
ALL_CALLS = {**REGISTRAR_CALLS, **ROLE_ADMIN_CALLS, **ISSUER_CALLS}

ALLOWED: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(REGISTRAR_CALLS, ("admin", "registrar")),
    **dict.fromkeys(ROLE_ADMIN_CALLS, ("admin", "admin_only")),
    **dict.fromkeys(ISSUER_CALLS, ("a1", "a2")),
}


def missing_role(role: bytes) -> Expect:
    return lambda w, caller: ("AccessControlUnauthorizedAccount", (caller, role))


def unknown(w: World, caller: str) -> tuple[str, tuple[object, ...]]:
    return "IssuerRegistryUnknownAccount", (caller,)


def retired(w: World, caller: str) -> tuple[str, tuple[object, ...]]:
    return "IssuerRegistryAccountRetired", (caller,)


def compromised(w: World, caller: str) -> tuple[str, tuple[object, ...]]:
    return "IssuerRegistryAccountCompromised", (caller, w.compromised_since)


def wrong_municipality(actual: bytes) -> Expect:
    return lambda w, caller: ("DocumentRegistryWrongMunicipality", (caller, AGS_AACHEN, actual))


ISSUER_ROLES_DENIED: dict[str, Expect] = {
    "stranger": unknown,
    "admin": unknown,       # the registrar is no issuer
    "registrar": unknown,
    "admin_only": unknown,
    "retired": retired,
    "compromised": compromised,
}

DENIED: dict[str, dict[str, Expect]] = {
    **{name: dict.fromkeys(
        ("stranger", "admin_only", "a1", "retired", "compromised", "g1", "k1"),
        missing_role(REGISTRAR_ROLE)) for name in REGISTRAR_CALLS},
    **{name: dict.fromkeys(
        ("stranger", "registrar", "a1", "g1"),
        missing_role(DEFAULT_ADMIN_ROLE)) for name in ROLE_ADMIN_CALLS},
    "anchor": {
        **ISSUER_ROLES_DENIED,
        "g1": lambda w, caller: ("IssuerRegistryDocTypeNotAllowed", (AGS_GELSENKIRCHEN, MUSIK)),
        "k1": lambda w, caller: ("IssuerRegistryMunicipalityNotActive", (AGS_KOELN,)),
    },
    **{name: {
        **ISSUER_ROLES_DENIED,
        "g1": wrong_municipality(AGS_GELSENKIRCHEN),
        "k1": wrong_municipality(AGS_KOELN),
    } for name in ("revoke", "suspend", "reinstate")},
}

DENIED_CASES = [(fn, role) for fn, roles in DENIED.items() for role in roles]
ALLOWED_CASES = [(fn, role) for fn, roles in ALLOWED.items() for role in roles]


def test_the_table_covers_every_state_changing_function(world: World) -> None:
    state_changing = {
        item["name"]
        for contract in (world.issuers, world.documents)
        for item in contract.abi
        if item["type"] == "function" and item["stateMutability"] not in ("view", "pure")
    }
    # renounceRole is self-service; its only rule is tested in test_issuer_registry
    assert state_changing - {"renounceRole"} == set(ALL_CALLS) == set(DENIED)


@pytest.mark.parametrize(("fn", "role"), DENIED_CASES, ids=[f"{f}-{r}" for f, r in DENIED_CASES])
def test_denied(world: World, fn: str, role: str) -> None:
    caller = world.accounts[role]
    name, args = DENIED[fn][role](world, caller)
    world.assert_reverts(ALL_CALLS[fn](world), caller, name, *args)


@pytest.mark.parametrize(("fn", "role"), ALLOWED_CASES, ids=[f"{f}-{r}" for f, r in ALLOWED_CASES])
def test_allowed(world: World, fn: str, role: str) -> None:
    receipt = world.transact(ALL_CALLS[fn](world), world.accounts[role])
    assert world.events(receipt), "every state change emits an event"

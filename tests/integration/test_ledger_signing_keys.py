"""The Ledger binding of the signing keys on a real chain (embedded py-evm and anvil): add, list,
retire, mark compromised, the contract's refusals as German LedgerErrors, and a deployment whose
issuer registry predates signing keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_account import Account
from eth_account.signers.local import LocalAccount

from govchain import services
from govchain.adapters.context import Context
from govchain.adapters.ledger import Ledger, SigningKeysUnsupportedError
from govchain.domain.ledger_view import (
    AccountState,
    SigningKey,
    signing_key_id,
    signing_key_usable_at,
)
from govchain.errors import InputError, LedgerError, NotAuthorizedError

DUISBURG = "05112000"
ESSEN = "05113000"
NEVER_ADMITTED = "05124000"


def new_public_key() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        Encoding.X962, PublicFormat.CompressedPoint)


@pytest.fixture(scope="module")
def ctx(ledger_context: Context) -> Context:
    registrar = services.registrar_account(ledger_context)
    for ags, name in ((DUISBURG, "Stadt Duisburg"), (ESSEN, "Stadt Essen")):
        if not ledger_context.ledger.municipality(ags).admitted:
            ledger_context.ledger.admit_municipality(registrar, ags, name, [], [])
    return ledger_context


@pytest.fixture
def registrar(ctx: Context) -> LocalAccount:
    return services.registrar_account(ctx)


def test_add_list_retire_and_compromise(ctx: Context, registrar: LocalAccount) -> None:
    ledger = ctx.ledger
    before, essen = ledger.signing_keys_of(DUISBURG), ledger.signing_keys_of(ESSEN)
    first, second = new_public_key(), new_public_key()

    added = ledger.add_signing_key(registrar, DUISBURG, first)
    key = ledger.signing_key(signing_key_id(first))
    assert key == SigningKey(key_id=signing_key_id(first), ags=DUISBURG,
                             state=AccountState.ACTIVE, added_at=added.timestamp, retired_at=0,
                             compromised_since=0, public_key=first)
    ledger.add_signing_key(registrar, DUISBURG, second)
    keys = ledger.signing_keys_of(DUISBURG)
    assert keys[:len(before)] == before
    assert [k.public_key for k in keys[len(before):]] == [first, second]
    assert all(k.ags == DUISBURG for k in keys)
    assert ledger.signing_keys_of(ESSEN) == essen

    retired = ledger.retire_signing_key(registrar, signing_key_id(first))
    key = ledger.signing_key(signing_key_id(first))
    assert (key.state, key.retired_at, key.compromised_since) == (
        AccountState.RETIRED, retired.timestamp, 0)
    assert signing_key_usable_at(key, retired.timestamp) is None  # its own second still counts
    assert signing_key_usable_at(key, retired.timestamp + 1) == (
        "Schlüssel war zur Signaturzeit bereits stillgelegt")

    since = added.timestamp
    ledger.mark_signing_key_compromised(registrar, signing_key_id(second), since)
    key = ledger.signing_key(signing_key_id(second))
    assert (key.state, key.compromised_since) == (AccountState.ACTIVE, since)
    assert ledger.signing_keys_of(DUISBURG)[-1] == key  # the list shows the current state


def test_unknown_key_id(ctx: Context) -> None:
    unknown = ctx.ledger.signing_key(signing_key_id(new_public_key()))
    assert (unknown.state, unknown.ags, unknown.public_key) == (AccountState.UNKNOWN, "", b"")
    assert signing_key_usable_at(unknown, 0) == "Schlüssel ist im Register unbekannt"
    assert ctx.ledger.signing_keys_of(NEVER_ADMITTED) == []
    with pytest.raises(InputError, match="32 Byte"):
        ctx.ledger.signing_key(b"\x01" * 33)


def test_refusals_are_german_ledger_errors(ctx: Context, registrar: LocalAccount) -> None:
    ledger = ctx.ledger
    public = new_public_key()
    cases: list[tuple[Callable[[], object], str, str]] = [
        (lambda: ledger.add_signing_key(registrar, ESSEN, b"\x04" + public[1:]),
         "IssuerRegistryInvalidSigningKey", "Ungültiger Signaturschlüssel"),
        (lambda: ledger.add_signing_key(registrar, ESSEN, public[:32]),
         "IssuerRegistryInvalidSigningKey", "komprimierter P-256-Schlüssel"),
        (lambda: ledger.add_signing_key(registrar, NEVER_ADMITTED, public),
         "IssuerRegistryUnknownMunicipality", "nicht zugelassen"),
        (lambda: ledger.retire_signing_key(registrar, signing_key_id(public)),
         "IssuerRegistryUnknownSigningKey", "nicht eingetragen"),
    ]
    for call, name, text in cases:
        with pytest.raises(LedgerError, match=text) as caught:
            call()
        assert caught.value.error_name == name
        assert not isinstance(caught.value, NotAuthorizedError)

    ledger.add_signing_key(registrar, ESSEN, public)
    with pytest.raises(LedgerError, match="bereits eingetragen") as caught:
        ledger.add_signing_key(registrar, DUISBURG, public)
    assert caught.value.error_name == "IssuerRegistrySigningKeyExists"
    ledger.retire_signing_key(registrar, signing_key_id(public))
    with pytest.raises(LedgerError, match="bereits stillgelegt") as caught:
        ledger.retire_signing_key(registrar, signing_key_id(public))
    assert caught.value.error_name == "IssuerRegistrySigningKeyRetired"
    with pytest.raises(LedgerError, match="Kompromittierungszeitpunkt") as caught:
        ledger.mark_signing_key_compromised(registrar, signing_key_id(public), 0)
    assert caught.value.error_name == "IssuerRegistryInvalidCompromiseTime"


def test_only_the_registrar_writes_keys(ctx: Context, registrar: LocalAccount) -> None:
    other: LocalAccount = Account.create()
    ctx.chain.fund(other.address, 10**18)
    public = new_public_key()
    ctx.ledger.add_signing_key(registrar, DUISBURG, public)
    writes: list[Callable[[], object]] = [
        lambda: ctx.ledger.add_signing_key(other, DUISBURG, new_public_key()),
        lambda: ctx.ledger.retire_signing_key(other, signing_key_id(public)),
        lambda: ctx.ledger.mark_signing_key_compromised(other, signing_key_id(public), 1),
    ]
    for write in writes:
        with pytest.raises(NotAuthorizedError, match="Rolle") as caught:
            write()
        assert caught.value.error_name == "AccessControlUnauthorizedAccount"
    assert ctx.ledger.signing_key(signing_key_id(public)).state is AccountState.ACTIVE


def test_a_deployment_before_signing_keys(ctx: Context, registrar: LocalAccount) -> None:
    # An issuer registry without the signing-key functions: any contract that lacks them answers
    # as an older IssuerRegistry does (a revert without data); the document registry is one.
    old = Ledger(ctx.chain, replace(ctx.deployment,
                                    issuer_registry=ctx.deployment.document_registry))
    assert old.signing_keys_of(DUISBURG) == []
    with pytest.raises(SigningKeysUnsupportedError, match="kennt keine Signaturschlüssel"):
        old.signing_key(signing_key_id(new_public_key()))
    writes: list[Callable[[], object]] = [lambda: old.add_signing_key(registrar, DUISBURG, new_public_key()),
              lambda: old.retire_signing_key(registrar, bytes(32)),
              lambda: old.mark_signing_key_compromised(registrar, bytes(32), 1)]
    for write in writes:
        with pytest.raises(SigningKeysUnsupportedError, match="neues Deployment"):
            write()
    # the real registry of the same deployment is not mistaken for an old one
    with pytest.raises(LedgerError) as caught:
        ctx.ledger.retire_signing_key(registrar, bytes(32))
    assert caught.value.error_name == "IssuerRegistryUnknownSigningKey"

"""Which issuer account signs for a municipality, and its unlocked key: used when documents are
salted (the account named in the proof) and by the anchoring pipeline (the key that signs). The
key is the file keystore's LocalAccount or, with an HSM (adapters.hsm), an account in the token
that signs there."""

from __future__ import annotations

from typing import Protocol

from govchain.adapters.context import Context
from govchain.adapters.index import IndexedLedger
from govchain.adapters.keys import AccountSigner
from govchain.domain.ledger_view import AccountState, IssuerAccount, Municipality
from govchain.errors import (
    GovchainError,
    InputError,
    KeyStoreError,
)


def issuer_address(ctx: Context, ags: str, account: str | None = None) -> str:
    """The account that signs for the municipality.

    An explicitly named account is used as it is, if this home holds its key: the contracts decide
    whether it may act (the chain is the source of truth for rights). Otherwise the newest active,
    uncompromised account of the municipality whose key this home holds.
    """
    if account:
        if not ctx.keys.has(account):
            raise KeyStoreError(f"Der Schlüssel des Kontos {account} ist nicht in diesem "
                                "Schlüsselspeicher")
        return account
    registry = registry_view(ctx)
    municipality = registry.municipality(ags)
    if not municipality.admitted:
        raise InputError(f"Die Kommune mit AGS {ags} ist nicht zugelassen")
    for address in reversed(municipality.accounts):
        info = registry.issuer_account(address)
        if info.state is AccountState.ACTIVE and not info.compromised_since \
                and ctx.keys.has(address):
            return str(address)
    raise KeyStoreError(f"Kein aktives Ausstellerkonto der Kommune {ags} in diesem "
                        "Schlüsselspeicher")


class _RegistryView(Protocol):
    def municipality(self, ags: str) -> Municipality: ...

    def issuer_account(self, address: str) -> IssuerAccount: ...


class _LastKnown:
    """The status index's registry view, also while the node is away."""

    def __init__(self, indexed: IndexedLedger) -> None:
        self._indexed = indexed

    def municipality(self, ags: str) -> Municipality:
        try:
            return self._indexed.municipality(ags)
        except GovchainError:
            return self._indexed.last_known_municipality(ags)

    def issuer_account(self, address: str) -> IssuerAccount:
        try:
            return self._indexed.issuer_account(address)
        except GovchainError:
            return self._indexed.last_known_issuer_account(address)


def registry_view(ctx: Context) -> _RegistryView:
    """Who may issue, for accepting documents: the service keeps accepting (as pending) while
    the ledger node is away, from what its status index last saw; the anchor transaction is
    checked by the contract again."""
    if ctx.indexed is not None:
        return _LastKnown(ctx.indexed)
    return ctx.ledger


def issuer_signer(ctx: Context, ags: str, account: str | None = None) -> AccountSigner:
    """The key of issuer_address(ctx, ags, account), ready to sign (unlocked, or in the HSM)."""
    return ctx.keys.unlock(issuer_address(ctx, ags, account))

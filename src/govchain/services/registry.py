"""The Land's register on the ledger: the home's contracts, municipalities, their document types
and issuer accounts (admit, suspend, reactivate, add, retire, mark compromised)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime

from govchain.adapters.chain.base import ChainFeatureUnsupportedError
from govchain.adapters.context import REGISTRAR_LABEL, Context, issuer_label
from govchain.adapters.keys import AccountSigner, SigningKeyInfo
from govchain.adapters.ledger import Ledger, TxResult, save_deployment
from govchain.domain.data_integrity import public_key_from_bytes, public_key_multibase
from govchain.domain.ledger_view import Deployment, SigningKey
from govchain.domain.text import check_shown_text
from govchain.errors import (
    InputError,
    KeyStoreError,
)

# Enough ether for years of anchoring on a development chain; real networks fund accounts
# themselves or run with a gas price of zero (Besu QBFT consortium).
DEV_FUNDING_WEI = 10**21


def init_home(ctx: Context) -> Deployment:
    """Creates the registrar key and deploys the contracts, unless the home has a deployment."""
    if ctx.initialised:
        return ctx.deployment
    keys = ctx.ensure_keystore()
    existing = keys.by_label(REGISTRAR_LABEL)
    registrar = keys.unlock(existing[0].address) if existing else keys.unlock(
        keys.create(REGISTRAR_LABEL).address)
    ctx.chain.fund(registrar.address, DEV_FUNDING_WEI)
    deployment = Ledger.deploy(ctx.chain, registrar)
    save_deployment(deployment, ctx.deployment_file)
    return ctx.deployment


def registrar_account(ctx: Context) -> AccountSigner:
    found = ctx.keys.by_label(REGISTRAR_LABEL)
    if not found:
        raise KeyStoreError(f"Kein Registrar-Schlüssel in {ctx.keys.where}")
    return ctx.keys.unlock(found[0].address)


def signing_label(ags: str) -> str:
    return f"signing:{ags}"


def _doc_types(ctx: Context, usecase_ids: Sequence[str]) -> list[bytes]:
    return [ctx.usecases.get(u).doc_type for u in usecase_ids]


def _new_issuer_key(ctx: Context, ags: str) -> str:
    info = ctx.keys.create(issuer_label(ags))
    ctx.chain.fund(info.address, DEV_FUNDING_WEI)
    return info.address


def admit_municipality(ctx: Context, ags: str, name: str, usecase_ids: Sequence[str],
                       accounts: int = 1) -> list[str]:
    """Admits a municipality with `accounts` new issuer keys; returns their addresses."""
    if accounts < 1:
        raise InputError("Mindestens ein Ausstellerkonto")
    check_shown_text("/name", "Name der Kommune", name)
    types = _doc_types(ctx, usecase_ids)
    registrar = registrar_account(ctx)
    addresses = [_new_issuer_key(ctx, ags) for _ in range(accounts)]
    ctx.ledger.admit_municipality(registrar, ags, name.strip(), addresses, types)
    add_signing_key(ctx, ags)
    return addresses


def set_doc_types(ctx: Context, ags: str, usecase_ids: Sequence[str]) -> TxResult:
    return ctx.ledger.set_doc_types(registrar_account(ctx), ags, _doc_types(ctx, usecase_ids))


def suspend_municipality(ctx: Context, ags: str) -> TxResult:
    return ctx.ledger.suspend_municipality(registrar_account(ctx), ags)


def reactivate_municipality(ctx: Context, ags: str) -> TxResult:
    return ctx.ledger.reactivate_municipality(registrar_account(ctx), ags)


def add_issuer_account(ctx: Context, ags: str) -> str:
    """Key rotation, step one: a new account for the municipality."""
    address = _new_issuer_key(ctx, ags)
    ctx.ledger.add_account(registrar_account(ctx), ags, address)
    return address


def retire_account(ctx: Context, account: str) -> TxResult:
    return ctx.ledger.retire_account(registrar_account(ctx), account)


def add_signing_key(ctx: Context, ags: str) -> SigningKeyInfo:
    """A new credential-signing key (P-256) for the municipality, kept encrypted in this
    service's keystore (or made in its HSM) and registered on the ledger: admission, and key
    rotation step one."""
    info = ctx.keys.create_signing_key(signing_label(ags))
    ctx.ledger.add_signing_key(registrar_account(ctx), ags, info.public_key)
    return info


def retire_signing_key(ctx: Context, key_id: bytes) -> TxResult:
    return ctx.ledger.retire_signing_key(registrar_account(ctx), key_id)


def mark_signing_key_compromised(ctx: Context, key_id: bytes, since: datetime) -> TxResult:
    if not compromise_time_fits(since):
        raise InputError(f"Der Zeitpunkt {since.isoformat()} liegt außerhalb des zulässigen "
                         "Bereichs (ab 1970)")
    return ctx.ledger.mark_signing_key_compromised(registrar_account(ctx), key_id,
                                                   int(since.timestamp()))


def signing_key_multibase(key: SigningKey) -> str | None:
    """A ledger signing key's Multikey form (None for an unknown id)."""
    if not key.public_key:
        return None
    return public_key_multibase(public_key_from_bytes(key.public_key))


def parse_key_id(text: str) -> bytes:
    """A signing key's ledger id from its hex form (with or without 0x) or its DID URL."""
    raw = text.rsplit("#key-", 1)[-1].removeprefix("0x").lower()
    if len(raw) != 64 or any(c not in "0123456789abcdef" for c in raw):
        raise InputError(f"Keine Schlüssel-ID: {text!r} (64 Hexziffern erwartet)")
    return bytes.fromhex(raw)


def compromise_time_fits(since: datetime) -> bool:
    """Whether the contract can hold `since` (uint48 Unix seconds; 0 would mean "never"). A time
    after now is refused by the contract itself."""
    return 1 <= since.timestamp() < 2 ** 48


def mark_compromised(ctx: Context, account: str, since: datetime) -> TxResult:
    if not compromise_time_fits(since):
        raise InputError(f"Der Zeitpunkt {since.isoformat()} liegt außerhalb des zulässigen "
                         "Bereichs (ab 1970)")
    return ctx.ledger.mark_compromised(registrar_account(ctx), account, int(since.timestamp()))


def advance_chain_time(ctx: Context, at_least: datetime) -> None:
    """Makes the next block carry a timestamp of at least `at_least` (demos and drills).

    Development chains jump their clock; a real network is simply waited for.
    """
    target = int(at_least.timestamp())
    latest = ctx.chain.latest_block().timestamp
    if latest >= target:
        return
    try:
        ctx.chain.set_next_block_timestamp(target)
    except ChainFeatureUnsupportedError:
        while ctx.chain.latest_block().timestamp < target and time.time() < target:
            time.sleep(0.2)


def doc_type_name(ctx: Context, doc_type: bytes) -> str:
    uc = ctx.usecases.by_doc_type(doc_type)
    return uc.id if uc else "0x" + doc_type.hex()

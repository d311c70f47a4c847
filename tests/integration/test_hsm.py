"""Keys in an HSM over PKCS#11 (adapters.hsm), on SoftHSM2 with a fresh token per test session:
the registrar, the issuer account and the signing keys are made in the token and never leave it;
anchoring, revoking, the W3C VC and the SD-JWT VC are signed there and verify; a second signing
key is made there on rotation; a token unplugged mid-run is a clear German error, loses nothing
(documents stay pending) and work goes on when it is back."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pkcs11
import pytest
import sqlalchemy as sa
from eth_account import Account
from pkcs11 import Attribute, ObjectClass

from govchain import services
from govchain.adapters.context import Context
from govchain.adapters.db import UnitOfWork
from govchain.adapters.hsm import P256, SECP256K1, SECP256K1_N, TokenAccount, TokenKeyStore
from govchain.domain import data_integrity, sd_jwt
from govchain.domain.did import key_id_of_method
from govchain.domain.hashing import keccak
from govchain.domain.verification import Status
from govchain.entrypoints.cli.base import EXIT_UNAVAILABLE, handle_errors
from govchain.entrypoints.http.errors import status_of
from govchain.errors import KeyStoreError, KeyUnavailableError
from govchain.pipeline.batches import anchor_now
from govchain.services import credentials, sd_jwt_vc

MODULE = Path(os.environ.get("SOFTHSM2_MODULE", "/usr/lib/softhsm/libsofthsm2.so"))
LABEL = "govchain-test"
PIN = "7391-test-pin"
DUEREN = "05358008"
BASE = "https://govchain.example.nrw"


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A SoftHSM2 configuration with its own token directory and one fresh token; yields the
    token directory (renaming it unplugs the token)."""
    if not MODULE.exists() or shutil.which("softhsm2-util") is None:
        pytest.fail("SoftHSM2 fehlt: `apt-get install softhsm2` (scripts/bootstrap --dev)")
    root = tmp_path_factory.mktemp("softhsm")
    tokens = root / "tokens"
    tokens.mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n"
                    "log.level = ERROR\n")
    mp = pytest.MonkeyPatch()
    mp.setenv("SOFTHSM2_CONF", str(conf))
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", LABEL, "--pin", PIN,
                    "--so-pin", "5550-so-pin"], check=True, capture_output=True)
    yield tokens
    mp.undo()


@pytest.fixture(scope="module")
def ctx(softhsm: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Context]:
    """A home whose keys are in the token: `govchain init` and the admission made them there."""
    mp = pytest.MonkeyPatch()
    mp.setenv("GOVCHAIN_PKCS11_PIN", PIN)
    mp.setenv("GOVCHAIN_KEY_PASSPHRASE", "test passphrase – not a secret")
    home = tmp_path_factory.mktemp("home-hsm")
    context = Context(home=home, public_base_url=BASE, pkcs11_module=MODULE,
                      pkcs11_token_label=LABEL)
    try:
        services.init_home(context)
        services.admit_municipality(context, DUEREN, "Stadt Düren", ["gefaehrlicher-hund"])
        yield context
    finally:
        context.close()
        mp.undo()


def _private_keys(curve: bytes) -> list[dict[Attribute, Any]]:
    """What the token says about its private keys on `curve` (a session of the test's own)."""
    token = pkcs11.lib(str(MODULE)).get_token(token_label=LABEL)
    with token.open() as session:  # the home's session logged in (login is per process)
        return [{a: key[a] for a in (Attribute.ID, Attribute.LABEL, Attribute.SENSITIVE,
                                     Attribute.EXTRACTABLE, Attribute.NEVER_EXTRACTABLE,
                                     Attribute.ALWAYS_SENSITIVE, Attribute.LOCAL)}
                for key in session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY,
                                                Attribute.EC_PARAMS: curve})]


def issue(ctx: Context, engine: sa.Engine, n: int = 1, *, anchor: bool = True) -> list[str]:
    example = ctx.usecases.get("gefaehrlicher-hund").examples[0]
    start = datetime.now(UTC) - timedelta(days=1)
    with UnitOfWork(engine) as uow:
        pending = services.accept_documents(
            ctx, uow, DUEREN, "gefaehrlicher-hund",
            [services.IssueRequest(example["subject"], start, start + timedelta(days=365))
             for _ in range(n)])
        uow.commit()
    if anchor:
        assert pending[0].account is not None
        assert anchor_now(ctx, engine, pending[0].account) == n
    return [p.id for p in pending]


def record_of(engine: sa.Engine, document_id: str) -> Any:
    with UnitOfWork(engine) as uow:
        record = uow.documents.get(document_id)
    assert record is not None
    return record


def vc_of(ctx: Context, engine: sa.Engine, document_id: str) -> dict[str, Any]:
    with UnitOfWork(engine) as uow:
        record = uow.documents.get(document_id)
        assert record is not None
        vc = credentials.credential_for(ctx, uow, record)
        uow.commit()
    return vc


def test_the_keys_are_made_in_the_token_and_never_leave_it(ctx: Context) -> None:
    assert isinstance(ctx.keys, TokenKeyStore)
    accounts = _private_keys(SECP256K1)
    assert {str(k[Attribute.LABEL]) for k in accounts} == {"registrar", f"issuer:{DUEREN}"}
    assert ctx.deployment.admin == ctx.keys.by_label("registrar")[0].address
    (signing,) = _private_keys(P256)
    assert str(signing[Attribute.LABEL]) == f"signing:{DUEREN}"
    assert bytes(signing[Attribute.ID]) == ctx.ledger.signing_keys_of(DUEREN)[0].key_id
    for key in [*accounts, signing]:
        assert key[Attribute.SENSITIVE] and key[Attribute.ALWAYS_SENSITIVE] and key[Attribute.LOCAL]
        assert not key[Attribute.EXTRACTABLE] and key[Attribute.NEVER_EXTRACTABLE]
    assert not list((ctx.home / "keys").glob("*.json"))  # nothing in the file keystore
    private = ctx.keys.unlock_signing_key(bytes(signing[Attribute.ID]))
    with pytest.raises(KeyStoreError, match="verlässt"):
        private.private_numbers()


def test_account_signatures_are_ethereum_signatures(ctx: Context) -> None:
    account = ctx.keys.unlock(ctx.keys.by_label(f"issuer:{DUEREN}")[0].address)
    assert isinstance(account, TokenAccount)
    for i in range(16):  # half of raw ECDSA signatures have a high s: each one is normalised
        digest = bytes(keccak(i.to_bytes(4, "big")))
        signature = account.sign_msg_hash(digest)
        assert signature.s <= SECP256K1_N // 2
        assert Account._recover_hash(digest, vrs=(signature.v + 27, signature.r,
                                                  signature.s)) == account.address


def test_anchoring_revoking_and_both_credentials_are_signed_in_the_token(
        ctx: Context, engine: sa.Engine) -> None:
    (doc_id,) = issue(ctx, engine)
    record = record_of(engine, doc_id)
    issuer = ctx.keys.by_label(f"issuer:{DUEREN}")[0].address
    assert record.state == "anchored" and record.account == issuer
    # the W3C VC: Data Integrity proof made by the token, govchain's verification says VALID
    vc = vc_of(ctx, engine, doc_id)
    assert key_id_of_method(vc["proof"][1]["verificationMethod"])[1] \
        == ctx.ledger.signing_keys_of(DUEREN)[0].key_id
    assert services.verify(ctx, vc).status is Status.VALID
    # the SD-JWT VC: ES256 by the token, checked with the ledger's key
    token = sd_jwt_vc.sd_jwt_vc_for(ctx, record_of(engine, doc_id))

    def ledger_key(header: dict[str, Any], _payload: dict[str, Any]) -> Any:
        key = ctx.ledger.signing_key(sd_jwt_vc.key_id_of_kid(header.get("kid")))
        assert key.ags == DUEREN
        return data_integrity.public_key_from_bytes(key.public_key)

    verified = sd_jwt.verify(token, issuer_key=ledger_key, typ=sd_jwt.TYP,
                             require_key_binding=False, now=int(datetime.now(UTC).timestamp()))
    assert verified.payload["govchain"]["targetHash"]
    # revoking: the transaction signed by the issuer account in the token
    services.change_status(ctx, vc, "revoke", 1)
    assert services.verify(ctx, vc).status is Status.REVOKED


def test_rotation_makes_the_new_signing_key_in_the_token(ctx: Context, engine: sa.Engine
                                                          ) -> None:
    before = {bytes(k[Attribute.ID]) for k in _private_keys(P256)}
    new = services.add_signing_key(ctx, DUEREN)
    assert new.path is None
    assert {bytes(k[Attribute.ID]) for k in _private_keys(P256)} == before | {new.key_id}
    assert credentials.current_signer(ctx, DUEREN).key.key_id == new.key_id
    (doc_id,) = issue(ctx, engine)
    vc = vc_of(ctx, engine, doc_id)
    assert key_id_of_method(vc["proof"][1]["verificationMethod"])[1] == new.key_id
    assert services.verify(ctx, vc).status is Status.VALID
    # a new issuer account too (rotation of accounts), anchoring with it
    address = services.add_issuer_account(ctx, DUEREN)
    assert len(_private_keys(SECP256K1)) == 3
    example = ctx.usecases.get("gefaehrlicher-hund").examples[0]
    with UnitOfWork(engine) as uow:
        (pending,) = services.accept_documents(ctx, uow, DUEREN, "gefaehrlicher-hund",
                                               [services.IssueRequest(example["subject"])])
        uow.commit()
    assert pending.account == address
    assert anchor_now(ctx, engine, address) == 1


def test_an_unplugged_token_loses_nothing_and_work_goes_on_when_it_is_back(
        ctx: Context, engine: sa.Engine, softhsm: Path) -> None:
    (signed_before,) = issue(ctx, engine)
    ids = issue(ctx, engine, n=3, anchor=False)
    account = record_of(engine, ids[0]).account
    away = softhsm.with_name("tokens-unplugged")
    softhsm.rename(away)
    try:
        with pytest.raises(KeyUnavailableError, match=r"HSM-Token »govchain-test«.*ichts wurde "
                                                      r"signiert, es wird später erneut versucht"):
            anchor_now(ctx, engine, account)
        with pytest.raises(KeyUnavailableError, match="HSM-Token »govchain-test«"):
            vc_of(ctx, engine, signed_before)
        # accepting goes on from what the token last listed; nothing is failed or lost
        (accepted_meanwhile,) = issue(ctx, engine, anchor=False)
        ids.append(accepted_meanwhile)
        assert {record_of(engine, i).state for i in ids} == {"pending"}
        with pytest.raises(KeyUnavailableError, match="nicht erreichbar"):  # still away
            anchor_now(ctx, engine, account)
        assert {record_of(engine, i).state for i in ids} == {"pending"}
    finally:
        away.rename(softhsm)
    assert anchor_now(ctx, engine, account) == 4
    assert {record_of(engine, i).state for i in ids} == {"anchored"}
    assert services.verify(ctx, vc_of(ctx, engine, ids[0])).status is Status.VALID
    assert services.verify(ctx, vc_of(ctx, engine, signed_before)).status is Status.VALID


def test_an_unplugged_token_is_a_503_for_callers_and_exit_code_3_at_the_command_line() -> None:
    err = KeyUnavailableError("das HSM-Token ist nicht erreichbar")
    assert status_of(err) == 503
    with pytest.raises(SystemExit) as exited:
        handle_errors(lambda: (_ for _ in ()).throw(err))()
    assert exited.value.code == EXIT_UNAVAILABLE


def test_the_pin_is_not_in_what_the_keystore_shows(ctx: Context) -> None:
    assert PIN not in repr(ctx.keys) and PIN not in repr(ctx.keys.unlock(
        ctx.keys.by_label("registrar")[0].address))

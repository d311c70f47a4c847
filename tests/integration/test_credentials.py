"""Open standards on a real chain and database: DIDs from the ledger's signing keys, the W3C VC
with its Data Integrity proof checked by govchain's verification, status lists that follow the
ledger, and the signing keys' rotation and compromise."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from govchain import services
from govchain.adapters.context import Context
from govchain.adapters.db import UnitOfWork
from govchain.domain import data_integrity, status_lists
from govchain.domain.did import ags_of_did, key_id_of_method
from govchain.domain.verification import CheckStatus, Status
from govchain.errors import ConflictError
from govchain.pipeline.batches import anchor_now
from govchain.services import credentials

DUEREN = "05358008"
BASE = "https://govchain.example.nrw"


@pytest.fixture(scope="module")
def ctx(ledger_context: Context) -> Iterator[Context]:
    ledger_context.public_base_url = BASE
    if not ledger_context.ledger.municipality(DUEREN).admitted:
        services.admit_municipality(ledger_context, DUEREN, "Stadt Düren",
                                    ["gefaehrlicher-hund", "strassenmusik",
                                     "wohnungsgeberbestaetigung"])
    yield ledger_context
    ledger_context.public_base_url = None


def issue(ctx: Context, engine: sa.Engine, usecase: str = "gefaehrlicher-hund", n: int = 1
          ) -> list[str]:
    example = ctx.usecases.get(usecase).examples[0]
    start = datetime.now(UTC) - timedelta(days=1)
    with UnitOfWork(engine) as uow:
        pending = services.accept_documents(
            ctx, uow, DUEREN, usecase,
            [services.IssueRequest(example["subject"], start, start + timedelta(days=365))
             for _ in range(n)])
        uow.commit()
    assert pending[0].account is not None
    assert anchor_now(ctx, engine, pending[0].account) == n
    return [p.id for p in pending]


def vc_of(ctx: Context, engine: sa.Engine, document_id: str) -> dict[str, Any]:
    with UnitOfWork(engine) as uow:
        record = uow.documents.get(document_id)
        assert record is not None
        vc = credentials.credential_for(ctx, uow, record)
        uow.commit()
    return vc


def test_a_new_document_names_the_municipality_did_and_two_status_list_entries(
        ctx: Context, engine: sa.Engine) -> None:
    (doc_id,) = issue(ctx, engine)
    vc = vc_of(ctx, engine, doc_id)
    assert vc["issuer"]["id"] == "did:web:govchain.example.nrw:municipalities:05358008"
    assert vc["@context"][1] == f"{BASE}/credentials/v1"
    ledger_entry, revocation, suspension = vc["credentialStatus"]
    assert ledger_entry["type"] == "GovchainLedgerStatus2026"
    assert [revocation["statusPurpose"], suspension["statusPurpose"]] == ["revocation",
                                                                           "suspension"]
    assert revocation["statusListIndex"] == suspension["statusListIndex"]
    assert revocation["statusListCredential"] == f"{BASE}/status/{DUEREN}/revocation-0"
    merkle, di = vc["proof"]
    assert merkle["type"] == "GovchainMerkleProof2026"
    assert (di["type"], di["cryptosuite"]) == ("DataIntegrityProof", "ecdsa-rdfc-2019")
    # made once, then kept: the same proof the second time
    assert vc_of(ctx, engine, doc_id)["proof"][1] == di


def test_govchain_verifies_the_vc_with_its_signature(ctx: Context, engine: sa.Engine) -> None:
    (doc_id,) = issue(ctx, engine, "strassenmusik")
    vc = vc_of(ctx, engine, doc_id)
    result = services.verify(ctx, vc)
    assert result.status is Status.VALID, result.checks
    assert "Data Integrity" in result.check("issuer").message


def _broken(vc: dict[str, Any], change: str) -> dict[str, Any]:
    bad = copy.deepcopy(vc)
    di = bad["proof"][1]
    if change == "signature":
        value = data_integrity.base58btc_decode(di["proofValue"][1:])
        di["proofValue"] = "z" + data_integrity.base58btc_encode(bytes([value[0] ^ 1]) + value[1:])
    elif change == "other-did":
        _, key_id = key_id_of_method(di["verificationMethod"])
        di["verificationMethod"] = ("did:web:govchain.example.nrw:municipalities:05334002#key-"
                                    + key_id.hex())
    elif change == "unknown-key":
        di["verificationMethod"] = di["verificationMethod"][:-4] + "beef"
    elif change == "cryptosuite":
        di["cryptosuite"] = "ecdsa-jcs-2019"
    elif change == "two-signatures":
        bad["proof"].append(copy.deepcopy(di))
    elif change == "before-the-key":
        di["created"] = "2020-01-01T00:00:00Z"
    return bad


@pytest.mark.parametrize("change", ["signature", "other-did", "unknown-key", "cryptosuite",
                                    "two-signatures", "before-the-key"])
def test_a_bad_signature_is_invalid_with_a_reason(ctx: Context, engine: sa.Engine,
                                                   change: str) -> None:
    (doc_id,) = issue(ctx, engine)
    result = services.verify(ctx, _broken(vc_of(ctx, engine, doc_id), change))
    assert result.status is Status.INVALID
    assert result.check("issuer").status is CheckStatus.FAILED
    assert "Signatur" in result.check("issuer").message


def test_hiding_a_field_drops_the_signature_and_stays_valid(ctx: Context,
                                                           engine: sa.Engine) -> None:
    (doc_id,) = issue(ctx, engine)
    vc = vc_of(ctx, engine, doc_id)
    shown = services.disclose_document(ctx.usecases, vc, ["/halter/geburtsdatum"])
    assert isinstance(shown["proof"], dict) and shown["proof"]["type"] == "GovchainMerkleProof2026"
    assert services.verify(ctx, shown).status is Status.VALID
    # the signature kept beside hidden fields is refused: it cannot cover them
    shown["proof"] = [shown["proof"], vc["proof"][1]]
    result = services.verify(ctx, shown)
    assert result.status is Status.INVALID and "verborgen" in result.check("issuer").message


def test_a_changed_field_fails_both_proofs(ctx: Context, engine: sa.Engine) -> None:
    (doc_id,) = issue(ctx, engine)
    vc = vc_of(ctx, engine, doc_id)
    vc["credentialSubject"]["kategorie"] = "gefaehrlich-einzelfall"
    assert services.verify(ctx, vc).status is Status.INVALID


def test_the_did_document_lists_the_ledger_keys(ctx: Context) -> None:
    doc = credentials.did_document_for(ctx, DUEREN)
    assert doc["id"] == credentials.did_of(ctx, DUEREN) and ags_of_did(doc["id"]) == DUEREN
    keys = ctx.ledger.signing_keys_of(DUEREN)
    listed = {key_id_of_method(m["id"])[1] for m in doc["verificationMethod"]}
    assert listed == {k.key_id for k in keys if not k.compromised_since}
    assert doc["assertionMethod"] == [m["id"] for m in doc["verificationMethod"]]
    for method in doc["verificationMethod"]:
        assert method["type"] == "Multikey" and method["publicKeyMultibase"].startswith("zDn")


def _bits(ctx: Context, engine: sa.Engine, purpose: str) -> tuple[bytes, dict[str, Any]]:
    with UnitOfWork(engine) as uow:
        body = credentials.status_list_credential(ctx, uow, DUEREN, f"{purpose}-0").body
    credential = json.loads(body)
    return data_integrity.decode_status_list(credential["credentialSubject"]["encodedList"]), \
        credential


def test_status_lists_follow_the_ledger(ctx: Context, engine: sa.Engine) -> None:
    ids = issue(ctx, engine, n=3)
    with UnitOfWork(engine) as uow:
        docs = [uow.documents.get(i).document for i in ids]  # type: ignore[union-attr]
    positions = [status_lists.position_of(d)[1] for d in docs]  # type: ignore[arg-type,index]
    assert len(set(positions)) == 3
    bits, credential = _bits(ctx, engine, "revocation")
    assert len(bits) * 8 == status_lists.LIST_SIZE
    assert not any(data_integrity.get_bit(bits, p) for p in positions)
    # signed by the municipality, checkable with its DID's key
    proof = credential.pop("proof")
    _, key_id = key_id_of_method(proof["verificationMethod"])
    key = data_integrity.public_key_from_bytes(ctx.ledger.signing_key(key_id).public_key)
    assert data_integrity.verify_proof(credential, proof, key, credentials.document_loader(ctx))

    services.change_status(ctx, docs[0], "revoke", 1)  # type: ignore[arg-type]
    services.change_status(ctx, docs[1], "suspend", 6)  # type: ignore[arg-type]
    revoked, _ = _bits(ctx, engine, "revocation")
    suspended, _ = _bits(ctx, engine, "suspension")
    assert [data_integrity.get_bit(revoked, p) for p in positions] == [True, False, False]
    assert [data_integrity.get_bit(suspended, p) for p in positions] == [False, True, False]
    services.change_status(ctx, docs[1], "reinstate")  # type: ignore[arg-type]
    suspended, _ = _bits(ctx, engine, "suspension")
    assert not any(data_integrity.get_bit(suspended, p) for p in positions)


def test_rotation_and_compromise_of_signing_keys(ctx: Context, engine: sa.Engine) -> None:
    (old_id,) = issue(ctx, engine)
    old_vc = vc_of(ctx, engine, old_id)
    old_key = key_id_of_method(old_vc["proof"][1]["verificationMethod"])[1]
    new = services.add_signing_key(ctx, DUEREN)
    services.retire_signing_key(ctx, old_key)
    (new_id,) = issue(ctx, engine)
    new_vc = vc_of(ctx, engine, new_id)
    assert key_id_of_method(new_vc["proof"][1]["verificationMethod"])[1] == new.key_id
    # retired: signatures made before stay valid
    assert services.verify(ctx, old_vc).status is Status.VALID
    # compromised since before the old signature: it fails, the DID no longer lists the key
    created = datetime.fromisoformat(old_vc["proof"][1]["created"].replace("Z", "+00:00"))
    services.mark_signing_key_compromised(ctx, old_key, created - timedelta(seconds=1))
    result = services.verify(ctx, old_vc)
    assert result.status is Status.INVALID and "kompromittiert" in result.check("issuer").message
    listed = {key_id_of_method(m["id"])[1]
              for m in credentials.did_document_for(ctx, DUEREN)["verificationMethod"]}
    assert old_key not in listed and new.key_id in listed
    assert services.verify(ctx, new_vc).status is Status.VALID


def test_no_vc_before_the_anchor(ctx: Context, engine: sa.Engine) -> None:
    example = ctx.usecases.get("gefaehrlicher-hund").examples[0]
    with UnitOfWork(engine) as uow:
        (pending,) = services.accept_documents(ctx, uow, DUEREN, "gefaehrlicher-hund",
                                               [services.IssueRequest(example["subject"])])
        with pytest.raises(ConflictError, match="noch nicht verankert"):
            credentials.credential_for(ctx, uow, pending)

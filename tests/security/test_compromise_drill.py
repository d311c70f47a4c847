"""Key compromise drill, as the Land authority would run it over the API: an issuer key of Aachen is
reported stolen; the registrar marks it compromised since T. Documents it anchored from T on verify
INVALID with a German reason naming the time, those before T stay VALID; the stolen key can do
nothing any more; Aachen goes on with a new account, whose documents are VALID, and can still
revoke and suspend the documents the stolen key anchored before T.

(tests/integration/test_services.py::test_key_rotation_retirement_and_compromise runs the same
rules in the service layer on both chain adapters; tests/contracts/test_wrong_accounts.py shows
the contract refusing the compromised key.)
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from govchain import services
from govchain.adapters.context import Context
from govchain.adapters.db import UnitOfWork
from govchain.domain.security import hash_password, password_hasher
from govchain.domain.timefmt import parse_time
from govchain.entrypoints.http.app import create_app
from govchain.errors import GovchainError, NotAuthorizedError
from govchain.pipeline.batches import anchor_now
from govchain.services import credentials
from govchain.settings import Settings

AACHEN = "05334002"
DOG = "gefaehrlicher-hund"
PASSWORD = "ein-langes-passwort-fuer-tests"
PASSPHRASE = "test passphrase – not a secret"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    home: Path = tmp_path_factory.mktemp("drill-home")
    mp = pytest.MonkeyPatch()
    mp.setenv("GOVCHAIN_KEY_PASSPHRASE", PASSPHRASE)
    try:
        with TestClient(create_app(Settings(home=home))) as test_client:
            ctx = context(test_client)
            services.admit_municipality(ctx, AACHEN, "Stadt Aachen", [DOG])
            cheap = password_hasher(time_cost=1, memory_cost_kib=8)
            with UnitOfWork(test_client.app.state.engine) as uow:  # type: ignore[attr-defined]
                uow.users.add(username="landesamt", role="registrar", municipality_ags=None,
                              password_hash=hash_password(PASSWORD, hasher=cheap),
                              display_name="Landesamt")
                uow.commit()
            yield test_client
    finally:
        mp.undo()


def context(client: TestClient) -> Context:
    ctx: Context = client.app.state.context  # type: ignore[attr-defined]
    return ctx


def registrar(client: TestClient) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": "landesamt", "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def issue(ctx: Context, account: str | None = None) -> dict[str, Any]:
    subject = ctx.usecases.get(DOG).examples[0]["subject"]
    (doc,) = services.issue_documents(ctx, AACHEN, DOG, [services.IssueRequest(subject=subject)],
                                      account=account)
    return doc


def verify(client: TestClient, doc: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/api/v1/verify", json=doc)
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


def check(result: dict[str, Any], name: str) -> dict[str, str]:
    return next(c for c in result["checks"] if c["name"] == name)


def test_key_compromise_drill(client: TestClient) -> None:
    ctx = context(client)
    auth = registrar(client)
    stolen = services.issuer_signer(ctx, AACHEN).address

    before = issue(ctx)
    since = parse_time(before["proof"]["anchor"]["anchoredAt"]) + timedelta(seconds=1)
    services.advance_chain_time(ctx, since)
    after = issue(ctx)  # the thief (or the office, unaware) anchors at or after T
    assert before["issuer"]["account"] == after["issuer"]["account"] == stolen
    assert verify(client, after)["status"] == "VALID"

    # The registrar marks the key compromised since T.
    r = client.post(f"/api/v1/registry/accounts/{stolen}/compromise", headers=auth,
                    json={"since": since.isoformat()})
    assert r.status_code == 200, r.text
    assert r.json()["compromisedSince"] == int(since.timestamp())

    # Before T: still VALID. From T on: INVALID, with the reason in German.
    assert verify(client, before)["status"] == "VALID"
    result = verify(client, after)
    assert result["status"] == "INVALID"
    assert check(result, "integrity")["status"] == "passed"
    assert check(result, "anchoring")["status"] == "passed"
    issuer = check(result, "issuer")
    assert issuer["status"] == "failed"
    assert re.search(r"Schlüssel des Ausstellers gilt seit .+ als kompromittiert; dieses "
                     r"Dokument wurde danach \(.+\) verankert", issuer["message"]), issuer

    # The stolen key can neither anchor nor change a status any more.
    with pytest.raises(NotAuthorizedError):
        issue(ctx, account=stolen)
    with pytest.raises(NotAuthorizedError):
        services.change_status(ctx, before, "revoke", 7, account=stolen)
    # Without another account, Aachen cannot issue at all (no key is picked silently).
    with pytest.raises(GovchainError):
        issue(ctx)

    # A compromise time can only move earlier, never be lifted.
    later = since + timedelta(seconds=1)
    r = client.post(f"/api/v1/registry/accounts/{stolen}/compromise", headers=auth,
                    json={"since": later.isoformat()})
    assert r.status_code == 409, r.text

    # Aachen continues on a new account.
    r = client.post(f"/api/v1/registry/municipalities/{AACHEN}/accounts", headers=auth)
    assert r.status_code == 201, r.text
    accounts = {a["address"]: a for a in r.json()["accounts"]}
    fresh = next(a for a in accounts if a != stolen)
    assert accounts[fresh]["state"] == "active" and accounts[stolen]["compromisedSince"]
    new_doc = issue(ctx)
    assert new_doc["issuer"]["account"] == fresh
    assert verify(client, new_doc)["status"] == "VALID"

    # ...and can still suspend and revoke what the stolen key anchored before T.
    services.change_status(ctx, before, "suspend", 7)
    assert verify(client, before)["status"] == "SUSPENDED"
    services.change_status(ctx, before, "reinstate")
    services.change_status(ctx, before, "revoke", 7)
    revoked = verify(client, before)
    assert revoked["status"] == "REVOKED"
    assert "Verdacht auf Missbrauch" in check(revoked, "status")["message"]
    # A document from after T stays INVALID whatever its status.
    services.change_status(ctx, after, "revoke", 7)
    assert verify(client, after)["status"] == "INVALID"


def _vc(ctx: Context, engine: Any) -> dict[str, Any]:
    """A document issued with records (status list entries), anchored, as its W3C VC."""
    subject = ctx.usecases.get(DOG).examples[0]["subject"]
    with UnitOfWork(engine) as uow:
        (pending,) = services.accept_documents(ctx, uow, AACHEN, DOG,
                                               [services.IssueRequest(subject=subject)])
        uow.commit()
    assert pending.account is not None and anchor_now(ctx, engine, pending.account) == 1
    with UnitOfWork(engine) as uow:
        record = uow.documents.get(pending.id)
        assert record is not None
        vc = credentials.credential_for(ctx, uow, record)
        uow.commit()
    return vc


def test_signing_key_compromise_drill(client: TestClient) -> None:
    """The same drill for the key that signs the W3C VCs: a VC signed from T on fails, one signed
    before stays VALID, the DID document drops the key, and a new key takes over."""
    ctx = context(client)
    engine = client.app.state.engine  # type: ignore[attr-defined]
    auth = registrar(client)
    r = client.get(f"/api/v1/registry/municipalities/{AACHEN}/signing-keys", headers=auth)
    assert r.status_code == 200 and r.json(), r.text
    stolen = next(k for k in reversed(r.json()) if k["state"] == "active")["keyId"]

    before = _vc(ctx, engine)
    time.sleep(1.1)  # proofs carry whole seconds: the next one is a second later
    after = _vc(ctx, engine)  # signed from T on (the thief, or the office unaware)
    since = parse_time(after["proof"][1]["created"])
    assert parse_time(before["proof"][1]["created"]) < since
    assert verify(client, after)["status"] == "VALID"

    r = client.post(f"/api/v1/registry/signing-keys/{stolen}/compromise", headers=auth,
                    json={"since": since.isoformat()})
    assert r.status_code == 200, r.text
    assert r.json()["compromisedSince"] == int(since.timestamp())

    assert verify(client, before)["status"] == "VALID"
    result = verify(client, after)
    assert result["status"] == "INVALID"
    assert re.search(r"Signatur .*ungültig: Schlüssel gilt seit .+ als kompromittiert",
                     check(result, "issuer")["message"]), result
    did_doc = client.get(f"/municipalities/{AACHEN}/did.json").json()
    assert not any(m["id"].endswith(stolen) for m in did_doc["verificationMethod"])
    # no usable key left: no new VC is signed (nothing is picked silently)
    with pytest.raises(GovchainError, match="kein gültiger Signaturschlüssel"):
        _vc(ctx, engine)

    # a new key takes over; the DID document lists it, its VCs verify
    r = client.post(f"/api/v1/registry/municipalities/{AACHEN}/signing-keys", headers=auth)
    assert r.status_code == 201, r.text
    fresh = r.json()["keyId"]
    assert r.json()["publicKeyMultibase"].startswith("zDn")
    did_doc = client.get(f"/municipalities/{AACHEN}/did.json").json()
    assert [m["id"].rsplit("-", 1)[-1] for m in did_doc["verificationMethod"]] == [fresh]
    new_vc = _vc(ctx, engine)
    assert new_vc["proof"][1]["verificationMethod"].endswith(fresh)
    assert verify(client, new_vc)["status"] == "VALID"
    # a compromise time can only move earlier; an unknown key is refused
    r = client.post(f"/api/v1/registry/signing-keys/{stolen}/compromise", headers=auth,
                    json={"since": (since + timedelta(seconds=5)).isoformat()})
    assert r.status_code == 409, r.text
    r = client.post(f"/api/v1/registry/signing-keys/{'ab' * 32}/retire", headers=auth)
    assert r.status_code in (404, 409), r.text

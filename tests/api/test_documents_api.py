"""Documents, verification links and the landlord flow over HTTP, on a real embedded chain and a
real SQLite database."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.engine import Engine

from govchain import services
from govchain.adapters.context import Context
from govchain.adapters.db import UnitOfWork
from govchain.domain.security import hash_password, password_hasher
from govchain.entrypoints.http.app import create_app
from govchain.entrypoints.http.tokens import issue_token
from govchain.errors import ValidationError
from govchain.services import issuing
from govchain.settings import Settings
from support.databases import fresh_database

AACHEN = "05334002"
KOELN = "05315000"
BASE_URL = "https://pruefen.example.de"
CHEAP = password_hasher(time_cost=1, memory_cost_kib=8)
DOG = "gefaehrlicher-hund"
LANDLORD_USECASE = "wohnungsgeberbestaetigung"


@dataclass(frozen=True)
class Users:
    clerk: dict[str, str]
    other_clerk: dict[str, str]  # a clerk of Köln
    registrar: dict[str, str]
    landlord: dict[str, str]
    other_landlord: dict[str, str]


@pytest.fixture(scope="module", params=[
    ("embedded", "sqlite"),
    pytest.param(("anvil", "postgresql"), marks=pytest.mark.anvil),
], ids=lambda p: "-".join(p))
def client(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The service on the embedded chain with SQLite, and on a real anvil with PostgreSQL."""
    chain, database = request.param
    mp = pytest.MonkeyPatch()
    mp.setenv("GOVCHAIN_KEY_PASSPHRASE", "test passphrase – not a secret")
    home: Path = tmp_path_factory.mktemp("documents-api")
    rpc_url = None
    if chain == "anvil":
        rpc_url = request.getfixturevalue("anvil").url
        with Context(home=home, rpc_url=rpc_url) as ctx:
            services.init_home(ctx)  # deploys the contracts on the node once
    databases = fresh_database(database, tmp_path_factory.mktemp("db"))
    engine = next(databases)
    database_url = None if database == "sqlite" else engine.url.render_as_string(
        hide_password=False)
    settings = Settings(home=home, rpc_url=rpc_url, database_url=database_url,
                        public_base_url=BASE_URL)
    try:
        with TestClient(create_app(settings)) as test_client:
            assert test_client.app.state.engine.dialect.name == database  # type: ignore[attr-defined]
            ctx = context_of(test_client)
            assert (ctx.rpc_url is None) == (chain == "embedded")
            services.admit_municipality(ctx, AACHEN, "Stadt Aachen",
                                        [uc.id for uc in ctx.usecases.all()])
            services.admit_municipality(ctx, KOELN, "Stadt Köln", [DOG])
            yield test_client
    finally:
        databases.close()  # drops the PostgreSQL schema
        mp.undo()


def context_of(client: TestClient) -> Context:
    ctx: Context = client.app.state.context  # type: ignore[attr-defined]
    return ctx


def engine_of(client: TestClient) -> Engine:
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    return engine


@pytest.fixture(scope="module")
def users(client: TestClient) -> Users:
    key: bytes = client.app.state.token_key  # type: ignore[attr-defined]

    def add(username: str, role: str, ags: str | None = None) -> dict[str, str]:
        with UnitOfWork(engine_of(client)) as uow:
            user = uow.users.add(username=username, role=role,  # type: ignore[arg-type]
                                 password_hash=hash_password("unbenutzt-im-test", hasher=CHEAP),
                                 municipality_ags=ags, display_name=username)
            uow.commit()
        token = issue_token(key, user_id=user.id, role=user.role, at=datetime.now(UTC),
                            ttl=timedelta(hours=1))
        return {"Authorization": f"Bearer {token}"}

    return Users(clerk=add("sb.aachen", "clerk", AACHEN), other_clerk=add("sb.koeln", "clerk", KOELN),
                 registrar=add("registratur", "registrar"), landlord=add("vermieter", "landlord"),
                 other_landlord=add("vermieterin", "landlord"))


def example(client: TestClient, usecase: str, index: int = 0) -> dict[str, Any]:
    subject: dict[str, Any] = copy.deepcopy(
        context_of(client).usecases.get(usecase).examples[index]["subject"])
    if "zeitfenster" in subject:  # usable at any hour the test happens to run
        subject["zeitfenster"] = [{"tage": ["mo", "di", "mi", "do", "fr", "sa", "so"],
                                   "von": "00:00", "bis": "24:00"}]
    return subject


def issue(client: TestClient, headers: dict[str, str], usecase: str = DOG,
          subject: dict[str, Any] | None = None, **extra: Any) -> Response:
    body = {"usecase": usecase, "subject": subject or example(client, usecase), **extra}
    response: Response = client.post("/api/v1/documents?wait=true", json=body, headers=headers)
    return response


def issued_id(client: TestClient, headers: dict[str, str], **kwargs: Any) -> str:
    response = issue(client, headers, **kwargs)
    assert response.status_code == 201, response.text
    doc_id: str = response.json()["id"]
    return doc_id


def link(client: TestClient, headers: dict[str, str], doc_id: str, **body: Any) -> dict[str, Any]:
    response = client.post(f"/api/v1/documents/{doc_id}/links", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def token_of(created_link: dict[str, Any]) -> str:
    url: str = created_link["url"]
    assert url.startswith(f"{BASE_URL}/v/")
    return url.rsplit("/", 1)[1]


def verify_link(client: TestClient, token: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/verify/{token}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def audit_actions(client: TestClient, target: str) -> list[str]:
    with UnitOfWork(engine_of(client)) as uow:
        return [e.action for e in uow.audit.list(target=target).items]


# -- issuing ----------------------------------------------------------------------------------

@pytest.mark.parametrize("usecase", [DOG, "strassenmusik", LANDLORD_USECASE])
def test_clerk_issues_each_usecase_and_its_link_verifies_valid(client: TestClient, users: Users,
                                                               usecase: str) -> None:
    response = issue(client, users.clerk, usecase)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "anchored"
    assert body["document"]["id"] == body["id"]
    assert body["document"]["issuer"]["ags"] == AACHEN
    assert "landlordCode" not in body and "link" not in body
    created = link(client, users.clerk, body["id"])
    assert set(created) == {"id", "url", "expiresAt"}
    checked = verify_link(client, token_of(created))
    assert checked["result"]["status"] == "VALID", checked["result"]
    assert checked["document"]["credentialSubject"] == body["document"]["credentialSubject"]
    assert audit_actions(client, body["id"]) == ["document.issue"]
    assert audit_actions(client, created["id"]) == ["link.create"]


def test_invalid_subject_is_422_naming_the_field(client: TestClient, users: Users) -> None:
    subject = example(client, DOG)
    subject["hund"]["chipnummer"] = "keine Nummer"
    response = issue(client, users.clerk, subject=subject)
    assert response.status_code == 422
    assert any(e["loc"] == "/hund/chipnummer" for e in response.json()["detail"])


def test_a_422_names_the_fields_but_never_echoes_the_input(client: TestClient, users: Users) -> None:
    secret = "Kowalczyk, Anna, geb. 01.02.1980, " * 500
    for method, url, body in [
            ("POST", "/api/v1/documents", {"usecase": DOG, "subject": secret}),
            ("POST", "/api/v1/documents", {"usecase": secret, "subject": example(client, DOG)}),
            ("POST", "/api/v1/documents/bulk", {"usecase": DOG, "items": [{"subject": secret}]}),
            ("GET", f"/api/v1/documents?limit={secret[:40]}", None)]:
        response = client.request(method, url, json=body, headers=users.clerk)
        assert response.status_code == 422, response.text
        details = response.json()["detail"]
        assert details and all(set(d) == {"loc", "msg", "type"} for d in details), details
        assert "Kowalczyk" not in response.text
    schema = client.get("/api/v1/openapi.json").json()["components"]["schemas"]["ValidationError"]
    assert not {"input", "ctx"} & set(schema["properties"])


@pytest.mark.parametrize("control", ["\u202e", "\u2067", "\u200f"])
def test_bidirectional_controls_are_refused_where_text_is_shown_to_others(
        client: TestClient, users: Users, control: str) -> None:
    subject = example(client, DOG)
    subject["halter"]["name"] = f"Kowalczyk{control}reteP"
    response = issue(client, users.clerk, subject=subject)
    assert response.status_code == 422, response.text
    (problem,) = response.json()["detail"]
    assert problem["loc"] == "/halter/name" and "Schreibrichtung" in problem["msg"]
    admit = client.post("/api/v1/registry/municipalities", headers=users.registrar,
                        json={"ags": "05111000", "name": f"Stadt D{control}sseldorf",
                              "usecases": [DOG]})
    assert admit.status_code == 422, admit.text
    (problem,) = admit.json()["detail"]
    assert problem["loc"] == "/name" and "Schreibrichtung" in problem["msg"]
    listed = client.get("/api/v1/registry/municipalities", headers=users.registrar).json()
    assert "05111000" not in str(listed)
    with UnitOfWork(engine_of(client)) as uow, pytest.raises(ValidationError, match="Schreibrichtung"):
        uow.users.add(username=f"admin{control}", role="landlord", display_name="x",
                      password_hash=hash_password("unbenutzt-im-test", hasher=CHEAP))


def test_bulk_issues_the_valid_items_in_order_and_reports_the_others(
        client: TestClient, users: Users, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(issuing, "ACCEPT_SLICE", 2)  # several slices in one request
    subjects = []
    for i in range(7):
        subject = example(client, DOG)
        subject["halter"]["name"] = f"Halterin {i}"
        subjects.append(subject)
    subjects[1]["hund"]["chipnummer"] = "keine Nummer"
    subjects[5]["hund"]["chipnummer"] = "auch keine"
    answer = client.post("/api/v1/documents/bulk?wait=true", headers=users.clerk, json={
        "usecase": DOG, "items": [{"subject": s} for s in subjects]})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["status"] == "anchored"
    assert [r["index"] for r in body["rejected"]] == [1, 5]
    assert all(r["errors"][0]["loc"] == "/hund/chipnummer" for r in body["rejected"])
    accepted = body["accepted"]
    assert [a["index"] for a in accepted] == [0, 2, 3, 4, 6]
    assert len({a["id"] for a in accepted}) == 5
    for a in accepted:
        got = client.get(f"/api/v1/documents/{a['id']}", headers=users.clerk)
        assert got.status_code == 200, got.text
        document = got.json()["document"]
        assert document["credentialSubject"]["halter"]["name"] == f"Halterin {a['index']}"
        assert document["proof"]["merkleRoot"]


def test_unknown_usecase_and_naive_dates_are_refused(client: TestClient, users: Users) -> None:
    assert issue(client, users.clerk, "gibt-es-nicht", subject={"a": 1}).status_code == 404
    naive = issue(client, users.clerk, validFrom="2026-01-01T00:00:00")
    assert naive.status_code == 422


def test_list_filter_and_paginate(client: TestClient, users: Users) -> None:
    subject = example(client, DOG)
    subject["hund"]["name"] = "Paginix"
    ids = [issued_id(client, users.clerk, subject=subject) for _ in range(3)]
    url = "/api/v1/documents"
    page = client.get(url, params={"search": "paginix", "limit": 2}, headers=users.clerk).json()
    assert page["total"] == 3
    assert [i["id"] for i in page["items"]] == ids[::-1][:2]  # newest first
    assert set(page["items"][0]) == {"id", "usecase", "state", "ledgerStatus", "createdAt",
                                     "validFrom", "validUntil"}
    rest = client.get(url, params={"search": "paginix", "limit": 2, "offset": 2},
                      headers=users.clerk).json()
    assert [i["id"] for i in rest["items"]] == [ids[0]]
    by_usecase = client.get(url, params={"usecase": DOG, "state": "anchored",
                                         "ledgerStatus": "none", "limit": 500},
                            headers=users.clerk).json()
    assert set(ids) <= {i["id"] for i in by_usecase["items"]}
    assert all(i["usecase"] == DOG for i in by_usecase["items"])
    koeln = client.get(url, params={"search": "paginix"}, headers=users.other_clerk).json()
    assert koeln == {"items": [], "total": 0}
    assert client.get(url, params={"limit": 0}, headers=users.clerk).status_code == 422
    assert client.get(url, params={"state": "kaputt"}, headers=users.clerk).status_code == 422


def test_get_document_with_its_events(client: TestClient, users: Users) -> None:
    doc_id = issued_id(client, users.clerk)
    body = client.get(f"/api/v1/documents/{doc_id}", headers=users.clerk).json()
    assert (body["id"], body["usecase"], body["state"], body["ledgerStatus"]) == (
        doc_id, DOG, "anchored", "none")
    assert body["document"]["id"] == doc_id
    assert [e["action"] for e in body["events"]] == ["issued", "anchored"]
    missing = client.get("/api/v1/documents/urn:uuid:gibt-es-nicht", headers=users.clerk)
    assert missing.status_code == 404


# -- status changes ---------------------------------------------------------------------------

def test_revoke_makes_the_link_say_revoked(client: TestClient, users: Users) -> None:
    doc_id = issued_id(client, users.clerk)
    token = token_of(link(client, users.clerk, doc_id))
    response = client.post(f"/api/v1/documents/{doc_id}/revoke",
                           json={"reason": "Fehler im Dokument"}, headers=users.clerk)
    assert response.status_code == 200, response.text
    assert response.json()["ledgerStatus"] == "revoked"
    assert verify_link(client, token)["result"]["status"] == "REVOKED"
    with UnitOfWork(engine_of(client)) as uow:
        (entry,) = uow.audit.list(action="document.revoke", target=doc_id).items
    assert (entry.actor_kind, entry.remote_addr, entry.detail) == (
        "user", "testclient", {"reason": "Fehler im Dokument"})
    bad = client.post(f"/api/v1/documents/{doc_id}/revoke", json={"reason": "weil"},
                      headers=users.clerk)
    assert bad.status_code == 400


def test_suspend_and_reinstate(client: TestClient, users: Users) -> None:
    doc_id = issued_id(client, users.clerk)
    token = token_of(link(client, users.clerk, doc_id))
    suspended = client.post(f"/api/v1/documents/{doc_id}/suspend", json={"reason": 3},
                            headers=users.clerk)
    assert suspended.status_code == 200 and suspended.json()["ledgerStatus"] == "suspended"
    assert verify_link(client, token)["result"]["status"] == "SUSPENDED"
    reinstated = client.post(f"/api/v1/documents/{doc_id}/reinstate", headers=users.clerk)
    assert reinstated.status_code == 200 and reinstated.json()["ledgerStatus"] == "none"
    assert verify_link(client, token)["result"]["status"] == "VALID"
    assert audit_actions(client, doc_id) == ["document.reinstate", "document.suspend",
                                             "document.issue"]


# -- links ------------------------------------------------------------------------------------

def test_link_hides_fields_and_can_be_withdrawn(client: TestClient, users: Users) -> None:
    doc_id = issued_id(client, users.clerk)
    expires = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    created = link(client, users.clerk, doc_id, hide=["/halter/geburtsdatum"], expiresAt=expires)
    assert created["expiresAt"] is not None
    token = token_of(created)
    checked = verify_link(client, token)
    assert checked["result"]["status"] == "VALID"
    assert "geburtsdatum" not in checked["document"]["credentialSubject"]["halter"]
    assert checked["document"]["credentialSubject"]["halter"]["name"] == "Kowalczyk"

    assert client.delete(f"/api/v1/links/{created['id']}", headers=users.clerk).status_code == 204
    withdrawn = verify_link(client, token)
    assert withdrawn["result"]["status"] == "INVALID" and withdrawn["document"] is None
    (link_check,) = [c for c in withdrawn["result"]["checks"] if c["name"] == "link"]
    assert "zurückgezogen" in link_check["message"]
    assert audit_actions(client, created["id"]) == ["link.withdraw", "link.create"]
    missing = client.delete("/api/v1/links/gibt-es-nicht", headers=users.clerk)
    assert missing.status_code == 404


def test_a_refused_link_withdrawal_names_no_document(client: TestClient, users: Users) -> None:
    doc_id = issued_id(client, users.clerk)
    created = link(client, users.clerk, doc_id)
    for stranger in (users.other_clerk, users.landlord):
        refused = client.delete(f"/api/v1/links/{created['id']}", headers=stranger)
        unknown = client.delete("/api/v1/links/gibt-es-nicht", headers=stranger)
        # The same answer as for a link that does not exist: neither the link's existence nor
        # the other municipality's document id leaks.
        assert refused.status_code == unknown.status_code == 404
        assert doc_id not in refused.text
        assert refused.json() == {"detail": unknown.json()["detail"].replace("gibt-es-nicht",
                                                                             created["id"])}
    assert verify_link(client, token_of(created))["result"]["status"] == "VALID"


def test_links_refuse_past_expiry_and_unknown_fields(client: TestClient, users: Users) -> None:
    doc_id = issued_id(client, users.clerk)
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    for body in ({"expiresAt": past}, {"hide": ["/gibt/es/nicht"]}):
        response = client.post(f"/api/v1/documents/{doc_id}/links", json=body,
                               headers=users.clerk)
        assert response.status_code == 400, body


def test_links_refuse_fields_the_use_case_never_hides(client: TestClient, users: Users) -> None:
    # issue 16, finding 2: gefaehrlicher-hund/usecase.json neverHidden
    doc_id = issued_id(client, users.clerk)
    for hide in (["/hund/chipnummer"], ["/hund"], ["/auflagen/weitere"], ["/kategorie"]):
        response = client.post(f"/api/v1/documents/{doc_id}/links", json={"hide": hide},
                               headers=users.clerk)
        assert response.status_code == 400, hide
        assert "immer sichtbar" in response.text
    assert link(client, users.clerk, doc_id, hide=["/hund/name"])["url"]


def test_unknown_link_is_a_result_not_a_404(client: TestClient) -> None:
    for token in ("A" * 43, "kein-token"):
        checked = verify_link(client, token)
        assert checked == {"result": checked["result"], "document": None}
        assert checked["result"]["status"] == "INVALID"


def test_verification_page_is_plain_escaped_german_html(client: TestClient, users: Users) -> None:
    subject = example(client, DOG)
    subject["hund"]["name"] = "<script>alert(1)</script>"
    doc_id = issued_id(client, users.clerk, subject=subject)
    token = token_of(link(client, users.clerk, doc_id))
    page = client.get(f"/v/{token}")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["referrer-policy"] == "no-referrer"
    html = page.text
    assert 'data-status="VALID"' in html and "Stadt Aachen" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert" not in html
    unknown = client.get("/v/" + "A" * 24)
    assert unknown.status_code == 200 and 'data-status="INVALID"' in unknown.text
    assert "alert(1)" not in unknown.text


# -- who may do what --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def landlord_submission(client: TestClient, users: Users) -> dict[str, Any]:
    response = issue(client, users.landlord, LANDLORD_USECASE,
                     subject=example(client, LANDLORD_USECASE, 1), municipality=AACHEN)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_landlord_submits_a_confirmation_and_gets_code_and_link(
        client: TestClient, users: Users, landlord_submission: dict[str, Any]) -> None:
    body = landlord_submission
    assert body["status"] == "anchored"
    code = body["landlordCode"]
    assert body["document"]["credentialSubject"]["zuordnungsmerkmal"] == code
    assert body["document"]["issuer"]["ags"] == AACHEN
    assert set(body["link"]) == {"id", "url", "expiresAt"}
    assert verify_link(client, token_of(body["link"]))["result"]["status"] == "VALID"
    assert audit_actions(client, body["id"]) == ["document.issue"]

    own = client.get("/api/v1/documents", headers=users.landlord).json()
    assert [i["id"] for i in own["items"]] == [body["id"]] and own["total"] == 1
    assert client.get("/api/v1/documents", headers=users.other_landlord).json()["total"] == 0
    assert client.get(f"/api/v1/documents/{body['id']}", headers=users.landlord).status_code == 200
    other = client.get(f"/api/v1/documents/{body['id']}", headers=users.other_landlord)
    assert other.status_code == 404


def test_landlord_needs_a_municipality_and_cannot_issue_a_dog_permit(client: TestClient,
                                                                      users: Users) -> None:
    assert issue(client, users.landlord, DOG, municipality=AACHEN).status_code == 403
    no_municipality = issue(client, users.landlord, LANDLORD_USECASE,
                            subject=example(client, LANDLORD_USECASE, 1))
    assert no_municipality.status_code == 400


@pytest.mark.parametrize("chosen", [{"validFrom": "2020-01-01T00:00:00+01:00"},
                                    {"validUntil": "2099-12-31T00:00:00+01:00"},
                                    {"validFrom": "2020-01-01T00:00:00+01:00",
                                     "validUntil": "2099-12-31T00:00:00+01:00"}])
def test_landlord_cannot_choose_validity_nor_backdate(client: TestClient, users: Users,
                                                      chosen: dict[str, str]) -> None:
    before = client.get("/api/v1/documents", headers=users.landlord).json()["total"]
    response = issue(client, users.landlord, LANDLORD_USECASE,
                     subject=example(client, LANDLORD_USECASE, 1), municipality=AACHEN, **chosen)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert {e["loc"] for e in detail} == {f"/{key}" for key in chosen}
    assert all("Wohnungsgeber legen keine Gültigkeit fest" in e["msg"] for e in detail)
    assert client.get("/api/v1/documents", headers=users.landlord).json()["total"] == before


def test_landlord_confirmation_is_the_landlords_declaration_in_every_answer(
        client: TestClient, users: Users, landlord_submission: dict[str, Any]) -> None:
    document = landlord_submission["document"]
    assert "validUntil" not in document
    assert document["evidence"] == [{
        "type": ["GovchainDeclaration2026"], "declaredBy": "/wohnungsgeber",
        "submittedBy": {"role": "landlord", "account": "vermieter"},
        "receivedBy": {"name": "Stadt Aachen", "ags": AACHEN},
        "receivedAt": document["validFrom"]}]
    received = datetime.fromisoformat(document["validFrom"])
    assert timedelta(0) <= datetime.now(UTC) - received < timedelta(minutes=10)  # not backdated
    declaration = {
        "title": {"de": "Erklärung des Wohnungsgebers", "en": "Declaration of the landlord"},
        "declared_by": "Wilhelm Offermanns",
        "submitted_by": {"role": "landlord", "account": "vermieter"},
        "received_by": {"name": "Stadt Aachen", "ags": AACHEN},
        "received_at": document["validFrom"]}
    checked = client.post("/api/v1/verify", json=document).json()
    assert checked["status"] == "VALID" and checked["declaration"] == declaration
    (issuer_check,) = [c for c in checked["checks"] if c["name"] == "issuer"]
    assert issuer_check["message"].startswith("Eingegangen bei Stadt Aachen")
    assert "keine Aussage der Behörde" in issuer_check["message"]
    by_link = verify_link(client, token_of(landlord_submission["link"]))["result"]
    assert by_link["declaration"] == declaration
    lookup = client.get(f"/api/v1/lookup/{landlord_submission['landlordCode']}",
                        headers=users.clerk).json()
    assert lookup["result"]["declaration"] == declaration
    # the evidence is hashed: changed or removed, the document is INVALID and declares nothing
    for change in ({"submittedBy": {"role": "landlord", "account": "vonovia"}},
                   {"receivedAt": "2020-01-01T00:00:00+01:00"}, None):
        tampered = copy.deepcopy(document)
        if change is None:
            del tampered["evidence"]
        else:
            tampered["evidence"][0].update(change)
        answer = client.post("/api/v1/verify", json=tampered).json()
        assert answer["status"] == "INVALID" and answer["declaration"] is None, change
    # the pages say whose declaration it is, in German and in English
    page = client.get(f"/v/{token_of(landlord_submission['link'])}").text
    assert ("Erklärung des Wohnungsgebers Wilhelm Offermanns, eingereicht über das "
            "Wohnungsgeber-Konto „vermieter“, eingegangen bei Stadt Aachen (AGS 05334002) am ") in page
    assert "Ausgestellt von" not in page and "Eingegangen bei" in page
    english = client.get(f"/v/{token_of(landlord_submission['link'])}?lang=en").text
    assert ("Declaration of the landlord Wilhelm Offermanns, submitted through the landlord "
            "account “vermieter”, received by Stadt Aachen (AGS 05334002) on ") in english


def test_clerk_of_the_municipality_finds_the_confirmation_by_code(
        client: TestClient, users: Users, landlord_submission: dict[str, Any]) -> None:
    code: str = landlord_submission["landlordCode"]
    for typed in (code, code.lower(), code.replace("-", ""), f" {code.lower().replace('-', ' ')} "):
        response = client.get(f"/api/v1/lookup/{typed}", headers=users.clerk)
        assert response.status_code == 200, typed
        body = response.json()
        assert body["document"]["id"] == landlord_submission["id"]
        assert body["result"]["status"] == "VALID"
    assert client.get(f"/api/v1/lookup/{code}", headers=users.other_clerk).status_code == 404
    assert client.get("/api/v1/lookup/AAAA-BBBB-CCCC", headers=users.clerk).status_code == 404
    assert client.get("/api/v1/lookup/kein-code", headers=users.clerk).status_code == 400


@pytest.fixture(scope="module")
def target(client: TestClient, users: Users) -> tuple[str, dict[str, Any]]:
    """An Aachen dog permit and a link to it, for the authorisation matrix."""
    doc_id = issued_id(client, users.clerk)
    return doc_id, link(client, users.clerk, doc_id)


ACTIONS = ["issue dog permit", "revoke", "suspend", "reinstate", "create link", "withdraw link",
           "lookup", "get document"]
EXPECTED: dict[str, list[int]] = {  # in the order of ACTIONS
    "anonymous": [401] * 8,
    "registrar": [403] * 8,
    "landlord": [403, 403, 403, 403, 404, 404, 403, 404],
    "other_clerk": [403, 404, 404, 404, 404, 404, 404, 404],
}


@pytest.mark.parametrize("who", list(EXPECTED))
def test_authorisation_matrix(client: TestClient, users: Users, who: str,
                              target: tuple[str, dict[str, Any]],
                              landlord_submission: dict[str, Any]) -> None:
    doc_id, created = target
    headers = {} if who == "anonymous" else getattr(users, who)
    docs = f"/api/v1/documents/{doc_id}"
    calls: dict[str, Callable[[], Response]] = {
        "issue dog permit": lambda: issue(client, headers, DOG, municipality=AACHEN),
        "revoke": lambda: client.post(f"{docs}/revoke", json={"reason": 1}, headers=headers),
        "suspend": lambda: client.post(f"{docs}/suspend", json={"reason": 1}, headers=headers),
        "reinstate": lambda: client.post(f"{docs}/reinstate", headers=headers),
        "create link": lambda: client.post(f"{docs}/links", json={}, headers=headers),
        "withdraw link": lambda: client.delete(f"/api/v1/links/{created['id']}", headers=headers),
        "lookup": lambda: client.get(f"/api/v1/lookup/{landlord_submission['landlordCode']}",
                                     headers=headers),
        "get document": lambda: client.get(docs, headers=headers),
    }
    got = [calls[action]().status_code for action in ACTIONS]
    assert dict(zip(ACTIONS, got, strict=True)) == dict(zip(ACTIONS, EXPECTED[who], strict=True))
    # Nothing happened to the document or its link.
    checked = verify_link(client, token_of(created))
    assert checked["result"]["status"] == "VALID"
    assert audit_actions(client, doc_id) == ["document.issue"]


def test_openapi_lists_the_endpoints_in_camel_case(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    assert {"/api/v1/documents", "/api/v1/documents/{document_id}/links",
            "/api/v1/links/{link_id}", "/api/v1/verify/{token}", "/api/v1/lookup/{code}"
            } <= set(spec["paths"])
    assert "validFrom" in spec["components"]["schemas"]["IssueIn"]["properties"]
    assert "/v/{token}" not in spec["paths"]

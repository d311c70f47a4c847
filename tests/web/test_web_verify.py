"""The public verification pages: upload, paste, the printed code, and the answer for each case."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from web_kit import DOG, Site, csrf_of, example, login, status_of_page, text_of

from govchain import services
from govchain.domain.security import format_link_code
from govchain.domain.usecases import UseCaseRegistry
from govchain.errors import LedgerUnavailableError


def _issued(site: Site) -> dict[str, Any]:
    """An anchored dog permit of Aachen, issued through the service as the API would."""
    actor = services.Actor(user_id=1, username="sb.aachen", role="clerk", ags="05334002")
    with site.uow() as uow:
        issued = services.issue_for(site.ctx, uow, actor, DOG, example(site, DOG))
        uow.commit()
    assert site.app_client.app.state.anchoring.wait([issued.record.id], timeout=10.0)  # type: ignore[attr-defined]
    with site.uow() as uow:
        record = uow.documents.get(issued.record.id)
    assert record is not None and record.document is not None
    return record.document


def _link(site: Site, document_id: str) -> str:
    with site.uow() as uow:
        link = services.create_link(site.ctx, uow, document_id,
                                    base_url="https://pruefen.example.de")
        uow.commit()
    return link.token


def test_upload_and_paste_a_document(site: Site) -> None:
    document = _issued(site)
    browser = site.browser()
    page = browser.get("/verify")
    assert 'enctype="multipart/form-data"' in page.text
    uploaded = browser.post("/verify", data={"csrf_token": csrf_of(page.text)},
                            files={"document_file": ("permit.json", json.dumps(document).encode(),
                                                     "application/json")})
    assert uploaded.status_code == 200 and status_of_page(uploaded.text) == "VALID"
    words = text_of(uploaded.text)
    assert words.index("GÜLTIG") < words.index("Ausgestellt von") < words.index("Die Prüfungen im Einzelnen")
    assert "Stadt Aachen (AGS 05334002)" in words
    assert document["credentialSubject"]["hund"]["chipnummer"] in words
    assert re.search(r'data-check="integrity" data-check-status="passed"', uploaded.text)
    # the patrol's view: holder, chip number and conditions stand out
    highlights = re.search(r'id="highlights".*?</section>', uploaded.text, re.S)
    assert highlights and "/hund/chipnummer" in highlights.group(0)
    assert "/auflagen/leinenpflicht" in highlights.group(0)
    pasted = browser.post("/verify", data={"csrf_token": csrf_of(page.text),
                                           "document_json": json.dumps(document)})
    assert status_of_page(pasted.text) == "VALID"
    english = site.browser().get("/verify?lang=en")
    answer = site.browser()
    answer.cookies.set("lang", "en")
    forged = json.loads(json.dumps(document))
    forged["credentialSubject"]["hund"]["chipnummer"] = "999999999999999"
    checked = answer.post("/verify", data={"csrf_token": csrf_of(answer.get("/verify").text),
                                           "document_json": json.dumps(forged)})
    assert "Verify a document" in english.text
    assert status_of_page(checked.text) == "INVALID"
    assert '<span class="visually-hidden">Result: </span>INVALID</h1>' in checked.text
    assert "999999999999999" not in checked.text  # a forged document's contents are not shown


def test_bad_input_is_explained_on_the_form(site: Site) -> None:
    browser = site.browser()
    token = csrf_of(browser.get("/verify").text)
    for body, expected in (("", "Bitte eine Datei wählen"), ("{not json", "kein gültiges JSON"),
                           ("[1, 2]", "JSON-Objekt")):
        response = browser.post("/verify", data={"csrf_token": token, "document_json": body})
        assert response.status_code == 400 and expected in response.text
        assert 'aria-invalid="true"' in response.text and 'href="#document_json"' in response.text
    assert browser.post("/verify", data={"document_json": "{}"}).status_code == 403  # no CSRF token


def test_an_unreachable_ledger_answers_503_cannot_be_verified_now(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    document = _issued(site)
    token = _link(site, document["id"])

    def node_down(root: bytes, target_hash: bytes) -> None:
        raise LedgerUnavailableError("Verbindung abgelehnt")

    monkeypatch.setattr(site.ctx.reader, "verification", node_down)  # what verification asks
    browser = site.browser()
    for response in (browser.post("/verify", data={"csrf_token": csrf_of(browser.get("/verify").text),
                                                   "document_json": json.dumps(document)}),
                     browser.get(f"/v/{token}")):
        assert response.status_code == 503
        assert status_of_page(response.text) == "UNVERIFIABLE"
        assert "DERZEIT NICHT PRÜFBAR" in text_of(response.text)
        assert "Verbindung abgelehnt" in response.text


def test_a_genuine_document_of_a_type_unknown_here_says_so(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    document = _issued(site)
    elsewhere = UseCaseRegistry(uc for uc in site.ctx.usecases if uc.id != DOG)
    monkeypatch.setattr(site.ctx, "usecases", elsewhere)  # an installation without dog permits
    browser = site.browser()
    page = browser.post("/verify", data={"csrf_token": csrf_of(browser.get("/verify").text),
                                         "document_json": json.dumps(document)})
    assert status_of_page(page.text) == "UNVERIFIABLE"
    words = text_of(page.text)
    assert "HIER NICHT PRÜFBAR" in words and "Dokumentart hier unbekannt" in words
    assert "UNGÜLTIG" not in words and "DERZEIT NICHT PRÜFBAR" not in words
    assert page.status_code == 200  # no outage: asking again later would not help
    answer = site.app_client.post("/api/v1/verify", json=document)
    assert answer.status_code == 200 and answer.json()["status"] == "UNVERIFIABLE"
    assert answer.json()["details"]["unverifiable"] == "unknown-usecase"


def test_the_printed_code_leads_to_the_link_page(site: Site) -> None:
    document = _issued(site)
    token = _link(site, document["id"])
    browser = site.browser()
    typed = format_link_code(token).lower().replace("-", " ")
    response = browser.get("/verify", params={"code": typed}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == f"/v/{token}"
    assert response.headers["referrer-policy"] == "no-referrer"
    page = browser.get(response.headers["location"])
    assert status_of_page(page.text) == "VALID"
    assert '<meta name="robots" content="noindex, nofollow">' in page.text
    wrong = browser.get("/verify", params={"code": "ABC"})
    assert wrong.status_code == 400 and 'id="code-error"' in wrong.text
    unknown = browser.get("/v/" + "0" * 24)
    assert unknown.status_code == 200 and status_of_page(unknown.text) == "INVALID"
    assert "Diesen Prüflink gibt es nicht" in unknown.text


def test_link_pages_are_rate_limited(site: Site) -> None:
    from govchain.entrypoints.http.ratelimit import RateLimiter

    app = site.app_client.app
    saved = app.state.public_limiter  # type: ignore[attr-defined]
    app.state.public_limiter = RateLimiter(1)  # type: ignore[attr-defined]
    try:
        browser = site.browser()
        assert browser.get("/v/" + "1" * 24).status_code == 200
        limited = browser.get("/v/" + "1" * 24)
        assert limited.status_code == 429 and "Retry-After" in limited.headers
        assert 'data-status-code="429"' in limited.text
    finally:
        app.state.public_limiter = saved  # type: ignore[attr-defined]


def test_signed_in_clerk_sees_the_same_answer(site: Site) -> None:
    document = _issued(site)
    token = _link(site, document["id"])
    clerk = login(site, "sb.aachen")
    page = clerk.get(f"/v/{token}")
    assert status_of_page(page.text) == "VALID" and 'id="logout-button"' in page.text


def test_a_duplicated_member_name_is_refused_on_the_page(site: Site) -> None:
    document = _issued(site)
    text = json.dumps(document, ensure_ascii=False)
    issued = json.dumps(document["credentialSubject"]["kategorie"])
    doubled = text.replace(f'"kategorie": {issued}', f'"kategorie": {issued}, "kategorie": "x"', 1)
    assert doubled != text
    browser = site.browser()
    token = csrf_of(browser.get("/verify").text)
    pasted = browser.post("/verify", data={"csrf_token": token, "document_json": doubled})
    uploaded = browser.post("/verify", data={"csrf_token": token},
                            files={"document_file": ("permit.json", doubled.encode(),
                                                     "application/json")})
    for response in (pasted, uploaded):
        assert response.status_code == 400, response.status_code
        assert "Doppelter Schlüssel" in response.text and "kategorie" in response.text
        assert 'id="verification-result"' not in response.text


def test_the_clerk_downloads_the_w3c_credential_and_the_page_verifies_it(site: Site) -> None:
    document = _issued(site)
    clerk = login(site, "sb.aachen")
    page = clerk.get(f"/documents/{document['id']}")
    assert 'id="download-vc"' in page.text
    download = clerk.get(f"/documents/{document['id']}/vc")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("application/vc+ld+json")
    vc = json.loads(download.content)
    assert [p["type"] for p in vc["proof"]] == ["GovchainMerkleProof2026", "DataIntegrityProof"]
    assert vc["issuer"]["id"].startswith("did:web:") and vc["issuer"]["id"].endswith(":05334002")
    browser = site.browser()
    checked = browser.post("/verify", data={"csrf_token": csrf_of(browser.get("/verify").text)},
                           files={"document_file": ("permit.vc.json", download.content,
                                                    "application/json")})
    assert checked.status_code == 200 and status_of_page(checked.text) == "VALID"
    assert "Data Integrity" in checked.text
    # someone else's document is not handed out
    anonymous = site.browser().get(f"/documents/{document['id']}/vc", follow_redirects=False)
    assert anonymous.status_code in (302, 303, 401) and b"proof" not in anonymous.content

"""The landlord's guided confirmation ending with a code a clerk looks up, and the registrar's pages."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pypdfium2 as pdfium
from web_kit import (
    AACHEN,
    KOELN,
    LANDLORD_USECASE,
    Site,
    csrf_of,
    example,
    login,
    post_form,
    status_of_page,
    text_of,
)

from govchain.domain.security import link_lookup
from govchain.domain.subject_fields import raw_from_subject
from govchain.domain.timefmt import now, parse_time


def test_landlord_confirms_a_move_and_a_clerk_finds_it_by_its_code(site: Site) -> None:
    landlord = login(site, "vermieter")
    home = landlord.get("/landlord")
    assert f'href="/landlord/new/{LANDLORD_USECASE}"' in home.text
    assert landlord.get("/landlord/new", follow_redirects=False).headers["location"] == \
        f"/landlord/new/{LANDLORD_USECASE}"
    form = landlord.get(f"/landlord/new/{LANDLORD_USECASE}")
    html = form.text
    assert "Schritt 1" in html and 'name="__municipality"' in html
    assert f'<option value="{AACHEN}">Stadt Aachen' in html
    assert f'value="{KOELN}"' not in html  # Köln is not admitted for this document type
    assert 'name="/zuordnungsmerkmal"' not in html  # the office gives the code
    assert 'name="__add__" value="/meldepflichtigePersonen"' in html
    subject = example(site, LANDLORD_USECASE)
    subject.pop("zuordnungsmerkmal", None)
    raw = raw_from_subject(site.ctx.usecases.get(LANDLORD_USECASE), subject)
    missing_office = landlord.post(f"/landlord/new/{LANDLORD_USECASE}",
                                   data={**raw, "csrf_token": csrf_of(html)})
    assert missing_office.status_code == 422 and 'href="#municipality"' in missing_office.text
    done = landlord.post(f"/landlord/new/{LANDLORD_USECASE}",
                         data={**raw, "__municipality": AACHEN, "csrf_token": csrf_of(html)})
    assert done.status_code == 200, text_of(done.text)
    assert done.headers["referrer-policy"] == "no-referrer"
    code = re.search(r'id="landlord-code" data-code="([0-9A-Z-]+)"', done.text).group(1)  # type: ignore[union-attr]
    url = re.search(r'id="landlord-link" rel="noreferrer">([^<]+)<', done.text).group(1)  # type: ignore[union-attr]
    assert 'id="download-pdf"' in done.text
    # the tenant's link shows the confirmation as valid
    tenant = site.browser()
    shown = tenant.get("/v/" + url.rsplit("/", 1)[1])
    assert status_of_page(shown.text) == "VALID" and code in shown.text
    # the landlord's PDF
    document_id = re.search(r'action="/documents/([^/]+)/pdf"', done.text).group(1)  # type: ignore[union-attr]
    pdf = landlord.post(f"/documents/{document_id}/pdf", data={"csrf_token": csrf_of(done.text)})
    assert pdf.content.startswith(b"%PDF")
    assert document_id in landlord.get("/landlord").text
    # the clerk of Aachen finds it by its code, typed carelessly
    clerk = login(site, "sb.aachen")
    found = clerk.get("/lookup", params={"code": code.lower().replace("-", " ")})
    assert found.status_code == 200 and status_of_page(found.text) == "VALID"
    assert f'data-document-id="{document_id}"' in found.text
    assert subject["meldepflichtigePersonen"][0]["name"] in found.text
    # another landlord and another municipality's clerk see nothing
    assert login(site, "vermieterin").get(f"/documents/{document_id}").status_code == 404
    elsewhere = login(site, "sb.koeln").get("/lookup", params={"code": code})
    assert elsewhere.status_code == 404 and 'id="lookup-code-error"' in elsewhere.text
    bad = clerk.get("/lookup", params={"code": "nonsense"})
    assert bad.status_code == 400 and 'aria-invalid="true"' in bad.text


def test_landlord_chooses_no_validity_and_every_page_names_the_declaration(site: Site) -> None:
    landlord = login(site, "vermieter")
    form = landlord.get(f"/landlord/new/{LANDLORD_USECASE}")
    assert 'name="__valid_from"' not in form.text and 'name="__valid_until"' not in form.text
    subject = example(site, LANDLORD_USECASE)
    subject.pop("zuordnungsmerkmal", None)
    subject["wohnungsgeber"]["name"] = "Vonovia SE (gefälscht)"
    raw = raw_from_subject(site.ctx.usecases.get(LANDLORD_USECASE), subject)
    accepted_from = now().replace(microsecond=0)
    done = landlord.post(f"/landlord/new/{LANDLORD_USECASE}", data={
        **raw, "__municipality": AACHEN, "__valid_from": "2020-01-01",
        "__valid_until": "2099-12-31", "csrf_token": csrf_of(form.text)})
    assert done.status_code == 200, text_of(done.text)
    document_id = re.search(r'action="/documents/([^/]+)/pdf"', done.text).group(1)  # type: ignore[union-attr]
    url = re.search(r'id="landlord-link" rel="noreferrer">([^<]+)<', done.text).group(1)  # type: ignore[union-attr]
    document = landlord.get(f"/documents/{document_id}/json").json()
    assert "validUntil" not in document and parse_time(document["validFrom"]) >= accepted_from
    assert document["evidence"][0]["receivedAt"] == document["validFrom"]
    sentence = ("Erklärung des Wohnungsgebers Vonovia SE (gefälscht), eingereicht über das "
                "Wohnungsgeber-Konto „vermieter“, eingegangen bei Stadt Aachen (AGS 05334002) am ")
    tenant = site.browser()
    token = url.rsplit("/", 1)[1]
    with site.uow() as uow:  # the tenant's link lasts long enough to register, not for good
        link = uow.links.by_lookup(link_lookup(token))
    assert link is not None and link.expires_at is not None
    assert timedelta(days=91) < link.expires_at - accepted_from < timedelta(days=93)
    checked = tenant.post("/verify", data={"csrf_token": csrf_of(tenant.get("/verify").text),
                                           "document_json": json.dumps(document)})
    clerk = login(site, "sb.aachen")
    for page in (tenant.get(f"/v/{token}"), checked, landlord.get(f"/documents/{document_id}"),
                 clerk.get(f"/documents/{document_id}"),
                 clerk.get("/lookup", params={"code": subject_code(document)})):
        shown = text_of(page.text)
        assert status_of_page(page.text) == "VALID"
        assert sentence in shown and "Ausgestellt von" not in shown, page.url
    english = text_of(tenant.get(f"/v/{token}?lang=en").text)
    assert ("Declaration of the landlord Vonovia SE (gefälscht), submitted through the landlord "
            "account “vermieter”, received by Stadt Aachen (AGS 05334002) on ") in english
    assert "Issued by" not in english and "Received by" in english
    pdf = landlord.post(f"/documents/{document_id}/pdf", data={"csrf_token": csrf_of(done.text)})
    printed = pdfium.PdfDocument(pdf.content)
    try:
        assert sentence in " ".join(printed[0].get_textpage().get_text_range().split())
    finally:
        printed.close()


def subject_code(document: dict[str, Any]) -> str:
    code: str = document["credentialSubject"]["zuordnungsmerkmal"]
    return code


def test_landlord_may_not_change_a_status_nor_issue_permits(site: Site) -> None:
    landlord = login(site, "vermieter")
    assert landlord.get("/landlord/new/gefaehrlicher-hund").status_code == 403
    page = landlord.get("/landlord")
    response = landlord.post("/documents/whatever/status", data={
        "csrf_token": csrf_of(page.text), "action": "revoke", "reason": "1", "confirmed": "yes"})
    assert response.status_code == 403


def test_registrar_admits_sets_types_suspends_and_manages_accounts(site: Site) -> None:
    registrar = login(site, "registratur")
    page = registrar.get("/registry")
    assert f'id="m-{AACHEN}"' in page.text and 'id="admit-form"' in page.text
    bad = post_form(registrar, "/registry", "/registry/municipalities",
                    {"ags": "123", "name": "Stadt Bonn", "usecases": ["strassenmusik"]})
    assert bad.status_code == 422 and "8 Ziffern" in bad.text and 'value="Stadt Bonn"' in bad.text
    bonn = "05314000"
    admitted = post_form(registrar, "/registry", "/registry/municipalities",
                         {"ags": bonn, "name": "Bundesstadt Bonn", "usecases": ["strassenmusik"]})
    assert admitted.status_code == 200 and f'data-ags="{bonn}" data-active="true"' in admitted.text
    assert site.ctx.ledger.municipality(bonn).admitted
    post_form(registrar, "/registry", f"/registry/municipalities/{bonn}/usecases",
              {"usecases": ["strassenmusik", "gefaehrlicher-hund"]})
    assert len(site.ctx.ledger.municipality(bonn).doc_types) == 2
    suspended = post_form(registrar, "/registry", f"/registry/municipalities/{bonn}/suspend", {})
    assert f'data-ags="{bonn}" data-active="false"' in suspended.text
    post_form(registrar, "/registry", f"/registry/municipalities/{bonn}/reactivate", {})
    assert site.ctx.ledger.municipality(bonn).active
    post_form(registrar, "/registry", f"/registry/municipalities/{bonn}/accounts", {})
    first, second = site.ctx.ledger.municipality(bonn).accounts
    retired = post_form(registrar, "/registry", f"/registry/accounts/{first}/retire", {})
    assert f'data-account="{first}" data-account-state="retired"' in retired.text
    again = post_form(registrar, "/registry", f"/registry/accounts/{first}/retire", {})
    assert again.status_code in (400, 403, 409) and 'id="registry-error"' in again.text
    no_time = post_form(registrar, "/registry", f"/registry/accounts/{second}/compromise",
                        {"since": ""})
    assert no_time.status_code == 422 and "seit wann" in no_time.text
    compromised = post_form(registrar, "/registry", f"/registry/accounts/{second}/compromise",
                            {"since": "2026-11-20T08:00"})
    assert compromised.status_code == 200
    assert site.ctx.ledger.issuer_account(second).compromised_since > 0
    with site.uow() as uow:
        audited = {e.action for e in uow.audit.list(target=second).items}
    assert audited == {"registry.add-account", "registry.compromise"}

"""The citizen's wallet on the pages: a clerk's or landlord's offer (QR code, the PIN apart, the
link for a wallet on the same device) that a wallet redeems, and the checker's page at
/verify/wallet that shows a request's QR code and then the ledger's answer to what the wallet
disclosed — VALID, REVOKED after revocation, or the wallet's refusal. The wallet is govchain's own
SD-JWT code as in tests/api/test_wallet_api.py."""

from __future__ import annotations

import json
import re
from html import unescape
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import segno
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from web_kit import (
    AACHEN,
    DOG,
    LANDLORD_USECASE,
    Site,
    csrf_of,
    example,
    login,
    post_form,
    status_of_page,
    text_of,
)

from api.test_wallet_api import FORM, Offer, holder_key, presentation, receive
from govchain import services
from govchain.domain.subject_fields import raw_from_subject
from govchain.services import oid4vc


def _issued(site: Site) -> str:
    """The id of an anchored dog permit of Aachen, issued through the service."""
    actor = services.Actor(user_id=1, username="sb.aachen", role="clerk", ags=AACHEN)
    with site.uow() as uow:
        issued = services.issue_for(site.ctx, uow, actor, DOG, example(site, DOG))
        uow.commit()
    assert site.app_client.app.state.anchoring.wait([issued.record.id], timeout=10.0)  # type: ignore[attr-defined]
    return issued.record.id


def _link(html: str, element_id: str) -> str:
    found = re.search(rf'href="([^"]+)" id="{element_id}"', html)
    assert found, f"no link #{element_id}"
    return unescape(found.group(1))


def _qr_path(html: str, svg_id: str) -> str:
    """The drawing of the page's QR code (the path of its dark modules)."""
    found = re.search(rf'<svg role="img" focusable="false" viewBox="[^"]+" id="{svg_id}" '
                      r'class="qr-code"><title>[^<]+</title>.*?<path stroke="#000" d="([^"]+)"',
                      html, re.S)
    assert found, f"no QR code #{svg_id}"
    return found.group(1)


def _encodes(html: str, svg_id: str, data: str) -> bool:
    """Whether the page's QR code is the QR code of `data` (segno draws it the same way)."""
    drawn = segno.make(data, error="m").svg_inline(omitsize=True)
    return f'd="{_qr_path(html, svg_id)}"' in drawn


def _offer_of(page: str) -> Offer:
    """The offer as the page shows it: the QR code's URI (the same-device link) and the PIN."""
    uri = _link(page, "offer-link")
    assert uri.startswith("openid-credential-offer://?credential_offer=")
    assert _encodes(page, "offer-qr", uri)
    pin = re.search(r'id="offer-pin" data-pin="(\d{6})">\1<', page)
    assert pin, "no PIN on the page"
    body = json.loads(dict(parse_qsl(urlsplit(uri).query))["credential_offer"])
    code = body["grants"][oid4vc.PRE_AUTHORIZED_GRANT]["pre-authorized_code"]
    return Offer(uri, pin.group(1), code, body)


def _ask(checker: TestClient, usecase: str = DOG) -> tuple[str, dict[str, str], str]:
    """A request made on the checker's page: its page URL, the request's parameters (from the
    same-device link) and the waiting page."""
    asked = post_form(checker, "/verify/wallet", "/verify/wallet", {"usecase": usecase},
                      follow_redirects=False)
    assert asked.status_code == 303, asked.text
    page_url = asked.headers["location"]
    assert re.fullmatch(r"/verify/wallet/[0-9a-f]{32}", page_url)
    waiting = checker.get(page_url)
    assert waiting.status_code == 200
    uri = _link(waiting.text, "wallet-link")
    assert uri.startswith("openid4vp://?") and _encodes(waiting.text, "request-qr", uri)
    params = dict(parse_qsl(urlsplit(uri).query))
    return page_url, params, waiting.text


def _answer(site: Site, params: dict[str, str], **form: str) -> None:
    posted = site.app_client.post(urlsplit(params["response_uri"]).path, headers=FORM, data=form)
    assert posted.status_code == 200, posted.text


def _show(site: Site, params: dict[str, str], credential: str,
          holder: ec.EllipticCurvePrivateKey) -> None:
    shown = presentation(credential, params, holder)
    _answer(site, params, vp_token=json.dumps({"govchain": [shown]}), state=params["state"])


def _assert_no_store(response: Any) -> None:
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-robots-tag"] == "noindex"


def test_clerk_offers_the_document_and_the_wallet_takes_it_with_the_pin(site: Site) -> None:
    doc_id = _issued(site)
    clerk = login(site, "sb.aachen")
    page = clerk.get(f"/documents/{doc_id}")
    assert 'id="wallet-offer-form"' in page.text and "In die Wallet übernehmen" in page.text
    made = clerk.post(f"/documents/{doc_id}/wallet-offer", data={"csrf_token": csrf_of(page.text)})
    assert made.status_code == 200, text_of(made.text)
    _assert_no_store(made)
    offer = _offer_of(made.text)
    assert offer.pin not in offer.uri  # the PIN goes to the citizen apart from the QR code
    words = text_of(made.text)
    assert "Transaktionscode (PIN)" in words and "getrennt vom QR-Code" in words
    assert "Gültig bis" in words and "einmal" in words
    assert 'role="img"' in made.text and "<title>QR-Code: Angebot für die Wallet" in made.text
    assert f'href="/documents/{doc_id}"' in made.text
    # the wallet redeems it with the PIN from the page, once
    credential = receive(site.app_client, offer, holder_key())
    assert credential.count("~") >= 2
    # in English too
    english = clerk.post(f"/documents/{doc_id}/wallet-offer?lang=en",
                         data={"csrf_token": csrf_of(page.text)})
    assert "Transaction code (PIN)" in text_of(english.text)


def test_offers_only_with_a_form_token_and_for_documents_one_may_see(site: Site) -> None:
    doc_id = _issued(site)
    clerk = login(site, "sb.aachen")
    assert clerk.post(f"/documents/{doc_id}/wallet-offer", data={}).status_code == 403
    koeln = login(site, "sb.koeln")
    refused = post_form(koeln, "/documents", f"/documents/{doc_id}/wallet-offer", {})
    assert refused.status_code == 404 and "Nicht gefunden" in refused.text
    assert 'id="offer-pin"' not in refused.text
    anonymous = site.browser().post(f"/documents/{doc_id}/wallet-offer", data={},
                                    follow_redirects=False)
    assert anonymous.status_code in (303, 403) and 'id="offer-pin"' not in anonymous.text
    # a revoked document has no wallet panel, and an offer for it is refused
    revoked = post_form(clerk, f"/documents/{doc_id}", f"/documents/{doc_id}/status",
                        {"action": "revoke", "reason": "4", "confirmed": "yes"})
    assert revoked.status_code == 200 and 'id="wallet-offer-form"' not in revoked.text
    again = post_form(clerk, f"/documents/{doc_id}", f"/documents/{doc_id}/wallet-offer", {})
    assert again.status_code == 409 and "widerrufen" in again.text


def test_the_landlord_offers_the_confirmation_to_the_tenants_wallet(site: Site) -> None:
    landlord = login(site, "vermieter")
    form = landlord.get(f"/landlord/new/{LANDLORD_USECASE}")
    subject = example(site, LANDLORD_USECASE)
    subject.pop("zuordnungsmerkmal", None)
    raw = raw_from_subject(site.ctx.usecases.get(LANDLORD_USECASE), subject)
    done = landlord.post(f"/landlord/new/{LANDLORD_USECASE}",
                         data={**raw, "__municipality": AACHEN, "csrf_token": csrf_of(form.text)})
    assert done.status_code == 200, text_of(done.text)
    assert 'id="wallet-offer-form"' in done.text
    action = re.search(r'action="(/documents/[^"]+/wallet-offer)"', done.text)
    assert action
    made = landlord.post(action.group(1), data={"csrf_token": csrf_of(done.text)})
    assert made.status_code == 200, text_of(made.text)
    _assert_no_store(made)
    offer = _offer_of(made.text)
    assert offer.body["credential_configuration_ids"] == [LANDLORD_USECASE]
    assert receive(site.app_client, offer, holder_key())
    # another landlord cannot
    other = login(site, "vermieterin")
    assert post_form(other, "/landlord", action.group(1), {}).status_code == 404


def test_the_checker_sees_the_qr_code_then_valid_then_revoked(site: Site) -> None:
    doc_id = _issued(site)
    clerk = login(site, "sb.aachen")
    page = clerk.get(f"/documents/{doc_id}")
    made = clerk.post(f"/documents/{doc_id}/wallet-offer", data={"csrf_token": csrf_of(page.text)})
    holder = holder_key()
    credential = receive(site.app_client, _offer_of(made.text), holder)

    checker = site.browser()
    choice = checker.get("/verify/wallet")
    assert choice.status_code == 200
    for usecase in site.ctx.usecases:
        assert f'type="radio" name="usecase" value="{usecase.id}"' in choice.text
    assert 'href="/verify/wallet"' in checker.get("/verify").text
    assert 'href="/verify/wallet"' in checker.get("/").text
    page_url, params, waiting = _ask(checker)
    # waiting: reloads itself, names what is asked for, keeps the request out of caches
    assert '<meta http-equiv="refresh" content="3">' in waiting
    asked = re.search(r'<ul id="asked-claims">(.*?)</ul>', waiting, re.S)
    assert asked and "Chipnummer" in asked.group(1) and "Anschrift" not in asked.group(1)
    assert 'id="refresh-off"' in waiting
    _assert_no_store(checker.get(page_url))
    quiet = checker.get(page_url + "?refresh=off")
    assert 'http-equiv="refresh"' not in quiet.text and 'id="refresh-on"' in quiet.text
    # another browser sees the answer once there is one, never the request's QR code
    onlooker = site.browser()
    elsewhere = onlooker.get(page_url)
    assert elsewhere.status_code == 200 and 'id="no-qr"' in elsewhere.text
    assert params["state"] not in elsewhere.text and "<svg role" not in elsewhere.text

    _show(site, params, credential, holder)
    answered = checker.get(page_url)
    assert answered.status_code == 200 and status_of_page(answered.text) == "VALID"
    _assert_no_store(answered)
    assert 'http-equiv="refresh"' not in answered.text
    words = text_of(answered.text)
    subject = example(site, DOG)
    assert words.index("GÜLTIG") < words.index("Die Prüfungen im Einzelnen") \
        < words.index("Angaben aus der Wallet")
    assert "Stadt Aachen (AGS 05334002)" in words
    fields = re.search(r'id="wallet-fields">(.*)', answered.text, re.S)
    assert fields
    shown = text_of(fields.group(1))
    # exactly what the wallet disclosed: holder's name, chip number, conditions …
    assert subject["hund"]["chipnummer"] in shown and subject["halter"]["name"] in shown
    assert subject["erlaubnisnummer"] in shown
    # … and nothing it was not asked for
    assert subject["halter"]["anschrift"]["strasse"] not in answered.text
    assert subject["hund"]["name"] not in answered.text
    assert re.search(r'data-check="status" data-check-status="passed"', answered.text)
    assert "Max-Age=0" in answered.headers.get("set-cookie", "")  # the request's URI is dropped
    assert status_of_page(onlooker.get(page_url).text) == "VALID"
    assert "VALID" in text_of(onlooker.get(page_url + "?lang=en").text)  # (keeps English)

    revoked = post_form(clerk, f"/documents/{doc_id}", f"/documents/{doc_id}/status",
                        {"action": "revoke", "reason": "4", "confirmed": "yes"})
    assert revoked.status_code == 200
    page_url, params, _ = _ask(checker)
    _show(site, params, credential, holder)
    after = checker.get(page_url)
    assert status_of_page(after.text) == "REVOKED"
    words = text_of(after.text)
    assert words.index("WIDERRUFEN") < words.index("Die Prüfungen im Einzelnen")


def test_a_wallet_that_declines_is_said_so(site: Site) -> None:
    checker = site.browser()
    page_url, params, _ = _ask(checker)
    _answer(site, params, error="access_denied", error_description="Vom Nutzer abgelehnt",
            state=params["state"])
    page = checker.get(page_url)
    assert page.status_code == 200 and status_of_page(page.text) == "DECLINED"
    words = text_of(page.text)
    assert "KEIN NACHWEIS GEZEIGT" in words and "access_denied" in words
    assert "GÜLTIG" not in words and "UNGÜLTIG" not in words


def test_checker_form_needs_a_choice_and_a_form_token_and_unknown_requests_are_404(
        site: Site) -> None:
    checker = site.browser()
    none_chosen = post_form(checker, "/verify/wallet", "/verify/wallet", {})
    assert none_chosen.status_code == 400 and 'id="error-summary"' in none_chosen.text
    assert "Bitte wählen Sie eine Dokumentart." in none_chosen.text
    unknown = post_form(checker, "/verify/wallet", "/verify/wallet", {"usecase": "unbekannt"})
    assert unknown.status_code == 400
    no_token = checker.post("/verify/wallet", data={"usecase": DOG}, follow_redirects=False)
    assert no_token.status_code == 403
    for request_id in ("0" * 32, "nicht-hex", "A" * 32):
        gone = checker.get(f"/verify/wallet/{request_id}")
        assert gone.status_code == 404 and 'data-status-code="404"' in gone.text
        assert "Nicht gefunden" in gone.text and "bitte eine neue stellen" in gone.text

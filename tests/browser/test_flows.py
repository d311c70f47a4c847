"""The flows of issue 4 by clicking alone, in real Chromium against a real `govchain serve`.

A clerk issues a dog permit through the generated form, downloads its PDF; the QR code decoded
from the PDF opens the verification page (VALID); the clerk revokes the permit with confirmation
and the same page shows REVOKED. A landlord's confirmation ends with a Zuordnungsmerkmal that a
clerk looks up. A checker asks a wallet (the reference libraries of tests/support/wallet.py) for a
dog permit at /verify/wallet and the page, reloading itself, shows the answer. The login and issue
forms work with the keyboard alone, with visible focus.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from browser_kit import Web, example
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select

from govchain.domain.pointers import iter_leaves
from govchain.presentation.pdf import ATTACHMENT_NAME
from support import wallet
from support.browser import (
    date_keys,
    fill_form,
    focus_outline,
    has_visible_focus,
    qr_codes_in_pdf,
    wait_css,
    wait_for_download,
    wait_url,
)
from support.serve import AACHEN

pytestmark = pytest.mark.browser


def click(web: Web, css: str) -> None:
    element = wait_css(web.driver, css)
    web.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def status_on_page(web: Web, timeout: float = 30.0) -> str:
    """The verification answer shown (a document page waits for its anchor and reloads itself)."""
    status = wait_css(web.driver, "#verification-result", timeout).get_attribute("data-status")
    return str(status)


def pdf_attachment(data: bytes) -> dict[str, Any]:
    pdf = pdfium.PdfDocument(data)
    try:
        for i in range(pdf.count_attachments()):
            attachment = pdf.get_attachment(i)
            if attachment.get_name() == ATTACHMENT_NAME:
                document: dict[str, Any] = json.loads(bytes(attachment.get_data()))
                return document
    finally:
        pdf.close()
    raise AssertionError(f"{ATTACHMENT_NAME} fehlt im PDF")


def pdf_text(data: bytes) -> str:
    pdf = pdfium.PdfDocument(data)
    try:
        return " ".join(" ".join(pdf[i].get_textpage().get_text_range().split()) for i in range(len(pdf)))
    finally:
        pdf.close()


def test_clerk_issues_a_dog_permit_and_its_qr_code_verifies_until_revoked(web: Web, downloads: Path) -> None:
    subject = example("gefaehrlicher-hund", 0)
    subject["erlaubnisnummer"] = "AC-32-2026-4711"

    web.login("clerk")
    click(web, 'nav a[href="/documents/new"]')
    click(web, "#choose-gefaehrlicher-hund")
    wait_css(web.driver, "#issue-form")
    fill_form(web.driver, "#issue-form", subject)
    click(web, "#issue-submit")
    document_url = wait_url(web.driver, lambda url: "/documents/" in url and "/new" not in url)
    assert status_on_page(web) == "VALID"
    assert "276098106452137" in web.driver.find_element(By.CSS_SELECTOR, "main").text

    before = set(downloads.iterdir())
    click(web, "#download-pdf")
    data = wait_for_download(downloads, ".pdf", before).read_bytes()
    (qr_url,) = qr_codes_in_pdf(data)
    assert qr_url.startswith(web.service.url("/v/"))
    text = pdf_text(data)
    assert "Stadt Aachen" in text and "AC-32-2026-4711" in text and "Sandra Kowalczyk" in text
    assert pdf_attachment(data)["credentialSubject"]["hund"]["chipnummer"] == "276098106452137"

    web.logout()  # the QR code is opened by someone else: no session
    web.driver.get(qr_url)
    assert status_on_page(web) == "VALID"
    highlights = wait_css(web.driver, "#highlights").text
    assert "276098106452137" in highlights and "Kowalczyk" in highlights

    web.login("clerk")
    web.driver.get(document_url.split("?")[0])
    Select(wait_css(web.driver, "#status-reason")).select_by_value("4")
    click(web, "#action-revoke")
    click(web, "#confirm-submit")  # the confirmation step
    wait_url(web.driver, lambda url: "changed=revoke" in url)
    assert wait_css(web.driver, "#document-state").get_attribute("data-ledger-status") == "revoked"

    web.logout()
    web.driver.get(qr_url)
    assert status_on_page(web) == "REVOKED"


def test_landlord_confirmation_ends_with_a_code_the_clerk_looks_up(web: Web) -> None:
    subject = example("wohnungsgeberbestaetigung", 0)  # two tenants, an owner who is not the landlord

    web.login("landlord")
    click(web, "#landlord-new-wohnungsgeberbestaetigung")
    Select(wait_css(web.driver, "#municipality")).select_by_value(AACHEN)
    fill_form(web.driver, "#issue-form", subject)
    click(web, "#issue-submit")
    code = str(wait_css(web.driver, "#landlord-code", 60).get_attribute("data-code"))
    assert len(code.replace("-", "")) == 12
    assert wait_css(web.driver, "#landlord-link").get_attribute("href").startswith(web.service.url("/v/"))
    problems = web.axe("Ergebnis des Wohnungsgebers")
    assert not problems, "\n".join(problems)

    web.login("clerk")
    click(web, 'nav a[href="/lookup"]')
    wait_css(web.driver, "#lookup-code").send_keys(code.lower().replace("-", " "))  # as typed
    click(web, "#lookup-submit")
    result = wait_css(web.driver, "#lookup-result")
    assert status_on_page(web) == "VALID"
    for name in ("Derya Yilmaz-Becker", "Jonas Matthias Becker", "Merheimer Straße 118a"):
        assert name in result.text


def test_checker_asks_a_wallet_and_the_page_shows_valid_by_itself(web: Web) -> None:
    issued = web.service.issue("gefaehrlicher-hund", example("gefaehrlicher-hund", 0))
    status, offer = web.service.call("POST", f"/api/v1/documents/{issued['id']}/wallet-offers",
                                     role="clerk")
    assert status == 201, offer
    got = wallet.receive(offer["offer"], offer["pin"])
    assert "error" not in got, got

    web.logout()  # the checker needs no account
    web.open("/verify")
    click(web, "#verify-wallet-link")
    click(web, "#usecase-gefaehrlicher-hund")
    click(web, "#wallet-verify-submit")
    wait_url(web.driver, lambda url: re.search(r"/verify/wallet/[0-9a-f]{32}$", url) is not None)
    qr = wait_css(web.driver, "#request-qr")
    assert qr.is_displayed() and qr.size["width"] >= 200, qr.size  # big enough to scan
    request = wait_css(web.driver, "#wallet-link").get_dom_attribute("href")
    assert request.startswith("openid4vp://?")
    assert "Chipnummer" in wait_css(web.driver, "#asked-claims").text

    sent = wallet.present(request, got["credential"], got["holderPrivateJwk"])
    assert sent["ok"], sent
    assert status_on_page(web) == "VALID"  # no click: the page reloaded itself
    main = web.driver.find_element(By.CSS_SELECTOR, "main").text
    assert "GÜLTIG" in main.splitlines()[:2]  # the answer first
    assert main.index("GÜLTIG") < main.index("276098106452137")
    address = example("gefaehrlicher-hund", 0)["halter"]["anschrift"]
    assert "Kowalczyk" in main and address["strasse"] not in main  # not asked for, not shown


# -- keyboard only ----------------------------------------------------------------------------

def tab(web: Web, shift: bool = False) -> WebElement:
    keys = ActionChains(web.driver)
    if shift:
        keys.key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT)
    else:
        keys.send_keys(Keys.TAB)
    keys.perform()
    return web.driver.switch_to.active_element


def describe(element: WebElement) -> str:
    return (f"<{element.tag_name} id={element.get_attribute('id')!r} "
            f"name={element.get_attribute('name')!r}>")


def test_login_by_keyboard_with_visible_focus(web: Web) -> None:
    web.logout()
    web.open("/login")
    wait_css(web.driver, "#login-form")
    unmarked: list[str] = []
    active = web.driver.switch_to.active_element
    for _ in range(30):
        active = tab(web)
        if not has_visible_focus(focus_outline(web.driver)):
            unmarked.append(describe(active))
        if active.get_attribute("id") == "username":
            break
    assert active.get_attribute("id") == "username", "TAB erreicht das Feld Benutzername nicht"
    account = web.service.account("clerk")
    active.send_keys(account.username)
    active = tab(web)
    assert active.get_attribute("id") == "password"
    active.send_keys(account.password)
    active = tab(web)
    assert active.get_attribute("id") == "login-submit"
    assert has_visible_focus(focus_outline(web.driver)), describe(active)
    active.send_keys(Keys.ENTER)
    wait_url(web.driver, lambda url: url.endswith("/documents"))
    web.signed_in = "clerk"
    assert not unmarked, f"Fokus nicht sichtbar auf: {unmarked}"


def test_issue_form_by_keyboard_with_visible_focus(web: Web) -> None:
    subject = example("gefaehrlicher-hund", 2)  # no optional groups: every field typed in order
    values = {pointer: value for pointer, value in iter_leaves(subject)}
    web.login("clerk")
    web.open("/documents/new/gefaehrlicher-hund")
    form = wait_css(web.driver, "#issue-form")
    active = web.driver.switch_to.active_element
    for _ in range(40):  # from the top of the page into the form
        active = tab(web)
        if web.driver.execute_script("return arguments[0].contains(arguments[1])", form, active):
            break
    unmarked: list[str] = []
    typed: list[str] = []
    done: set[str] = set()
    for _ in range(250):
        if not has_visible_focus(focus_outline(web.driver)):
            unmarked.append(describe(active))
        if active.get_attribute("id") == "issue-submit":
            break
        name = active.get_attribute("name") or ""
        if name in values and name not in done:
            type_by_keyboard(web, active, values[name])
            typed.append(name)
            done.add(name)
        active = tab(web)
    assert active.get_attribute("id") == "issue-submit", "TAB erreicht die Schaltfläche Ausstellen nicht"
    assert sorted(typed) == sorted(values), f"nicht per Tastatur erreicht: {set(values) - set(typed)}"
    active.send_keys(Keys.ENTER)
    wait_url(web.driver, lambda url: "/documents/" in url and "/new" not in url)
    assert status_on_page(web) == "VALID"
    assert "941000024816733" in web.driver.find_element(By.CSS_SELECTOR, "main").text
    assert not unmarked, f"Fokus nicht sichtbar auf: {unmarked}"


def type_by_keyboard(web: Web, element: WebElement, value: object) -> None:
    """Keys only: text typed, a date typed digit by digit, a selection moved with the arrow keys,
    a check box toggled with the space bar."""
    kind = (element.get_attribute("type") or "").lower()
    keys = ActionChains(web.driver)
    if element.tag_name.lower() == "select":
        options = [o.get_attribute("value") for o in Select(element).options]
        target = options.index("true" if value is True else "false" if value is False else str(value))
        current = options.index(Select(element).first_selected_option.get_attribute("value"))
        step = Keys.ARROW_DOWN if target > current else Keys.ARROW_UP
        for _ in range(abs(target - current)):
            keys.send_keys(step)
        keys.perform()
        assert Select(element).first_selected_option.get_attribute("value") == options[target]
    elif kind == "checkbox":
        if element.is_selected() != bool(value):
            keys.send_keys(Keys.SPACE).perform()
        assert element.is_selected() == bool(value)
    elif kind == "date":
        keys.send_keys(date_keys(web.driver, str(value))).perform()
        assert element.get_attribute("value") == value, element.get_attribute("value")
    else:
        keys.send_keys(str(value)).perform()

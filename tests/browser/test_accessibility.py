"""axe-core in real Chromium finds no WCAG 2.1 A/AA violation on any page, at 1280 and at 360 px.

Each case brings the browser into one state of one page (signed in as the role that sees it, form
errors shown, a link just created, …) and checks it at both widths. The landlord's result page is
checked in test_flows.py, at the end of the landlord's flow that produces it. The checker's page
that waits for a wallet reloads itself, which axe counts against WCAG 2.2.1 (meta-refresh): it
is checked with reloading stopped, and apart, that this rule is all it breaks while reloading.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from browser_kit import USECASES, Web, example
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By

from govchain.domain.security import new_link_token
from support import wallet
from support.browser import DESKTOP, PHONE, run_axe, set_viewport, wait_css, wait_url
from support.serve import ServeProcess

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class World:
    """Documents made through the API for the pages to show."""

    dog: dict[str, Any]
    valid_url: str
    revoked_url: str
    music_url: str
    landlord: dict[str, Any]
    in_wallet: dict[str, Any]  # the dog permit, taken into the reference wallet


@pytest.fixture(scope="module")
def world(service: ServeProcess) -> World:
    dog = service.issue("gefaehrlicher-hund", example("gefaehrlicher-hund", 0))
    revoked = service.issue("gefaehrlicher-hund", example("gefaehrlicher-hund", 1))
    revoked_url = service.link(revoked["id"])
    service.change_status(revoked["id"], "revoke")
    music = service.issue("strassenmusik", example("strassenmusik", 0))
    landlord = service.issue("wohnungsgeberbestaetigung", example("wohnungsgeberbestaetigung", 0),
                             role="landlord")
    status, offer = service.call("POST", f"/api/v1/documents/{dog['id']}/wallet-offers",
                                 role="clerk")
    assert status == 201, offer
    in_wallet = wallet.receive(offer["offer"], offer["pin"])
    assert "error" not in in_wallet, in_wallet
    return World(dog, service.link(dog["id"], hide=["/halter/geburtsdatum"]), revoked_url,
                 service.link(music["id"]), landlord, in_wallet)


Visit = Callable[[Web, World], None]
VISITS: dict[str, Visit] = {}


def page(name: str) -> Callable[[Visit], Visit]:
    def register(visit: Visit) -> Visit:
        VISITS[name] = visit
        return visit
    return register


# -- public pages -----------------------------------------------------------------------------

@page("start")
def _start(web: Web, world: World) -> None:
    web.logout()
    web.open("/")
    wait_css(web.driver, "main h1")


@page("login")
def _login(web: Web, world: World) -> None:
    web.logout()
    web.open("/login")
    wait_css(web.driver, "#login-form")


@page("login with error")
def _login_error(web: Web, world: World) -> None:
    web.logout()
    web.open("/login")
    wait_css(web.driver, "#username").send_keys("niemand")
    web.driver.find_element(By.ID, "password").send_keys("falsches Passwort")
    web.driver.find_element(By.ID, "login-submit").click()
    wait_css(web.driver, "#error-summary")


@page("verify")
def _verify(web: Web, world: World) -> None:
    web.logout()
    web.open("/verify")
    wait_css(web.driver, "#verify-code-form")


@page("verify with wrong code")
def _verify_error(web: Web, world: World) -> None:
    web.open("/verify")
    wait_css(web.driver, "#code").send_keys("1234")
    web.driver.find_element(By.ID, "verify-code-submit").click()
    wait_css(web.driver, "#code-error")


@page("verify pasted document")
def _verify_pasted(web: Web, world: World) -> None:
    import json

    web.open("/verify")
    area = wait_css(web.driver, "#document_json")
    # typing 5 kB key by key is slow; the paste a person would make is one input event
    web.driver.execute_script("arguments[0].value = arguments[1]", area,
                              json.dumps(world.dog["document"], ensure_ascii=False))
    web.driver.find_element(By.ID, "verify-document-submit").click()
    assert wait_css(web.driver, "#verification-result").get_attribute("data-status") == "VALID"


@page("/v/ VALID")
def _v_valid(web: Web, world: World) -> None:
    web.logout()
    web.driver.get(world.valid_url)
    assert wait_css(web.driver, "#verification-result").get_attribute("data-status") == "VALID"


@page("/v/ VALID English")
def _v_valid_en(web: Web, world: World) -> None:
    web.logout()
    web.driver.get(world.valid_url + "?lang=en")
    assert wait_css(web.driver, "#verification-result").get_attribute("data-status") == "VALID"
    assert web.driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"


@page("/v/ REVOKED")
def _v_revoked(web: Web, world: World) -> None:
    web.logout()
    web.driver.get(world.revoked_url)
    assert wait_css(web.driver, "#verification-result").get_attribute("data-status") == "REVOKED"


@page("/v/ street music, with its time windows")
def _v_music(web: Web, world: World) -> None:
    web.logout()
    web.driver.get(world.music_url)
    wait_css(web.driver, "#verification-result")
    wait_css(web.driver, "#schedule-now")


@page("/v/ unknown link")
def _v_unknown(web: Web, world: World) -> None:
    web.open(f"/v/{new_link_token()}")
    assert wait_css(web.driver, "#verification-result").get_attribute("data-status") == "INVALID"


# -- the citizen's wallet -----------------------------------------------------------------------

def _ask_wallet(web: Web, usecase: str = "gefaehrlicher-hund") -> str:
    """A request made on the checker's page; the request URI of its same-device link."""
    web.logout()
    web.open("/verify/wallet")
    choice = wait_css(web.driver, f"#usecase-{usecase}")
    web.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", choice)
    choice.click()
    web.driver.find_element(By.ID, "wallet-verify-submit").click()
    return str(wait_css(web.driver, "#wallet-link").get_dom_attribute("href"))


@page("verify with a wallet")
def _wallet_choice(web: Web, world: World) -> None:
    web.logout()
    web.open("/verify/wallet")
    wait_css(web.driver, "#wallet-verify-form")


@page("verify with a wallet, nothing chosen")
def _wallet_choice_error(web: Web, world: World) -> None:
    _wallet_choice(web, world)
    web.driver.find_element(By.ID, "wallet-verify-submit").click()
    wait_css(web.driver, "#error-summary")


@page("wallet request, waiting, reloading stopped")
def _wallet_waiting(web: Web, world: World) -> None:
    _ask_wallet(web, "wohnungsgeberbestaetigung")  # the longest request, the densest QR code
    web.driver.get(web.driver.current_url + "?refresh=off")
    wait_css(web.driver, "#refresh-on")
    wait_css(web.driver, "#request-qr")


@page("wallet answer VALID")
def _wallet_valid(web: Web, world: World) -> None:
    request = _ask_wallet(web)
    sent = wallet.present(request, world.in_wallet["credential"],
                          world.in_wallet["holderPrivateJwk"])
    assert sent["ok"], sent
    assert wait_css(web.driver, "#verification-result", 30).get_attribute("data-status") == "VALID"


@page("wallet declined")
def _wallet_declined(web: Web, world: World) -> None:
    params = dict(parse_qsl(urlsplit(_ask_wallet(web)).query))
    posted = httpx.post(params["response_uri"], timeout=30,
                        data={"error": "access_denied", "state": params["state"]})
    assert posted.status_code == 200, posted.text
    assert wait_css(web.driver, "#verification-result", 30).get_attribute(
        "data-status") == "DECLINED"


@page("wallet offer")
def _wallet_offer(web: Web, world: World) -> None:
    web.login("clerk")
    web.open(f"/documents/{world.dog['id']}")
    button = wait_css(web.driver, "#wallet-offer-create")
    web.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    button.click()
    wait_css(web.driver, "#offer-pin")


# -- clerk ------------------------------------------------------------------------------------

@page("documents")
def _documents(web: Web, world: World) -> None:
    web.login("clerk")
    web.open("/documents")
    wait_css(web.driver, "#document-table")


@page("documents filtered")
def _documents_filtered(web: Web, world: World) -> None:
    web.login("clerk")
    web.open("/documents?usecase=gefaehrlicher-hund&status=revoked&q=&date_from=2020-01-01")
    wait_css(web.driver, "#document-count")


@page("choose use case")
def _choose(web: Web, world: World) -> None:
    web.login("clerk")
    web.open("/documents/new")
    wait_css(web.driver, "#usecase-list")


def _issue_form(usecase_id: str, with_errors: bool) -> Visit:
    def visit(web: Web, world: World) -> None:
        web.login("clerk")
        web.open(f"/documents/new/{usecase_id}")
        wait_css(web.driver, "#issue-form")
        if with_errors:
            web.driver.find_element(By.ID, "issue-submit").click()
            wait_css(web.driver, "#error-summary")
            assert web.driver.find_elements(By.CSS_SELECTOR, ".field-error")
    return visit


for _uc in USECASES:
    if "clerk" in _uc.submitters:
        VISITS[f"issue form {_uc.id}"] = _issue_form(_uc.id, False)
        VISITS[f"issue form {_uc.id} with errors"] = _issue_form(_uc.id, True)


@page("document")
def _document(web: Web, world: World) -> None:
    web.login("clerk")
    web.open(f"/documents/{world.dog['id']}")
    assert wait_css(web.driver, "#verification-result").get_attribute("data-status") == "VALID"


@page("link dialog, link created")
def _link_created(web: Web, world: World) -> None:
    web.login("clerk")
    web.open(f"/documents/{world.dog['id']}")
    box = wait_css(web.driver, '#link-hide input[value="/halter/anschrift"]')
    web.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", box)
    box.click()
    web.driver.find_element(By.ID, "create-link").click()
    wait_css(web.driver, "#created-link-code")


@page("confirm revocation")
def _confirm(web: Web, world: World) -> None:
    web.login("clerk")
    web.open(f"/documents/{world.dog['id']}")
    button = wait_css(web.driver, "#action-revoke")
    web.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    button.click()
    wait_css(web.driver, "#confirm-submit")  # not confirmed: the document stays valid


@page("lookup")
def _lookup(web: Web, world: World) -> None:
    web.login("clerk")
    web.open("/lookup")
    wait_css(web.driver, "#lookup-form")


@page("lookup found")
def _lookup_found(web: Web, world: World) -> None:
    web.login("clerk")
    web.open("/lookup")
    wait_css(web.driver, "#lookup-code").send_keys(world.landlord["landlordCode"])
    web.driver.find_element(By.ID, "lookup-submit").click()
    assert wait_css(web.driver, "#lookup-result #verification-result").get_attribute(
        "data-status") == "VALID"


@page("lookup with wrong code")
def _lookup_error(web: Web, world: World) -> None:
    web.login("clerk")
    web.open("/lookup?code=ABCD")
    wait_css(web.driver, "#lookup-code-error")


@page("not found")
def _not_found(web: Web, world: World) -> None:
    web.login("clerk")
    web.open("/documents/00000000-0000-0000-0000-000000000000")
    wait_css(web.driver, "main h1")


# -- registrar and landlord -------------------------------------------------------------------

@page("registry")
def _registry(web: Web, world: World) -> None:
    web.login("registrar")
    web.open("/registry")
    wait_css(web.driver, "#admit-form")


@page("landlord home")
def _landlord_home(web: Web, world: World) -> None:
    web.login("landlord")
    web.open("/landlord")
    wait_css(web.driver, "#document-table")


@page("landlord chooses a document type")
def _landlord_choose(web: Web, world: World) -> None:
    web.login("landlord")
    web.open("/landlord/new")
    wait_css(web.driver, "main h1")


@page("landlord form")
def _landlord_form(web: Web, world: World) -> None:
    web.login("landlord")
    web.open("/landlord/new/wohnungsgeberbestaetigung")
    wait_css(web.driver, "#issue-form")


@page("landlord form with errors")
def _landlord_form_errors(web: Web, world: World) -> None:
    _landlord_form(web, world)
    web.driver.find_element(By.ID, "issue-submit").click()
    wait_css(web.driver, "#error-summary")


@page("landlord's document")
def _landlord_document(web: Web, world: World) -> None:
    web.login("landlord")
    web.open(f"/documents/{world.landlord['id']}")
    wait_url(web.driver, lambda url: world.landlord["id"] in url)
    assert wait_css(web.driver, "#verification-result").get_attribute("data-status") == "VALID"


@pytest.mark.parametrize("name", list(VISITS))
def test_no_axe_violations(name: str, web: Web, world: World) -> None:
    VISITS[name](web, world)
    problems = web.axe(name)
    assert not problems, "\n".join(problems)


def test_the_reloading_wait_page_breaks_only_the_refresh_rule_and_can_be_stopped(
        web: Web, world: World) -> None:
    """While it waits for the wallet the checker's page reloads itself every few seconds (no
    script on the pages); axe flags any timed refresh (WCAG 2.2.1). Nothing else may be wrong
    with it, and a link at its top stops the reloading (the variant checked above)."""
    _ask_wallet(web)
    for width in (DESKTOP[0], PHONE[0]):
        set_viewport(web.driver, width)
        for _attempt in range(3):  # a reload in the middle of axe's run ends the script
            try:
                wait_css(web.driver, "#refresh-off")
                found = {v["id"] for v in run_axe(web.driver)}
                break
            except WebDriverException:
                continue
        else:
            raise AssertionError("axe lief nicht durch, bevor die Seite neu lud")
        assert found == {"meta-refresh"}, f"{found} bei {width} px"
    set_viewport(web.driver, *DESKTOP)
    first_link = web.driver.find_element(By.CSS_SELECTOR, "main a")
    assert first_link.get_attribute("id") == "refresh-off"


def test_the_checks_find_and_name_violations(web: Web) -> None:
    """Zero violations above mean something only if the checks report them when there are some."""
    web.driver.get("data:text/html;charset=utf-8,<meta name='viewport' content='width=device-width'>"
                   "<title>x</title><img src='data:,'>"
                   "<p style='color:%23777;background:%23888'>schlecht lesbar</p>"
                   "<div id='breit' style='width:600px'>breit</div>")
    problems = web.axe("Negativbeispiel")
    assert len(problems) == 3  # axe at both widths, overflow only at 360 px
    for rule in ("html-has-lang", "image-alt", "color-contrast"):
        assert rule in problems[0] and rule in problems[1]
    assert "img" in problems[0] and "1280 px" in problems[0] and "360 px" in problems[1]
    assert "360 px: waagerechtes Scrollen" in problems[2] and "div#breit" in problems[2]

"""Staff sign-in through the identity provider, clicked in real Chromium: a `govchain serve`
configured with GOVCHAIN_OIDC_* for panva's oidc-provider (`support/oidc.py`), the clerk's way
from the login page through the provider's form to the document list, and the logout that ends
the sign-in at the provider too. The HTTP details and refusals are tested in
tests/web/test_web_oidc.py; here the browser shows that redirects, cookies (the pending sign-in
on /login/oidc, the session) and the Content-Security-Policy (the logout form ends at the
provider) work together.

The provider and this service run for this module only, with a Chromium of their own: cookies do
not keep ports apart, and the suite's browser stays unaffected.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browser_kit import need_browser
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from govchain.entrypoints.http.oidc_login import CALLBACK_PATH, ID_TOKEN_COOKIE, PENDING_COOKIE
from govchain.entrypoints.http.web.session import SESSION_COOKIE
from support.anvil import free_port
from support.browser import DESKTOP, chromium, clear_cookies, set_viewport, wait_css, wait_url
from support.oidc import OidcProvider, start_provider
from support.serve import ServeProcess, running_service

pytestmark = pytest.mark.browser

LOGGED_OUT_PATH = "/login?logged_out=1"


@pytest.fixture(scope="module")
def idp_and_service(tmp_path_factory: pytest.TempPathFactory
                    ) -> Iterator[tuple[OidcProvider, ServeProcess]]:
    """The provider's client may only return to the service's callback, so the service's port
    is chosen before either starts."""
    need_browser()
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with start_provider(base_url + CALLBACK_PATH, base_url + LOGGED_OUT_PATH) as idp:
        env = {"GOVCHAIN_OIDC_ISSUER": idp.issuer, "GOVCHAIN_OIDC_CLIENT_ID": idp.client_id,
               "GOVCHAIN_OIDC_CLIENT_SECRET": idp.client_secret,
               "GOVCHAIN_OIDC_SCOPE": "openid profile govchain"}
        home = tmp_path_factory.mktemp("browser-oidc") / "home"
        with running_service(home, env=env, port=port) as service:
            assert service.base_url == base_url
            yield idp, service


@pytest.fixture(scope="module")
def driver(idp_and_service: tuple[OidcProvider, ServeProcess]) -> Iterator[WebDriver]:
    with chromium() as browser:
        yield browser


@pytest.fixture(autouse=True)
def _desktop_width(driver: WebDriver) -> None:
    """Replaces the suite's fixture of that name, which would start the suite's service."""
    set_viewport(driver, *DESKTOP)
    clear_cookies(driver)


def _cookies(driver: WebDriver) -> set[str]:
    """The names of the browser's cookies on any host and path (Selenium sees only the page's)."""
    return {c["name"] for c in driver.execute_cdp_cmd("Network.getAllCookies", {})["cookies"]}


def _sign_in_at_provider(driver: WebDriver, idp: OidcProvider, account: str) -> None:
    """On the provider's form (reached from govchain's button), signs in as `account`."""
    wait_url(driver, lambda url: url.startswith(f"{idp.issuer}/interaction/"))
    field = wait_css(driver, "#account")
    field.send_keys(account)
    driver.find_element(By.ID, "sign-in").click()


def test_clerk_signs_in_at_the_provider_and_logs_out_there(
        driver: WebDriver, idp_and_service: tuple[OidcProvider, ServeProcess]) -> None:
    idp, service = idp_and_service
    driver.get(service.url("/login"))
    wait_css(driver, "#login-oidc").click()
    _sign_in_at_provider(driver, idp, "meier")

    landed = wait_url(driver, lambda url: url.startswith(service.url("/documents")))
    assert landed.split("?")[0] == service.url("/documents")
    assert "meier" in wait_css(driver, "#logout-button").text
    assert {SESSION_COOKIE, ID_TOKEN_COOKIE} <= _cookies(driver)
    assert PENDING_COOKIE not in _cookies(driver)  # the pending sign-in is spent

    driver.find_element(By.ID, "logout-button").click()
    # govchain's session ends at once; the browser goes on to the provider's end_session page
    # (allowed by the form-action of govchain's CSP), which asks before it signs out
    wait_url(driver, lambda url: url.startswith(f"{idp.issuer}/session/end"))
    wait_css(driver, 'button[name="logout"][value="yes"]').click()
    wait_url(driver, lambda url: url == service.url(LOGGED_OUT_PATH))
    wait_css(driver, "#login-oidc")
    assert not {SESSION_COOKIE, ID_TOKEN_COOKIE} & _cookies(driver)

    driver.get(service.url("/documents"))
    wait_url(driver, lambda url: url.startswith(service.url("/login?next=")))
    # signed out at the provider too: its form comes again rather than a silent sign-in
    wait_css(driver, "#login-oidc").click()
    _sign_in_at_provider(driver, idp, "meier")
    wait_url(driver, lambda url: url.startswith(service.url("/documents")))

"""Login, logout, CSRF, security headers, language switch and who may open which page."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from web_kit import PASSWORD, Site, csrf_of, login, post_form, text_of

from govchain.entrypoints.http.ratelimit import LoginThrottle
from govchain.entrypoints.http.tokens import DEVICE_COOKIE
from govchain.entrypoints.http.web.session import CSRF_COOKIE, SESSION_COOKIE


def test_login_sets_a_strict_session_cookie_and_logout_ends_it(site: Site) -> None:
    browser = site.browser()
    page = browser.get("/login")
    assert 'autocomplete="username"' in page.text and 'autocomplete="current-password"' in page.text
    response = browser.post("/login", data={"username": "sb.aachen", "password": "ein langes Passwort",
                                            "csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/documents"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" in cookie
    documents = browser.get("/documents")
    assert documents.status_code == 200 and "Dokumente der Kommune" in documents.text
    logout = post_form(browser, "/documents", "/logout", {}, follow_redirects=False)
    assert logout.status_code == 303
    assert browser.get("/documents", follow_redirects=False).headers["location"].startswith("/login")


def test_wrong_password_is_refused_and_then_throttled(site: Site) -> None:
    app = site.app_client.app
    saved = app.state.login_throttle  # type: ignore[attr-defined]
    app.state.login_throttle = LoginThrottle(3, 300)  # type: ignore[attr-defined]
    try:
        _refused_then_throttled(site)
    finally:
        app.state.login_throttle = saved  # type: ignore[attr-defined]


def _refused_then_throttled(site: Site) -> None:
    browser = site.browser()
    for _ in range(3):
        response = post_form(browser, "/login", "/login", {"username": "vermieterin", "password": "falsch"})
        assert response.status_code == 401
        assert "Benutzername oder Passwort ist falsch" in response.text
        assert 'aria-invalid="true"' in response.text and 'id="error-summary"' in response.text
    throttled = post_form(browser, "/login", "/login", {"username": "vermieterin",
                                                        "password": "ein langes Passwort"})
    assert throttled.status_code == 429 and "Retry-After" in throttled.headers
    assert "Zu viele fehlgeschlagene Anmeldungen" in throttled.text


def test_a_post_without_a_valid_csrf_token_is_refused(site: Site) -> None:
    browser = login(site, "sb.aachen")
    for token in (None, "forged"):
        data = {"usecase": "x"} if token is None else {"csrf_token": token}
        response = browser.post("/logout", data=data)
        assert response.status_code == 403
        assert 'data-status-code="403"' in response.text
        assert "Das Formular ist abgelaufen" in response.text
    assert browser.get("/documents").status_code == 200  # still logged in
    # a token from another browser does not fit this browser's cookie
    other = login(site, "sb.aachen")
    foreign = csrf_of(other.get("/documents").text)
    assert browser.post("/logout", data={"csrf_token": foreign}).status_code == 403


def test_login_needs_a_csrf_token_too(site: Site) -> None:
    browser = site.browser()
    browser.get("/login")
    response = browser.post("/login", data={"username": "sb.aachen", "password": "ein langes Passwort"})
    assert response.status_code == 403
    assert SESSION_COOKIE not in browser.cookies


def test_pages_carry_strict_security_headers(site: Site) -> None:
    browser = site.browser()
    page = browser.get("/verify")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert CSRF_COOKIE in browser.cookies
    # nothing is loaded from elsewhere: every src/href is local
    assert not re.findall(r'(?:src|href)="(?:https?:)?//', page.text)
    css = browser.get("/static/app.css")
    assert css.status_code == 200 and "--valid" in css.text


def test_language_switch_by_query_and_cookie(site: Site) -> None:
    browser = site.browser()
    german = browser.get("/verify")
    assert '<html lang="de">' in german.text and "Dokument prüfen" in german.text
    english = browser.get("/verify?lang=en")
    assert '<html lang="en">' in english.text and "Verify a document" in english.text
    assert browser.cookies.get("lang") == "en"
    assert '<html lang="en">' in browser.get("/login").text  # kept by the cookie
    assert '<html lang="de">' in browser.get("/login?lang=de").text
    # the switch keeps the rest of the address (e.g. the filters of a list)
    clerk = login(site, "sb.aachen")
    listed = clerk.get("/documents?q=Bruno&status=revoked")
    assert 'href="/documents?q=Bruno&amp;status=revoked&amp;lang=en"' in listed.text


def test_each_role_opens_only_its_own_pages(site: Site) -> None:
    anonymous = site.browser()
    for path in ("/documents", "/documents/new", "/lookup", "/landlord", "/registry"):
        response = anonymous.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")
    landlord = login(site, "vermieter")
    for path in ("/documents", "/documents/new", "/lookup", "/registry"):
        assert landlord.get(path).status_code == 403, path
    clerk = login(site, "sb.aachen")
    for path in ("/landlord", "/landlord/new", "/registry"):
        assert clerk.get(path).status_code == 403, path
    registrar = login(site, "registratur")
    for path in ("/documents", "/landlord"):
        assert registrar.get(path).status_code == 403, path
    assert registrar.get("/registry").status_code == 200


def test_login_returns_to_the_page_asked_for_but_never_elsewhere(site: Site) -> None:
    browser = site.browser()
    first = browser.get("/lookup")  # redirected to the login with next=/lookup
    assert 'name="next" value="/lookup"' in first.text
    response = browser.post("/login", data={"username": "sb.aachen", "password": "ein langes Passwort",
                                            "next": "/lookup", "csrf_token": csrf_of(first.text)},
                            follow_redirects=False)
    assert response.headers["location"] == "/lookup"
    other = site.browser()
    page = other.get("/login?next=https://evil.example/")
    assert 'name="next" value=""' in page.text
    response = other.post("/login", data={"username": "sb.aachen", "password": "ein langes Passwort",
                                          "next": "//evil.example/", "csrf_token": csrf_of(page.text)},
                          follow_redirects=False)
    assert response.headers["location"] == "/documents"


def test_start_page_and_error_page_are_pages(site: Site) -> None:
    browser: TestClient = site.browser()
    home = browser.get("/")
    assert home.status_code == 200 and text_of(home.text).count("Dokument prüfen") >= 1
    missing = login(site, "sb.aachen").get("/documents/does-not-exist")
    assert missing.status_code == 404 and 'data-status-code="404"' in missing.text


def test_after_logout_a_copy_of_the_old_session_cookie_is_refused(site: Site) -> None:
    browser = login(site, "sb.aachen")
    old_session = browser.cookies[SESSION_COOKIE]
    other_device = login(site, "sb.aachen")
    assert post_form(browser, "/documents", "/logout", {}, follow_redirects=False).status_code == 303
    # Whoever kept the cookie (a shared computer, a copied header) is sent to the login page.
    copy = site.browser()
    copy.cookies.set(SESSION_COOKIE, old_session)
    refused = copy.get("/documents", follow_redirects=False)
    assert refused.status_code == 303 and refused.headers["location"].startswith("/login")
    bearer = {"Authorization": f"Bearer {old_session}"}
    assert site.app_client.get("/api/v1/auth/me", headers=bearer).status_code == 401
    # Logging out in one browser does not end the same user's session in another.
    assert other_device.get("/documents", follow_redirects=False).status_code == 200


def test_guessing_a_clerks_password_does_not_lock_out_the_clerks_own_browser(site: Site) -> None:
    app = site.app_client.app
    saved = app.state.login_throttle  # type: ignore[attr-defined]
    app.state.login_throttle = LoginThrottle(3, 300)  # type: ignore[attr-defined]
    try:
        known = login(site, "sb.koeln")  # the clerk's own browser, which gets a device cookie
        assert DEVICE_COOKIE in known.cookies
        post_form(known, "/documents", "/logout", {})
        attacker = site.browser()
        for _ in range(3):
            assert post_form(attacker, "/login", "/login",
                             {"username": "sb.koeln", "password": "falsch"}).status_code == 401
        # The username is locked for every browser that never logged in as it ...
        stranger = post_form(site.browser(), "/login", "/login",
                             {"username": "sb.koeln", "password": PASSWORD})
        assert stranger.status_code == 429
        # A device cookie is worth nothing forged, nor for another username.
        forged = site.browser()
        forged.cookies.set(DEVICE_COOKIE, "A" + known.cookies[DEVICE_COOKIE])
        assert post_form(forged, "/login", "/login",
                         {"username": "sb.koeln", "password": PASSWORD}).status_code == 429
        assert post_form(known, "/login", "/login",
                         {"username": "sb.aachen", "password": PASSWORD}).status_code == 429
        # The clerk's own browser gets in (from the same address, too: behind one proxy all
        # callers share one).
        back = post_form(known, "/login", "/login", {"username": "sb.koeln", "password": PASSWORD})
        assert back.status_code == 200 and "Dokumente der Kommune" in back.text
        post_form(known, "/documents", "/logout", {})
        # Guessing from the known browser itself is throttled like any other caller.
        for _ in range(3):
            assert post_form(known, "/login", "/login",
                             {"username": "sb.koeln", "password": "falsch"}).status_code == 401
        assert post_form(known, "/login", "/login",
                         {"username": "sb.koeln", "password": PASSWORD}).status_code == 429
    finally:
        app.state.login_throttle = saved  # type: ignore[attr-defined]

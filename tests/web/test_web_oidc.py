"""Staff sign-in with OpenID Connect against a real provider (panva's oidc-provider, pinned in
package.json, `support/oidc.py`): the clerk's way through the provider to the document list, the
refusals (unknown account, no role, another municipality, tampered or foreign state, a code used
twice), the ID token checks with real and forged tokens, and the logout at the provider."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from pydantic import ValidationError
from web_kit import AACHEN, BASE_URL, CHEAP, PASSWORD, Site, csrf_of, login, make_site

from govchain.adapters.identity import IdentityProviderError, OidcClient, SignInRefused
from govchain.domain.security import hash_password
from govchain.entrypoints.http.oidc_login import ID_TOKEN_COOKIE, PENDING_COOKIE
from govchain.errors import PermissionDeniedError
from govchain.services.people import StaffClaims, staff_from_claims
from govchain.settings import Settings
from support.oidc import OidcProvider, start_provider

CALLBACK = f"{BASE_URL}/login/oidc/callback"
LOGGED_OUT = f"{BASE_URL}/login?logged_out=1"


@pytest.fixture(scope="module")
def idp() -> Iterator[OidcProvider]:
    with start_provider(CALLBACK, LOGGED_OUT) as provider:
        yield provider


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, idp: OidcProvider) -> Iterator[Site]:
    for made in make_site(tmp_path_factory, oidc_issuer=idp.issuer, oidc_client_id=idp.client_id,
                          oidc_client_secret=idp.client_secret,
                          oidc_scope="openid profile govchain"):
        with made.uow() as uow:
            for username, role, ags in [("meier", "clerk", AACHEN), ("land", "registrar", None)]:
                uow.users.add(username=username, role=role,  # type: ignore[arg-type]
                              password_hash=hash_password(PASSWORD, hasher=CHEAP),
                              municipality_ags=ags, display_name=username)
            uow.commit()
        yield made


def _at_provider(start: httpx.Response, account: str) -> str:
    """Follows govchain's redirect through the provider's sign-in as `account`; the callback URL
    the provider sends the browser back to."""
    assert start.status_code == 303, start.text
    with httpx.Client(follow_redirects=False, timeout=10) as browser:
        answer = browser.get(start.headers["location"])
        signed_in = False
        for _ in range(10):
            if answer.is_redirect:
                target = urljoin(str(answer.url), answer.headers["location"])
                if target.startswith(BASE_URL):
                    return target
                answer = browser.get(target)
            elif not signed_in and answer.status_code == 200 and "/interaction/" in answer.text:
                answer = browser.post(f"{answer.url}/login", data={"account": account})
                signed_in = True
            else:
                break
    raise AssertionError(f"provider did not send the browser back: {answer.status_code} "
                         f"{answer.text[:500]}")


def _callback(browser: TestClient, url: str) -> httpx.Response:
    parts = urlsplit(url)
    answer: httpx.Response = browser.get(f"{parts.path}?{parts.query}")
    return answer


def sign_in(site: Site, account: str) -> tuple[TestClient, httpx.Response]:
    browser = site.browser()
    callback = _at_provider(browser.get("/login/oidc", follow_redirects=False), account)
    return browser, _callback(browser, callback)


def _sessions(site: Site, username: str) -> int:
    with site.uow() as uow:
        user = uow.users.by_username(username)
        assert user is not None
        return len(uow.login_sessions.for_user(user.id))


# -- signing in ------------------------------------------------------------------------------

def test_login_page_offers_the_staff_account(site: Site) -> None:
    page = site.browser().get("/login?next=/documents")
    assert "Mit dem Dienstkonto anmelden" in page.text
    assert 'href="/login/oidc?next=/documents"' in page.text
    # the logout form may end at the provider, and nowhere else
    issuer = site.app_client.app.state.settings.oidc_issuer  # type: ignore[attr-defined]
    assert f"form-action 'self' {issuer}" in page.headers["content-security-policy"]


def test_clerk_signs_in_through_the_provider_and_lands_on_documents(site: Site) -> None:
    before = _sessions(site, "meier")
    start = site.browser().get("/login/oidc", follow_redirects=False)
    request = parse_qs(urlsplit(start.headers["location"]).query)
    assert request["code_challenge_method"] == ["S256"] and request["code_challenge"][0]
    assert request["redirect_uri"] == [CALLBACK]
    browser, landed = sign_in(site, "meier")
    assert landed.status_code == 200, landed.text
    assert landed.url.path == "/documents"
    assert "meier" in landed.text
    assert _sessions(site, "meier") == before + 1  # recorded like a password login
    assert browser.cookies.get(PENDING_COOKIE) is None  # spent
    assert browser.cookies.get(ID_TOKEN_COOKIE)


def test_registrar_lands_on_the_registry_and_next_is_kept(site: Site) -> None:
    _, landed = sign_in(site, "land")
    assert landed.url.path == "/registry"
    browser = site.browser()
    start = browser.get("/login/oidc?next=/documents?q=1", follow_redirects=False)
    assert _callback(browser, _at_provider(start, "meier")).url.path == "/documents"
    start = browser.get("/login/oidc?next=https://evil.example/", follow_redirects=False)
    assert _callback(browser, _at_provider(start, "meier")).url.path == "/documents"


def test_password_login_keeps_working(site: Site) -> None:
    assert login(site, "meier").get("/documents").status_code == 200


@pytest.mark.parametrize(("account", "reason"), [
    ("fremd", "„fremd“ ist in govchain nicht freigeschaltet"),
    ("ohne", "keine Rolle für govchain"),
    ("koeln", "andere Kommune"),
])
def test_provider_accounts_govchain_does_not_admit_are_refused(site: Site, account: str,
                                                                reason: str) -> None:
    browser, refused = sign_in(site, account)
    assert refused.status_code == 403
    assert "Die Anmeldung mit dem Dienstkonto wurde abgelehnt" in refused.text
    assert reason in refused.text
    assert browser.cookies.get("gc_session") is None
    assert browser.get("/documents", follow_redirects=False).status_code == 303


def test_tampered_state_is_refused(site: Site) -> None:
    browser = site.browser()
    callback = _at_provider(browser.get("/login/oidc", follow_redirects=False), "meier")
    tampered = callback.replace("state=", "state=x")
    refused = _callback(browser, tampered)
    assert refused.status_code == 403
    assert "state" in refused.text
    # the pending sign-in is spent: the genuine answer is no good afterwards either
    assert _callback(browser, callback).status_code == 403


def test_callback_in_another_browser_is_refused(site: Site) -> None:
    """Login CSRF: a callback URL planted in someone else's browser signs no one in there."""
    callback = _at_provider(site.browser().get("/login/oidc", follow_redirects=False), "meier")
    victim = site.browser()
    refused = _callback(victim, callback)
    assert refused.status_code == 403
    assert victim.cookies.get("gc_session") is None


def test_tampered_pending_cookie_is_refused(site: Site) -> None:
    browser = site.browser()
    callback = _at_provider(browser.get("/login/oidc", follow_redirects=False), "meier")
    value = browser.cookies[PENDING_COOKIE]
    payload, mac = value.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body["nonce"] = "mine"
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    browser.cookies.set(PENDING_COOKIE, f"{forged}.{mac}", domain="testserver.local",
                        path="/login/oidc")
    assert _callback(browser, callback).status_code == 403


def test_replayed_callback_is_refused(site: Site) -> None:
    """The same answer (code and this browser's pending cookie) twice: the provider redeems a
    code once."""
    first = site.browser()
    callback = _at_provider(first.get("/login/oidc", follow_redirects=False), "meier")
    pending = first.cookies[PENDING_COOKIE]
    assert _callback(first, callback).url.path == "/documents"
    replay = site.browser()
    replay.cookies.set(PENDING_COOKIE, pending, domain="testserver.local", path="/login/oidc")
    refused = _callback(replay, callback)
    assert refused.status_code == 403
    assert "nicht eingelöst" in refused.text
    assert replay.cookies.get("gc_session") is None


def test_cancelled_at_the_provider_is_refused(site: Site) -> None:
    browser = site.browser()
    start = browser.get("/login/oidc", follow_redirects=False)
    back = _callback(browser, _at_provider(start, "niemand"))  # the provider answers an error
    assert back.status_code == 403
    assert "abgebrochen oder abgelehnt" in back.text


# -- logging out -------------------------------------------------------------------------------

def test_logout_ends_the_session_and_goes_to_the_providers_end_session(
        site: Site, idp: OidcProvider) -> None:
    browser, landed = sign_in(site, "meier")
    id_token = browser.cookies[ID_TOKEN_COOKIE]
    out = browser.post("/logout", data={"csrf_token": csrf_of(landed.text)},
                       follow_redirects=False)
    assert out.status_code == 303
    location = out.headers["location"]
    assert location.startswith(f"{idp.issuer}/session/end?")
    query = parse_qs(urlsplit(location).query)
    assert query["id_token_hint"] == [id_token]
    assert query["post_logout_redirect_uri"] == [LOGGED_OUT]
    assert browser.get("/documents", follow_redirects=False).status_code == 303  # govchain: out
    assert httpx.get(location).status_code == 200  # the provider accepts the hint: its logout form


def test_password_session_logs_out_locally(site: Site) -> None:
    browser = login(site, "meier")
    page = browser.get("/documents")
    out = browser.post("/logout", data={"csrf_token": csrf_of(page.text)},
                       follow_redirects=False)
    assert out.headers["location"] == "/login?logged_out=1"


# -- the ID token checks, with real and forged tokens -----------------------------------------

def _client(idp: OidcProvider, **overrides: str) -> OidcClient:
    return OidcClient(**{"issuer": idp.issuer, "client_id": idp.client_id,  # type: ignore[arg-type]
                         "client_secret": idp.client_secret, "redirect_uri": CALLBACK,
                         "scope": "openid", **overrides})


def _real_id_token(site: Site) -> tuple[str, dict[str, object]]:
    browser, _ = sign_in(site, "meier")
    token = browser.cookies[ID_TOKEN_COOKIE]
    payload = token.split(".")[1]
    return token, json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_real_id_token_passes_and_is_bound_to_nonce_audience_issuer_and_time(
        site: Site, idp: OidcProvider) -> None:
    token, claims = _real_id_token(site)
    nonce = str(claims["nonce"])
    assert _client(idp).verify_id_token(token, nonce=nonce)["govchain_role"] == "clerk"
    with pytest.raises(SignInRefused, match="nonce"):
        _client(idp).verify_id_token(token, nonce="another sign-in")
    with pytest.raises(SignInRefused, match="aud"):
        _client(idp, client_id="another-client").verify_id_token(token, nonce=nonce)
    with pytest.raises(SignInRefused, match="exp"):
        _client(idp).verify_id_token(token, nonce=nonce, now=int(time.time()) + 7200)


def test_forged_id_tokens_are_refused(site: Site, idp: OidcProvider) -> None:
    """Token confusion: HS256 under the client secret (which the client holds), alg none, and a
    token signed by a key of the attacker's under the provider's kid."""
    _, claims = _real_id_token(site)
    nonce = str(claims["nonce"])
    kid = json.loads(httpx.get(f"{idp.issuer}/jwks").text)["keys"][0]["kid"]
    hs = jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(idp.client_secret.encode()))
    with pytest.raises(SignInRefused):
        _client(idp).verify_id_token(hs, nonce=nonce)
    head = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(SignInRefused):
        _client(idp).verify_id_token(f"{head}.{body}.", nonce=nonce)
    mine = RSAKey.generate_key(2048, parameters={"kid": kid})
    forged = jwt.encode({"alg": "RS256", "kid": kid}, claims, mine)
    with pytest.raises(SignInRefused):
        _client(idp).verify_id_token(forged, nonce=nonce)


def test_provider_naming_another_issuer_is_not_used(idp: OidcProvider) -> None:
    with pytest.raises(IdentityProviderError, match="nennt sich"):
        _client(idp, issuer=idp.issuer + "/").begin()


def test_settings_refuse_an_incomplete_or_plain_http_provider() -> None:
    with pytest.raises(ValidationError, match="oidc_client_id"):
        Settings(oidc_issuer="https://login.example.de")
    with pytest.raises(ValidationError, match="https"):
        Settings(oidc_issuer="http://login.example.de", oidc_client_id="govchain")
    with pytest.raises(ValidationError, match="https"):
        Settings(oidc_issuer="http://localhost.evil.example", oidc_client_id="govchain")


# -- claims → account (services.people.staff_from_claims) ---------------------------------------

def test_claims_map_to_exactly_one_admitted_account(site: Site) -> None:
    groups = StaffClaims(role="groups", roles={"gc-sachbearbeitung": "clerk",
                                               "gc-registratur": "registrar"})
    meier = {"preferred_username": "Meier", "groups": ["intranet", "gc-sachbearbeitung"],
             "govchain_ags": AACHEN}
    with site.uow() as uow:
        assert staff_from_claims(uow, meier, groups).username == "meier"
        with pytest.raises(PermissionDeniedError, match="mehrere Rollen"):
            staff_from_claims(uow, {**meier, "groups": ["gc-sachbearbeitung", "gc-registratur"]},
                              groups)
        with pytest.raises(PermissionDeniedError, match="Rolle registrar"):
            staff_from_claims(uow, {**meier, "groups": ["gc-registratur"]}, groups)
        with pytest.raises(PermissionDeniedError, match="andere Kommune"):
            staff_from_claims(uow, {k: v for k, v in meier.items() if k != "govchain_ags"},
                              groups)
        with pytest.raises(PermissionDeniedError, match="keinen Benutzernamen"):
            staff_from_claims(uow, {**meier, "preferred_username": 7}, groups)
        user = uow.users.add(username="gesperrt", role="clerk", password_hash="-",
                             municipality_ags=AACHEN, display_name="gesperrt")
        uow.users.disable(user.id)
        with pytest.raises(PermissionDeniedError, match="nicht freigeschaltet"):
            staff_from_claims(uow, {**meier, "preferred_username": "gesperrt"}, groups)
        landlord = {"preferred_username": "vermieter", "govchain_role": "landlord"}
        with pytest.raises(PermissionDeniedError, match="keine Rolle"):  # staff only by default
            staff_from_claims(uow, landlord, StaffClaims())

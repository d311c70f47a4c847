"""Signing in through the municipality's identity provider (OpenID Connect), beside the password
login (`login`): the request to the provider, its state, nonce and PKCE verifier kept for this
browser in a short HMAC-signed cookie, and the callback that checks the answer
(`adapters.identity.OidcClient`), maps the claims to a govchain account
(`services.people.staff_from_claims`) and opens a session exactly like a password login."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from fastapi import Request

from govchain.adapters.db import UnitOfWork
from govchain.adapters.identity import AuthorizationRequest, OidcClient
from govchain.domain import strictjson
from govchain.domain.jose import b64url_decode, b64url_encode
from govchain.entrypoints.http.login import LoggedIn, open_session
from govchain.errors import InputError
from govchain.services.people import StaffClaims, staff_from_claims
from govchain.settings import Settings

CALLBACK_PATH = "/login/oidc/callback"
PENDING_COOKIE = "gc_oidc"  # the sign-in under way: state, nonce, verifier, where to go after
PENDING_COOKIE_PATH = "/login/oidc"
PENDING_MAX_AGE = 600  # seconds a sign-in at the provider may take
ID_TOKEN_COOKIE = "gc_oidc_id"  # the ID token, for id_token_hint at logout
_PENDING_INFO = b"govchain/login/oidc/v1"


@dataclass(frozen=True)
class ProviderSignIn:
    logged_in: LoggedIn
    id_token: str


def oidc_client_for(settings: Settings) -> OidcClient | None:
    """The provider client of these settings; None when sign-in with OIDC is not configured."""
    if settings.oidc_issuer is None or settings.oidc_client_id is None:
        return None
    secret = settings.oidc_client_secret
    return OidcClient(issuer=settings.oidc_issuer, client_id=settings.oidc_client_id,
                      client_secret=secret.get_secret_value() if secret else None,
                      redirect_uri=settings.base_url + CALLBACK_PATH, scope=settings.oidc_scope)


def oidc_client_of(request: Request) -> OidcClient | None:
    client: OidcClient | None = getattr(request.app.state, "oidc_client", None)
    return client


def staff_claims_of(settings: Settings) -> StaffClaims:
    return StaffClaims(username=settings.oidc_username_claim, role=settings.oidc_role_claim,
                       roles=dict(settings.oidc_roles), ags=settings.oidc_ags_claim)


def _mac(key: bytes, payload: str) -> str:
    pending_key = hmac.new(key, _PENDING_INFO, hashlib.sha256).digest()
    return b64url_encode(hmac.new(pending_key, payload.encode("ascii"), hashlib.sha256).digest())


def seal_pending(key: bytes, started: AuthorizationRequest, after: str | None,
                 at: float | None = None) -> str:
    """The pending cookie's value: what the callback is checked against, signed, with expiry."""
    body = {"state": started.state, "nonce": started.nonce, "verifier": started.verifier,
            "next": after, "exp": int((at or time.time()) + PENDING_MAX_AGE)}
    payload = b64url_encode(json.dumps(body, separators=(",", ":")).encode())
    return f"{payload}.{_mac(key, payload)}"


def open_pending(key: bytes, cookie: str | None, at: float | None = None
                 ) -> tuple[AuthorizationRequest, str | None] | None:
    """The request and the page to go to after it, from an untampered, unexpired cookie."""
    if not cookie or cookie.count(".") != 1:
        return None
    payload, mac = cookie.split(".")
    try:
        if not hmac.compare_digest(_mac(key, payload).encode(), mac.encode()):
            return None
        body = strictjson.loads(b64url_decode(payload, "Anmeldecookie"))
        if int(body["exp"]) <= (at or time.time()):
            return None
        after = body.get("next")
        return (AuthorizationRequest("", str(body["state"]), str(body["nonce"]),
                                     str(body["verifier"])),
                after if isinstance(after, str) else None)
    except (UnicodeEncodeError, ValueError, KeyError, TypeError, InputError):
        return None


def finish_sign_in(request: Request, uow: UnitOfWork, settings: Settings, key: bytes,
                   client: OidcClient) -> tuple[ProviderSignIn, str | None]:
    """Checks the provider's callback against this browser's pending cookie, maps the claims to
    the govchain account and opens its session; (the sign-in, the page to go to). Raises
    SignInRefused / PermissionDeniedError (403) or IdentityProviderError."""
    query = request.query_params
    pending = open_pending(key, request.cookies.get(PENDING_COOKIE))
    signed_in = client.finish(expected=pending[0] if pending else None, state=query.get("state"),
                              code=query.get("code"), iss=query.get("iss"))
    user = staff_from_claims(uow, signed_in.claims, staff_claims_of(settings))
    done = open_session(request, uow, settings, key, user)
    return ProviderSignIn(done, signed_in.id_token), pending[1] if pending else None

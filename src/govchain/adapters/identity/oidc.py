"""An OpenID Connect relying party for staff sign-in (authorization code flow with PKCE), on httpx
and joserfc: the provider's discovery document, the authorization request, the code exchange and
the check of the ID token (signature with a key of the provider's JWKS and an asymmetric
algorithm, iss, aud, azp, exp, iat, nonce). What the claims mean for govchain is the service
layer's business (`services.people.staff_from_claims`)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from govchain.domain.jose import b64url_encode
from govchain.errors import GovchainError, PermissionDeniedError

# Asymmetric only: an HS256 token would be checked with the client secret, which the client
# itself holds (token confusion); "none" is no signature at all.
ID_TOKEN_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
                       "ES512", "EdDSA")
LEEWAY_SECONDS = 60
METADATA_TTL_SECONDS = 3600
JWKS_MIN_REFRESH_SECONDS = 30  # a token with an unknown kid refetches the keys at most this often


class IdentityProviderError(GovchainError):
    """The identity provider cannot be reached or answers something unusable."""


class SignInRefused(PermissionDeniedError):
    """The provider's answer does not sign anyone in: state, code, ID token or issuer wrong."""


@dataclass(frozen=True)
class ProviderMetadata:
    """What govchain uses of the provider's discovery document."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None
    iss_parameter: bool  # RFC 9207: the callback names the issuer (against mix-up)


@dataclass(frozen=True)
class AuthorizationRequest:
    """Where to send the browser, and what the callback is checked against (kept by the caller
    for this browser only)."""

    url: str
    state: str
    nonce: str
    verifier: str  # PKCE code_verifier; the request carries its S256 challenge


@dataclass(frozen=True)
class SignedIn:
    claims: dict[str, Any]
    id_token: str  # kept for RP-initiated logout (id_token_hint)


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return b64url_encode(digest)


class OidcClient:
    """One provider and one client registration; the discovery document and the JWKS are
    fetched on first use and kept (so govchain starts while the provider is away)."""

    def __init__(self, *, issuer: str, client_id: str, client_secret: str | None,
                 redirect_uri: str, scope: str, http: httpx.Client | None = None) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self._client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.scope = scope
        self._http = http or httpx.Client(timeout=10.0, follow_redirects=False)
        self._lock = threading.Lock()
        self._metadata: ProviderMetadata | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None
        self._keys_at = 0.0

    # -- the provider's documents --------------------------------------------------------------

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = self._http.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as err:
            raise IdentityProviderError(
                f"Der Anmeldedienst antwortet nicht wie erwartet ({url}): {err}") from err
        if not isinstance(data, dict):
            raise IdentityProviderError(f"Der Anmeldedienst antwortet kein JSON-Objekt ({url})")
        return data

    def metadata(self) -> ProviderMetadata:
        with self._lock:
            if self._metadata and time.monotonic() - self._metadata_at < METADATA_TTL_SECONDS:
                return self._metadata
        data = self._get_json(self.issuer.rstrip("/") + "/.well-known/openid-configuration")
        if data.get("issuer") != self.issuer:  # OpenID Connect Discovery 1.0, section 4.3
            raise IdentityProviderError(
                f"Der Anmeldedienst nennt sich {data.get('issuer')!r}, eingestellt ist "
                f"{self.issuer!r}")
        try:
            metadata = ProviderMetadata(
                issuer=self.issuer,
                authorization_endpoint=str(data["authorization_endpoint"]),
                token_endpoint=str(data["token_endpoint"]),
                jwks_uri=str(data["jwks_uri"]),
                end_session_endpoint=(str(data["end_session_endpoint"])
                                      if data.get("end_session_endpoint") else None),
                iss_parameter=data.get("authorization_response_iss_parameter_supported") is True)
        except KeyError as err:
            raise IdentityProviderError(
                f"Dem Anmeldedienst fehlt {err.args[0]} in seiner Beschreibung") from err
        with self._lock:
            self._metadata, self._metadata_at = metadata, time.monotonic()
        return metadata

    def _key_set(self, *, refresh: bool) -> KeySet:
        with self._lock:
            fresh = time.monotonic() - self._keys_at < JWKS_MIN_REFRESH_SECONDS
            if self._keys is not None and (not refresh or fresh):
                return self._keys
        data = self._get_json(self.metadata().jwks_uri)
        try:
            keys = KeySet.import_key_set(data)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as err:
            raise IdentityProviderError(f"Die Schlüssel des Anmeldedienstes sind unlesbar: "
                                        f"{err}") from err
        with self._lock:
            self._keys, self._keys_at = keys, time.monotonic()
        return keys

    # -- the flow ------------------------------------------------------------------------------

    def begin(self) -> AuthorizationRequest:
        """A new authorization request: fresh state, nonce and PKCE verifier."""
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(48)  # 64 characters, within RFC 7636's 43–128
        query = urlencode({"response_type": "code", "client_id": self.client_id,
                           "redirect_uri": self.redirect_uri, "scope": self.scope,
                           "state": state, "nonce": nonce, "code_challenge": _challenge(verifier),
                           "code_challenge_method": "S256"})
        endpoint = self.metadata().authorization_endpoint
        separator = "&" if "?" in endpoint else "?"
        return AuthorizationRequest(f"{endpoint}{separator}{query}", state, nonce, verifier)

    def finish(self, *, expected: AuthorizationRequest | None, state: str | None,
               code: str | None, iss: str | None) -> SignedIn:
        """Checks the callback against the request this browser started (`expected`, None when
        it has none), exchanges the code (with the PKCE verifier) and checks the ID token."""
        if expected is None or not state or not secrets.compare_digest(
                state.encode(), expected.state.encode()):
            raise SignInRefused("Die Anmeldung passt nicht zu dieser Sitzung (state). Bitte "
                                "beginnen Sie die Anmeldung noch einmal.")
        metadata = self.metadata()
        if (iss is not None or metadata.iss_parameter) and iss != self.issuer:
            raise SignInRefused("Die Antwort stammt nicht vom eingestellten Anmeldedienst (iss).")
        if not code:
            raise SignInRefused("Der Anmeldedienst hat keinen Code geschickt.")
        id_token = self._exchange(metadata, code, expected.verifier)
        return SignedIn(self.verify_id_token(id_token, nonce=expected.nonce), id_token)

    def _exchange(self, metadata: ProviderMetadata, code: str, verifier: str) -> str:
        form = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": self.redirect_uri, "code_verifier": verifier}
        headers = {"Accept": "application/json"}
        if self._client_secret is None:
            form["client_id"] = self.client_id
        else:  # client_secret_basic: each part form-encoded first (RFC 6749, section 2.3.1)
            pair = f"{quote(self.client_id, safe='')}:{quote(self._client_secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        try:
            response = self._http.post(metadata.token_endpoint, data=form, headers=headers)
        except httpx.HTTPError as err:
            raise IdentityProviderError(f"Der Anmeldedienst ist nicht erreichbar: {err}") from err
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if response.status_code in (400, 401):
            error = answer.get("error") if isinstance(answer, dict) else None
            raise SignInRefused(f"Der Anmeldedienst hat den Code nicht eingelöst ({error}); er "
                                "gilt nur einmal und nur kurz.")
        token = answer.get("id_token") if isinstance(answer, dict) else None
        if response.status_code != 200 or not isinstance(token, str):
            raise IdentityProviderError(
                f"Der Anmeldedienst hat kein ID-Token ausgegeben (HTTP {response.status_code})")
        return token

    def verify_id_token(self, id_token: str, *, nonce: str, now: int | None = None
                        ) -> dict[str, Any]:
        """The claims of an ID token this provider signed for this client and this sign-in."""
        try:
            keys = self._key_set(refresh=False)
            try:
                token = jwt.decode(id_token, keys, algorithms=ID_TOKEN_ALGORITHMS)
            except (JoseError, ValueError):
                # The provider may have rolled its keys since they were fetched.
                fresh = self._key_set(refresh=True)
                if fresh is keys:
                    raise
                token = jwt.decode(id_token, fresh, algorithms=ID_TOKEN_ALGORITHMS)
            jwt.JWTClaimsRegistry(
                now=now, leeway=LEEWAY_SECONDS,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.client_id},
                sub={"essential": True}, exp={"essential": True}, iat={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(token.claims)
        except (JoseError, ValueError) as err:
            raise SignInRefused(f"Das ID-Token des Anmeldedienstes ist ungültig: {err}") from err
        claims = dict(token.claims)
        audience = claims["aud"]
        # OpenID Connect Core 3.1.3.7: another audience beside ours needs azp naming us.
        if ((isinstance(audience, list) and len(audience) > 1) or "azp" in claims) \
                and claims.get("azp") != self.client_id:
            raise SignInRefused("Das ID-Token ist für einen anderen Client ausgestellt (azp).")
        return claims

    def logout_url(self, id_token: str, post_logout_redirect_uri: str) -> str | None:
        """Where to end the sign-in at the provider too (RP-initiated logout), if it offers it."""
        try:
            endpoint = self.metadata().end_session_endpoint
        except IdentityProviderError:
            return None  # govchain's own session is ended anyway
        if endpoint is None:
            return None
        query = urlencode({"id_token_hint": id_token, "client_id": self.client_id,
                           "post_logout_redirect_uri": post_logout_redirect_uri})
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

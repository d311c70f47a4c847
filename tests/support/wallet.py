"""A test wallet for govchain's SD-JWT VCs (OpenID4VCI 1.0 pre-authorized code flow, OpenID4VP 1.0
with DCQL and direct_post), built from the libraries real wallets use: @openid4vc/openid4vci,
@openid4vc/openid4vp, @openid4vc/oauth2 0.4.6 and @sd-jwt/sd-jwt-vc, @sd-jwt/jwt-status-list,
@sd-jwt/crypto-nodejs 0.19.0 (pinned in package.json), run through
`tests/support/node/wallet.mjs`, so issuance and presentation are checked against an independent
implementation.

    got = receive(offer_uri, "123456")             # offer URI as shown to the citizen, and the PIN
    assert "error" not in got, got["error"]
    checked = verify(got["credential"], base_url)  # issuer key, signature, status, type metadata
    assert checked["verified"], checked["errors"]
    sent = present(request_uri, got["credential"], got["holderPrivateJwk"])
    assert sent["ok"], sent["response"]
    status(got["credential"], base_url)["status"]  # 0 valid, 1 revoked, 2 suspended

receive() returns {"credential", "credentialConfigurationId", "holderPrivateJwk",
"holderPublicJwk", "issuerMetadata", "accessTokenResponse", "nonce", "proofJwt",
"credentialResponse", "log"}, or {"error": {"stage", "status", "body", "message"}, "log"} when the
server answered an HTTP error (a wrong PIN gives stage "token", status 400, body
{"error": "invalid_grant", ...}). verify() returns {"verified", "claims" (all disclosed claims),
"header", "status", "statusList", "vctMetadata", "kb", "keysUsed", "errors", "log"}; `verified` is
false too when the status is not 0. present() returns {"submitted", "status", "ok", "response" (the
verifier's JSON), "presentation", "vpToken", "disclosedPaths", "disclosedKeys", "clientId",
"responseUri", "queryId", "version", "log"}; with send=False nothing is posted and the result has
"body" (the form-encoded POST body) and "fields" ({"vp_token", "state"}) instead of the answer, to
post or replay it from the test. `claims` overrides the DCQL claims to disclose (paths, e.g.
[["halter", "name"]]).

Only https:// URLs or http:// on loopback addresses are fetched; issuer keys come from
<base>/.well-known/jwt-vc-issuer/<path of iss> for issuers under `base_url` only. A library's
rejection of what the server sent (malformed metadata, a response it cannot parse) raises
RuntimeError with the script's message. Needs node and the node_modules of
`scripts/bootstrap --dev`.
"""

from __future__ import annotations

import json
from typing import Any

from support.vcjs import NODE_DIR, REPO_ROOT, run_node

WALLET_SCRIPT = NODE_DIR / "wallet.mjs"


def _run(command: str, request: dict[str, Any], timeout: float) -> dict[str, Any]:
    if not (REPO_ROOT / "node_modules" / "@openid4vc" / "openid4vci").is_dir():
        raise RuntimeError("@openid4vc/openid4vci fehlt: 'scripts/bootstrap --dev' ausführen")
    out = run_node(WALLET_SCRIPT, command, stdin=json.dumps(request), timeout=timeout)
    try:
        result: dict[str, Any] = json.loads(out)
    except ValueError as exc:
        raise RuntimeError(f"{WALLET_SCRIPT.name} {command} printed no JSON result: "
                           f"{out[-2000:]!r}") from exc
    return result


def receive(offer: str, tx_code: str | None, *, credential_configuration_id: str | None = None,
            holder_private_jwk: dict[str, Any] | None = None,
            timeout: float = 60) -> dict[str, Any]:
    """Redeems the credential offer URI `offer` (openid-credential-offer://?credential_offer=...)
    with the PIN `tx_code`: issuer and authorization server metadata, token, nonce, key proof with
    a fresh P-256 holder key (or `holder_private_jwk`), credential request."""
    request: dict[str, Any] = {"offer": offer, "txCode": tx_code}
    if credential_configuration_id is not None:
        request["credentialConfigurationId"] = credential_configuration_id
    if holder_private_jwk is not None:
        request["holderPrivateJwk"] = holder_private_jwk
    return _run("receive", request, timeout)


def verify(credential: str, base_url: str, *, check_status: bool = True,
           type_metadata: bool = True, key_binding: dict[str, str] | None = None,
           skew_seconds: int = 0, timeout: float = 60) -> dict[str, Any]:
    """Verifies the SD-JWT VC (or presentation) `credential` issued under `base_url`: typ
    dc+sd-jwt, ES256 signature with the issuer's key by kid, iat/nbf/exp, disclosures; with
    `check_status` its token status list entry, with `type_metadata` the type metadata at its vct;
    with `key_binding` ({"nonce", "aud"}) the KB-JWT of a presentation."""
    request: dict[str, Any] = {"credential": credential, "baseUrl": base_url,
                               "checkStatus": check_status, "typeMetadata": type_metadata,
                               "skewSeconds": skew_seconds}
    if key_binding is not None:
        request["keyBinding"] = key_binding
    return _run("verify", request, timeout)


def present(request_uri: str, credential: str, holder_private_jwk: dict[str, Any], *,
            send: bool = True, claims: list[list[str | int | None]] | None = None,
            timeout: float = 60) -> dict[str, Any]:
    """Answers the OpenID4VP request URI `request_uri` (openid4vp://?client_id=redirect_uri:...
    with a DCQL query) with `credential`: discloses the requested claims (or `claims`), adds a
    KB-JWT (aud = client_id, nonce) signed with `holder_private_jwk` and, with `send`, posts
    vp_token and state to the response_uri (direct_post)."""
    request: dict[str, Any] = {"request": request_uri, "credential": credential,
                               "holderPrivateJwk": holder_private_jwk, "send": send}
    if claims is not None:
        request["claims"] = claims
    return _run("present", request, timeout)


def status(credential: str, base_url: str, *, timeout: float = 60) -> dict[str, Any]:
    """Reads the token status list entry of `credential` (list token verified with its issuer's
    key): {"status", "idx", "uri", "statusList", "errors", "log"}."""
    return _run("status", {"credential": credential, "baseUrl": base_url}, timeout)

"""The citizen's wallet over HTTP: OpenID4VCI (offer, PIN, token, nonce, key proof, SD-JWT VC),
the Token Status List, and OpenID4VP (request, direct_post, the checker's answer), on a real
chain and database, with a wallet made of govchain's own SD-JWT code (the reference libraries
drive the same endpoints in tests/interop/test_wallet_interop.py). Bad input is refused with an
OAuth error, never a 500, and nothing is issued twice."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from api.test_documents_api import (
    AACHEN,
    BASE_URL,
    DOG,
    Users,
    audit_actions,
    client,
    context_of,
    engine_of,
    example,
    issued_id,
    users,
)
from govchain.adapters.db import UnitOfWork
from govchain.domain import jose, sd_jwt, token_status_list
from govchain.domain.timefmt import now
from govchain.errors import OAuthError
from govchain.services import oid4vc
from support.anvil import AnvilNode, start_anvil

# the service on the embedded chain with SQLite and on anvil with PostgreSQL, and its users
client, users = client, users  # module fixtures of test_documents_api, shared


@pytest.fixture(scope="module")
def anvil() -> Iterator[AnvilNode]:
    """A node of this module's own: the session's node may have been moved into the future by
    other test files (chain adapter tests set block times), and wallets, like this one, allow
    no iat ahead of their clock."""
    with start_anvil() as node:
        yield node

MUSIC = "strassenmusik"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass
class Offer:
    uri: str
    pin: str
    code: str
    body: dict[str, Any]


def make_offer(client: TestClient, headers: dict[str, str], doc_id: str) -> Offer:
    response = client.post(f"/api/v1/documents/{doc_id}/wallet-offers", headers=headers)
    assert response.status_code == 201, response.text
    made = response.json()
    assert made["offer"].startswith("openid-credential-offer://?credential_offer=")
    body = json.loads(dict(parse_qsl(urlsplit(made["offer"]).query))["credential_offer"])
    grant = body["grants"][oid4vc.PRE_AUTHORIZED_GRANT]
    assert grant["tx_code"] == {"input_mode": "numeric", "length": 6,
                                "description": grant["tx_code"]["description"]}
    assert len(made["pin"]) == 6 and made["pin"].isdigit() and made["pin"] not in made["offer"]
    return Offer(made["offer"], made["pin"], grant["pre-authorized_code"], body)


def redeem(client: TestClient, offer: Offer, pin: str | None = None) -> Any:
    return client.post("/oid4vci/token", headers=FORM, data={
        "grant_type": oid4vc.PRE_AUTHORIZED_GRANT, "pre-authorized_code": offer.code,
        "tx_code": offer.pin if pin is None else pin})


def proof_jwt(holder: ec.EllipticCurvePrivateKey, nonce: str, *, aud: str = BASE_URL,
              typ: str = "openid4vci-proof+jwt", signer: ec.EllipticCurvePrivateKey | None = None,
              iat: int | None = None) -> str:
    header = {"typ": typ, "jwk": jose.public_jwk(holder.public_key())}
    payload = {"aud": aud, "iat": int(time.time()) if iat is None else iat, "nonce": nonce}
    return jose.sign_jwt(header, payload, signer or holder)


def fresh_nonce(client: TestClient) -> str:
    response = client.post("/oid4vci/nonce")
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    nonce: str = response.json()["c_nonce"]
    return nonce


def ask_credential(client: TestClient, token: str, body: dict[str, Any]) -> Any:
    return client.post("/oid4vci/credential", json=body,
                       headers={"Authorization": f"Bearer {token}"})


def receive(client: TestClient, offer: Offer, holder: ec.EllipticCurvePrivateKey) -> str:
    """The whole pre-authorized flow, as a wallet runs it; the SD-JWT VC."""
    token = redeem(client, offer)
    assert token.status_code == 200, token.text
    assert token.json()["token_type"] == "Bearer"
    config = offer.body["credential_configuration_ids"][0]
    answer = ask_credential(client, token.json()["access_token"], {
        "credential_configuration_id": config,
        "proofs": {"jwt": [proof_jwt(holder, fresh_nonce(client))]}})
    assert answer.status_code == 200, answer.text
    credential: str = answer.json()["credentials"][0]["credential"]
    return credential


def issuer_key(client: TestClient) -> Any:
    def resolve(header: dict[str, Any], payload: dict[str, Any]) -> ec.EllipticCurvePublicKey:
        ags = payload["iss"].rsplit("/", 1)[1]
        keys = client.get(f"/.well-known/jwt-vc-issuer/municipalities/{ags}").json()
        jwk = next(k for k in keys["jwks"]["keys"] if k["kid"] == header["kid"])
        return jose.public_key_from_jwk({k: jwk[k] for k in ("kty", "crv", "x", "y")})
    return resolve


def status_of(client: TestClient, credential: str) -> int:
    """The credential's status in its Token Status List, the token's signature checked."""
    payload = jose.decode_jwt(credential.split("~")[0]).payload
    ref = payload["status"]["status_list"]
    path = urlsplit(ref["uri"]).path
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/statuslist+jwt"
    jws = jose.decode_jwt(response.text)
    assert jws.header["typ"] == "statuslist+jwt" and jws.payload["sub"] == ref["uri"]
    jose.verify_jws(jws, issuer_key(client)(jws.header, {"iss": payload["iss"]}))
    bits, packed = token_status_list.read_status_list_claim(jws.payload["status_list"])
    assert bits == 2 and jws.payload["ttl"] > 0 and jws.payload["exp"] > jws.payload["iat"]
    return token_status_list.get_status(packed, ref["idx"], bits)


def ask(client: TestClient, usecase: str = DOG) -> dict[str, str]:
    made = client.post("/api/v1/presentations", json={"usecase": usecase})
    assert made.status_code == 201, made.text
    uri = made.json()["request"]
    assert uri.startswith("openid4vp://?")
    params = dict(parse_qsl(urlsplit(uri).query))
    params["id"] = made.json()["id"]
    return params


def requested_paths(params: dict[str, str]) -> list[list[str]]:
    query = json.loads(params["dcql_query"])
    (wanted,) = query["credentials"]
    return [c["path"] for c in wanted["claims"]]


def presentation(credential: str, params: dict[str, str], holder: ec.EllipticCurvePrivateKey,
                 *, nonce: str | None = None, aud: str | None = None) -> str:
    wanted = [tuple(p) for p in requested_paths(params)]

    def keep(path: tuple[str | int, ...]) -> bool:
        return any(path[:len(w)] == w for w in wanted)
    return sd_jwt.present(credential, keep, holder_key=holder, aud=aud or params["client_id"],
                          nonce=nonce or params["nonce"], iat=int(time.time()))


def answer(client: TestClient, params: dict[str, str], shown: str, **extra: str) -> Any:
    return client.post(urlsplit(params["response_uri"]).path, headers=FORM, data={
        "vp_token": json.dumps({"govchain": [shown]}), "state": params["state"], **extra})


def result(client: TestClient, params: dict[str, str]) -> dict[str, Any]:
    response = client.get(f"/api/v1/presentations/{params['id']}")
    assert response.status_code == 200
    found: dict[str, Any] = response.json()
    return found


def holder_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


# -- the flow -----------------------------------------------------------------------------------

def test_metadata_lists_every_use_case_and_the_ledger_keys(client: TestClient) -> None:
    meta = client.get("/.well-known/openid-credential-issuer").json()
    assert meta["credential_issuer"] == BASE_URL
    assert meta["nonce_endpoint"] == f"{BASE_URL}/oid4vci/nonce"
    configs = meta["credential_configurations_supported"]
    assert set(configs) == {uc.id for uc in context_of(client).usecases}
    assert configs[DOG]["format"] == "dc+sd-jwt" and configs[DOG]["vct"] == f"{BASE_URL}/vct/{DOG}"
    server = client.get("/.well-known/oauth-authorization-server").json()
    assert server["token_endpoint"] == f"{BASE_URL}/oid4vci/token"
    vct = client.get(f"/vct/{DOG}").json()
    assert vct["vct"] == f"{BASE_URL}/vct/{DOG}"
    assert {d["locale"] for d in vct["display"]} == {"de-DE", "en-US"}
    chip = next(c for c in vct["claims"] if c["path"] == ["hund", "chipnummer"])
    assert {d["label"] for d in chip["display"]} == {"Chipnummer", "Microchip number"}
    keys = client.get(f"/.well-known/jwt-vc-issuer/municipalities/{AACHEN}").json()
    ledger_keys = context_of(client).ledger.signing_keys_of(AACHEN)
    assert keys["issuer"] == f"{BASE_URL}/municipalities/{AACHEN}"
    assert [k["kid"] for k in keys["jwks"]["keys"]] == [k.key_id.hex() for k in ledger_keys]
    assert client.get("/.well-known/jwt-vc-issuer/municipalities/09999999").status_code == 404
    assert client.get("/vct/unbekannt").status_code == 404


def test_offer_to_wallet_to_checker_valid_then_revoked(client: TestClient, users: Users) -> None:
    doc_id = issued_id(client, users.clerk)
    offer = make_offer(client, users.clerk, doc_id)
    holder = holder_key()
    credential = receive(client, offer, holder)

    verified = sd_jwt.verify(credential, issuer_key=issuer_key(client),
                             require_key_binding=False, now=int(time.time()))
    subject = example(client, DOG)
    assert {k: verified.claims[k] for k in subject} == subject
    assert verified.payload["cnf"]["jwk"] == jose.public_jwk(holder.public_key())
    assert verified.payload["vct"] == f"{BASE_URL}/vct/{DOG}"
    with UnitOfWork(engine_of(client)) as uow:
        record = uow.documents.get(doc_id)
    assert record is not None and record.document is not None
    assert verified.payload["govchain"]["targetHash"] == record.document["proof"]["targetHash"]
    assert verified.payload["govchain"]["merkleRoot"] == record.document["proof"]["merkleRoot"]
    assert status_of(client, credential) == token_status_list.VALID
    # the chip number, the conditions … are one disclosure each (never shown in part)
    assert not any(p[:1] == ("auflagen",) and len(p) > 1 for p in verified.disclosed)

    params = ask(client)
    assert ["hund", "chipnummer"] in requested_paths(params)
    assert ["halter", "anschrift"] not in requested_paths(params)
    shown = presentation(credential, params, holder)
    posted = answer(client, params, shown)
    assert posted.status_code == 200, posted.text
    assert posted.json()["redirect_uri"] == f"{BASE_URL}/verify/wallet/{params['id']}"
    found = result(client, params)
    assert found["answered"] and found["result"]["status"] == "VALID", found
    claims = found["result"]["claims"]
    assert claims["hund"]["chipnummer"] == subject["hund"]["chipnummer"]
    assert claims["halter"] == {"name": subject["halter"]["name"],
                                "vorname": subject["halter"]["vorname"]}
    assert "anschrift" not in json.dumps(claims) and subject["hund"]["name"] not in json.dumps(claims)
    # the response is taken once: a replay is refused and changes nothing
    again = answer(client, params, shown)
    assert again.status_code == 400 and again.json()["error"] == "invalid_request"
    assert result(client, params)["result"]["status"] == "VALID"

    revoked = client.post(f"/api/v1/documents/{doc_id}/revoke", json={"reason": 4},
                          headers=users.clerk)
    assert revoked.status_code == 200, revoked.text
    assert status_of(client, credential) == token_status_list.INVALID
    params = ask(client)
    assert answer(client, params, presentation(credential, params, holder)).status_code == 200
    assert result(client, params)["result"]["status"] == "REVOKED"
    assert audit_actions(client, doc_id)[:3] == ["document.revoke", "wallet.issue",
                                                 "wallet.offer"]


def test_suspension_shows_in_the_status_list_and_the_answer(client: TestClient,
                                                            users: Users) -> None:
    doc_id = issued_id(client, users.clerk, usecase=MUSIC)
    holder = holder_key()
    credential = receive(client, make_offer(client, users.clerk, doc_id), holder)
    assert client.post(f"/api/v1/documents/{doc_id}/suspend", json={"reason": 6},
                       headers=users.clerk).status_code == 200
    assert status_of(client, credential) == token_status_list.SUSPENDED
    params = ask(client, MUSIC)
    assert ["zeitfenster"] in requested_paths(params)
    assert answer(client, params, presentation(credential, params, holder)).status_code == 200
    assert result(client, params)["result"]["status"] == "SUSPENDED"
    assert client.post(f"/api/v1/documents/{doc_id}/reinstate",
                       headers=users.clerk).status_code == 200
    assert status_of(client, credential) == token_status_list.VALID


# -- refusals: issuance ------------------------------------------------------------------------

def test_offers_only_for_the_documents_one_may_see(client: TestClient, users: Users) -> None:
    doc_id = issued_id(client, users.clerk)
    assert client.post(f"/api/v1/documents/{doc_id}/wallet-offers",
                       headers=users.other_clerk).status_code == 404
    assert client.post(f"/api/v1/documents/{doc_id}/wallet-offers").status_code == 401


def test_a_wrong_pin_is_counted_and_locks_the_offer(client: TestClient, users: Users) -> None:
    offer = make_offer(client, users.clerk, issued_id(client, users.clerk))
    wrong = "000000" if offer.pin != "000000" else "111111"
    for left in range(oid4vc.MAX_PIN_ATTEMPTS - 1, -1, -1):
        refused = redeem(client, offer, wrong)
        assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
        assert (f"noch {left}" if left else "gesperrt") in refused.json()["error_description"]
    locked = redeem(client, offer)  # the right PIN no longer helps
    assert locked.status_code == 400 and "gesperrt" in locked.json()["error_description"]


def test_a_code_works_once_and_a_token_buys_one_credential(client: TestClient,
                                                           users: Users) -> None:
    offer = make_offer(client, users.clerk, issued_id(client, users.clerk))
    token = redeem(client, offer).json()["access_token"]
    second = redeem(client, offer)
    assert second.status_code == 400 and second.json()["error"] == "invalid_grant"
    holder = holder_key()
    body = {"credential_configuration_id": DOG,
            "proofs": {"jwt": [proof_jwt(holder, fresh_nonce(client))]}}
    assert ask_credential(client, token, body).status_code == 200
    again = ask_credential(client, token, {**body, "proofs": {
        "jwt": [proof_jwt(holder, fresh_nonce(client))]}})
    assert again.status_code == 401 and again.json()["error"] == "invalid_token"
    assert again.headers["www-authenticate"] == 'Bearer error="invalid_token"'


def test_bad_token_requests_are_oauth_errors(client: TestClient, users: Users) -> None:
    offer = make_offer(client, users.clerk, issued_id(client, users.clerk))
    cases = [
        ({"grant_type": "authorization_code", "code": "x"}, "unsupported_grant_type"),
        ({"grant_type": oid4vc.PRE_AUTHORIZED_GRANT}, "invalid_request"),
        ({"grant_type": oid4vc.PRE_AUTHORIZED_GRANT, "pre-authorized_code": "erfunden",
          "tx_code": "123456"}, "invalid_grant"),
        ({"grant_type": oid4vc.PRE_AUTHORIZED_GRANT, "pre-authorized_code": offer.code},
         "invalid_request"),
    ]
    for form, error in cases:
        response = client.post("/oid4vci/token", headers=FORM, data=form)
        assert response.status_code == 400 and response.json()["error"] == error, form
        assert response.headers["cache-control"] == "no-store"
    as_json = client.post("/oid4vci/token", json={"grant_type": oid4vc.PRE_AUTHORIZED_GRANT})
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"
    assert redeem(client, offer).status_code == 200  # none of that used the offer up


def test_an_expired_offer_is_refused(client: TestClient, users: Users) -> None:
    offer = make_offer(client, users.clerk, issued_id(client, users.clerk))
    with UnitOfWork(engine_of(client)) as uow:
        form = {"grant_type": oid4vc.PRE_AUTHORIZED_GRANT, "pre-authorized_code": offer.code,
                "tx_code": offer.pin}
        with pytest.raises(OAuthError, match="abgelaufen") as refused:
            oid4vc.redeem_code(uow, form, at=now() + oid4vc.OFFER_LIFETIME + timedelta(seconds=1))
    assert refused.value.code == "invalid_grant"


def test_bad_key_proofs_are_refused_and_issue_nothing(client: TestClient, users: Users) -> None:
    doc_id = issued_id(client, users.clerk)
    offer = make_offer(client, users.clerk, doc_id)
    token = redeem(client, offer).json()["access_token"]
    holder, other = holder_key(), holder_key()
    header = jose.b64url_encode(b'{"alg":"none","typ":"openid4vci-proof+jwt"}')
    payload = jose.b64url_encode(json.dumps({"aud": BASE_URL, "nonce": fresh_nonce(client),
                                             "iat": int(time.time())}).encode())
    bad_proofs = {
        "alg none": f"{header}.{payload}.",
        "signed by another key": proof_jwt(holder, fresh_nonce(client), signer=other),
        "wrong audience": proof_jwt(holder, fresh_nonce(client), aud="https://andere.example"),
        "wrong typ": proof_jwt(holder, fresh_nonce(client), typ="JWT"),
        "made-up nonce": proof_jwt(holder, jose.b64url_encode(bytes(40))),
        "old": proof_jwt(holder, fresh_nonce(client), iat=int(time.time()) - 3600),
        "not a JWT": "kein.jwt",
        "oversized": "a" * 20_000,
    }
    for why, proof in bad_proofs.items():
        response = ask_credential(client, token, {"credential_configuration_id": DOG,
                                                  "proofs": {"jwt": [proof]}})
        assert response.status_code == 400, (why, response.text)
        assert response.json()["error"] in ("invalid_proof", "invalid_nonce"), why
    for body, error in [
        ({"credential_configuration_id": "strassenmusik",
          "proofs": {"jwt": [proof_jwt(holder, fresh_nonce(client))]}},
         "unknown_credential_configuration"),
        ({"credential_configuration_id": DOG, "proofs": {"jwt": []}}, "invalid_proof"),
        ({"credential_configuration_id": DOG}, "invalid_proof"),
        ({}, "invalid_credential_request"),
    ]:
        response = ask_credential(client, token, body)
        assert response.status_code == 400 and response.json()["error"] == error, body
    unreadable = client.post("/oid4vci/credential", content=b'{"a": 1, "a": 2}',
                             headers={"Authorization": f"Bearer {token}",
                                      "Content-Type": "application/json"})
    assert unreadable.status_code == 400
    assert unreadable.json()["error"] == "invalid_credential_request"
    for auth in ({}, {"Authorization": "Bearer erfunden"}, {"Authorization": "Basic eA=="}):
        response = client.post("/oid4vci/credential", json={}, headers=auth)
        assert response.status_code == 401 and response.json()["error"] == "invalid_token"
    assert "wallet.issue" not in audit_actions(client, doc_id)
    # after all that the wallet still gets its one credential
    assert ask_credential(client, token, {"credential_configuration_id": DOG, "proofs": {
        "jwt": [proof_jwt(holder, fresh_nonce(client))]}}).status_code == 200
    assert audit_actions(client, doc_id).count("wallet.issue") == 1


# -- refusals: presentation ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def wallet(client: TestClient, users: Users) -> tuple[str, ec.EllipticCurvePrivateKey]:
    holder = holder_key()
    doc_id = issued_id(client, users.clerk)
    return receive(client, make_offer(client, users.clerk, doc_id), holder), holder


def test_presentations_that_prove_nothing_are_invalid(
        client: TestClient, wallet: tuple[str, ec.EllipticCurvePrivateKey]) -> None:
    credential, holder = wallet
    cases: dict[str, Any] = {
        "wrong nonce": lambda p: presentation(credential, p, holder, nonce="andere"),
        "wrong audience": lambda p: presentation(credential, p, holder,
                                                 aud="redirect_uri:https://andere.example/x"),
        "another wallet's key": lambda p: _with_foreign_key_binding(credential, p),
        "no key binding": lambda p: credential,
        "too little shown": lambda p: sd_jwt.present(
            credential, lambda path: path[:1] == ("kategorie",), holder_key=holder,
            aud=p["client_id"], nonce=p["nonce"], iat=int(time.time())),
        "forged disclosure": lambda p: _forged(presentation(credential, p, holder)),
    }
    for why, make in cases.items():
        params = ask(client)
        response = answer(client, params, make(params))
        assert response.status_code == 200, (why, response.text)
        found = result(client, params)["result"]
        assert found["status"] == "INVALID", (why, found)
        assert found["checks"][0]["status"] == "failed", why


def _with_foreign_key_binding(credential: str, params: dict[str, str]) -> str:
    """The credential presented with a key binding signed by a key it is not bound to."""
    shown = sd_jwt.present(credential, lambda path: True)
    thief = holder_key()
    sd_hash = jose.b64url_encode(hashlib.sha256(shown.encode()).digest())
    kb = jose.sign_jwt({"typ": "kb+jwt"}, {"iat": int(time.time()), "aud": params["client_id"],
                                           "nonce": params["nonce"], "sd_hash": sd_hash}, thief)
    return shown + kb


def _forged(shown: str) -> str:
    """One disclosure replaced by one with another chip number (its digest is not signed)."""
    parts = shown.split("~")
    for i, part in enumerate(parts[1:-1], start=1):
        content = json.loads(jose.b64url_decode(part, "d"))
        if content[1:2] == ["hund"]:
            content[2]["chipnummer"] = "276000000000000"
            parts[i] = jose.b64url_encode(json.dumps(content).encode())
    return "~".join(parts)


def test_bad_responses_are_refused(client: TestClient,
                                   wallet: tuple[str, ec.EllipticCurvePrivateKey]) -> None:
    credential, holder = wallet
    params = ask(client)
    path = urlsplit(params["response_uri"]).path
    shown = presentation(credential, params, holder)
    for form in ({"vp_token": json.dumps({"govchain": [shown]}), "state": "falsch"},
                 {"vp_token": json.dumps({"govchain": [shown]})},
                 {"vp_token": "{kein json", "state": params["state"]},
                 {"vp_token": json.dumps({"andere": [shown]}), "state": params["state"]},
                 {"state": params["state"]}):
        response = client.post(path, headers=FORM, data=form)
        assert response.status_code == 400 and response.json()["error"] == "invalid_request", form
    too_big = client.post(path, headers=FORM, data={"vp_token": "x" * 200_000,
                                                     "state": params["state"]})
    assert too_big.status_code in (400, 413)
    assert client.post("/oid4vp/response/" + "0" * 32, headers=FORM,
                       data={"state": "x"}).status_code == 400
    assert not result(client, params)["answered"]  # none of it counted as the answer
    assert answer(client, params, shown).status_code == 200
    assert result(client, params)["result"]["status"] == "VALID"
    assert client.post("/api/v1/presentations", json={"usecase": "unbekannt"}).status_code == 400
    assert client.get("/api/v1/presentations/" + "0" * 32).status_code == 404


def test_the_status_list_token_is_cacheable(client: TestClient,
                                            wallet: tuple[str, ec.EllipticCurvePrivateKey]) -> None:
    credential, _ = wallet
    uri = jose.decode_jwt(credential.split("~")[0]).payload["status"]["status_list"]["uri"]
    path = urlsplit(uri).path
    first = client.get(path)
    assert first.status_code == 200 and "max-age" in first.headers["cache-control"]
    again = client.get(path, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert client.get(f"/status/{AACHEN}/token/999").status_code == 404


def test_an_offer_made_before_a_revocation_issues_nothing(client: TestClient,
                                                          users: Users) -> None:
    doc_id = issued_id(client, users.clerk)
    offer = make_offer(client, users.clerk, doc_id)
    token = redeem(client, offer).json()["access_token"]
    assert client.post(f"/api/v1/documents/{doc_id}/revoke", json={"reason": 2},
                       headers=users.clerk).status_code == 200
    refused = ask_credential(client, token, {"credential_configuration_id": DOG, "proofs": {
        "jwt": [proof_jwt(holder_key(), fresh_nonce(client))]}})
    assert refused.status_code == 400 and refused.json()["error"] == "credential_request_denied"
    again = client.post(f"/api/v1/documents/{doc_id}/wallet-offers", headers=users.clerk)
    assert again.status_code == 409
    assert "wallet.issue" not in audit_actions(client, doc_id)

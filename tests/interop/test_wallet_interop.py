"""The citizen's wallet, built from the libraries real wallets use (tests/support/wallet.py:
@openid4vc/openid4vci and openid4vp, @sd-jwt/sd-jwt-vc and jwt-status-list), against a running
`govchain serve`: a clerk's offer is taken into the wallet with its PIN over OpenID4VCI, the
SD-JWT VC verifies with the keys the ledger lists and its Token Status List, the wallet answers a
checker's OpenID4VP request with only the claims asked for — VALID, and REVOKED once the clerk
revokes it."""

from __future__ import annotations

import copy
from typing import Any

import httpx

from support import wallet
from support.serve import ServeProcess

DOG = "gefaehrlicher-hund"
MUSIC = "strassenmusik"


def _subject(usecase: str) -> dict[str, Any]:
    from govchain.domain.usecases import UseCaseRegistry, default_usecases_dir
    subject = copy.deepcopy(UseCaseRegistry.load(default_usecases_dir()).get(usecase)
                            .examples[0]["subject"])
    if "zeitfenster" in subject:  # valid whenever the test runs
        subject["zeitfenster"] = [{"tage": ["mo", "di", "mi", "do", "fr", "sa", "so"],
                                   "von": "00:00", "bis": "24:00"}]
    return subject


def _offer(service: ServeProcess, document_id: str) -> dict[str, Any]:
    status, made = service.call("POST", f"/api/v1/documents/{document_id}/wallet-offers",
                                role="clerk")
    assert status == 201, made
    return dict(made)


def _ask(service: ServeProcess, usecase: str) -> dict[str, Any]:
    status, made = service.call("POST", "/api/v1/presentations", body={"usecase": usecase})
    assert status == 201, made
    return dict(made)


def _answer_of(service: ServeProcess, request_id: str) -> dict[str, Any]:
    status, found = service.call("GET", f"/api/v1/presentations/{request_id}")
    assert status == 200, found
    return dict(found)


def _receive(service: ServeProcess, usecase: str) -> tuple[str, dict[str, Any]]:
    issued = service.issue(usecase, _subject(usecase))
    offer = _offer(service, issued["id"])
    got = wallet.receive(offer["offer"], offer["pin"])
    assert "error" not in got, got
    return issued["id"], got


def test_issued_over_openid4vci_presented_over_openid4vp_valid_then_revoked(
        service: ServeProcess) -> None:
    document_id, got = _receive(service, DOG)
    assert got["credentialConfigurationId"] == DOG
    checked = wallet.verify(got["credential"], service.base_url)
    assert checked["verified"], checked["errors"]
    assert checked["status"] == 0
    subject = _subject(DOG)
    assert checked["claims"]["hund"]["chipnummer"] == subject["hund"]["chipnummer"]
    assert checked["claims"]["halter"]["anschrift"] == subject["halter"]["anschrift"]
    assert checked["vctMetadata"]["mergedTypeMetadata"]["vct"] == f"{service.base_url}/vct/{DOG}"

    request = _ask(service, DOG)
    sent = wallet.present(request["request"], got["credential"], got["holderPrivateJwk"])
    assert sent["ok"], sent
    answer = _answer_of(service, request["id"])
    assert answer["answered"] and answer["result"]["status"] == "VALID", answer
    shown = answer["result"]["claims"]
    assert shown["hund"]["chipnummer"] == subject["hund"]["chipnummer"]
    assert "anschrift" not in shown["halter"] and "name" not in shown["hund"]
    assert answer["result"]["issuer"]["ags"] == service.municipalities[0].ags

    service.change_status(document_id, "revoke")
    assert wallet.status(got["credential"], service.base_url)["status"] == 1
    checked = wallet.verify(got["credential"], service.base_url)
    assert not checked["verified"] and checked["status"] == 1
    request = _ask(service, DOG)
    sent = wallet.present(request["request"], got["credential"], got["holderPrivateJwk"])
    assert sent["ok"], sent
    assert _answer_of(service, request["id"])["result"]["status"] == "REVOKED"


def test_suspension_and_reinstatement_reach_the_wallet(service: ServeProcess) -> None:
    document_id, got = _receive(service, MUSIC)
    service.change_status(document_id, "suspend")
    assert wallet.status(got["credential"], service.base_url)["status"] == 2
    request = _ask(service, MUSIC)
    assert wallet.present(request["request"], got["credential"], got["holderPrivateJwk"])["ok"]
    assert _answer_of(service, request["id"])["result"]["status"] == "SUSPENDED"
    service.change_status(document_id, "reinstate", None)
    assert wallet.status(got["credential"], service.base_url)["status"] == 0
    request = _ask(service, MUSIC)
    assert wallet.present(request["request"], got["credential"], got["holderPrivateJwk"])["ok"]
    found = _answer_of(service, request["id"])["result"]
    assert found["status"] == "VALID", found
    assert found["claims"]["zeitfenster"] and found["claims"]["zonen"]


def test_the_wallet_library_meets_the_refusals(service: ServeProcess) -> None:
    issued = service.issue(DOG, _subject(DOG))
    offer = _offer(service, issued["id"])
    wrong = "000000" if offer["pin"] != "000000" else "111111"
    refused = wallet.receive(offer["offer"], wrong)
    assert refused["error"]["stage"] == "token" and refused["error"]["status"] == 400
    assert refused["error"]["body"]["error"] == "invalid_grant"
    got = wallet.receive(offer["offer"], offer["pin"])  # one wrong PIN does not lock it
    assert "error" not in got, got
    again = wallet.receive(offer["offer"], offer["pin"])  # the code works once
    assert again["error"]["body"]["error"] == "invalid_grant"

    # a presentation made for one request is refused by another (nonce, audience), and a
    # response is taken once
    first = _ask(service, DOG)
    made = wallet.present(first["request"], got["credential"], got["holderPrivateJwk"],
                          send=False)
    assert not made.get("submitted")
    second = _ask(service, DOG)
    response_uri = f"{service.base_url}/oid4vp/response/{second['id']}"
    state = dict(httpx.QueryParams(second["request"].split("?", 1)[1]))["state"]
    posted = httpx.post(response_uri, data={"vp_token": made["fields"]["vp_token"],
                                            "state": state}, timeout=30)
    assert posted.status_code == 200
    result = _answer_of(service, second["id"])["result"]
    assert result["status"] == "INVALID" and "Schlüsselbindung" not in str(result["checks"][2])
    own = httpx.post(f"{service.base_url}/oid4vp/response/{first['id']}",
                     content=made["body"], timeout=30,
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert own.status_code == 200
    assert _answer_of(service, first["id"])["result"]["status"] == "VALID"
    replay = httpx.post(f"{service.base_url}/oid4vp/response/{first['id']}",
                        content=made["body"], timeout=30,
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_request"

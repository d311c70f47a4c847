"""govchain's documents, checked by software nobody here wrote: Digital Bazaar's reference VC
libraries (tests/support/vcjs.py) verify the W3C VC of each document type as a running
`govchain serve` hands it out, resolving the municipality's did:web, govchain's JSON-LD context
and the Bitstring Status Lists from that service alone — and follow the ledger's revocation,
suspension and reinstatement."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest

from support.serve import ALL_USECASES, ServeProcess
from support.vcjs import verify_credential


def _vc(service: ServeProcess, document_id: str) -> dict[str, Any]:
    answer = httpx.get(service.url(f"/api/v1/documents/{document_id}/credential"),
                       params={"format": "vc"}, headers=service.headers, timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/vc+ld+json")
    vc: dict[str, Any] = answer.json()
    return vc


def _issue(service: ServeProcess, usecase: str) -> str:
    from govchain.domain.usecases import UseCaseRegistry, default_usecases_dir
    example = UseCaseRegistry.load(default_usecases_dir()).get(usecase).examples[0]
    return str(service.issue(usecase, example["subject"])["id"])


@pytest.mark.parametrize("usecase", ALL_USECASES)
def test_a_standard_verifier_accepts_each_document_type(service: ServeProcess,
                                                        usecase: str) -> None:
    vc = _vc(service, _issue(service, usecase))
    result = verify_credential(vc, service.base_url)
    assert result["verified"], result["errors"]
    assert {(s["statusPurpose"], s["status"]) for s in result["statusResults"]} == {
        ("revocation", False), ("suspension", False)}
    # the verifier fetched what govchain serves: the context, the DID, both status lists
    fetched = " ".join(result["log"])
    assert "/credentials/v1" in fetched and "/did.json" in fetched
    assert "/revocation-0" in fetched and "/suspension-0" in fetched

    changed = copy.deepcopy(vc)
    subject = changed["credentialSubject"]
    key = next(k for k, v in subject.items() if isinstance(v, str))
    subject[key] = subject[key] + " (geändert)"
    result = verify_credential(changed, service.base_url)
    assert not result["verified"]


def test_the_standard_verifier_follows_the_ledger_status(service: ServeProcess) -> None:
    revoked = _issue(service, "gefaehrlicher-hund")
    suspended = _issue(service, "strassenmusik")
    vcs = {d: _vc(service, d) for d in (revoked, suspended)}

    service.change_status(revoked, "revoke")
    result = verify_credential(vcs[revoked], service.base_url)
    assert not result["verified"]
    assert {(s["statusPurpose"], s["status"]) for s in result["statusResults"]} == {
        ("revocation", True), ("suspension", False)}

    service.change_status(suspended, "suspend")
    result = verify_credential(vcs[suspended], service.base_url)
    assert not result["verified"]
    assert {(s["statusPurpose"], s["status"]) for s in result["statusResults"]} == {
        ("revocation", False), ("suspension", True)}

    service.change_status(suspended, "reinstate", None)
    result = verify_credential(vcs[suspended], service.base_url)
    assert result["verified"], result["errors"]


def test_status_lists_are_cacheable(service: ServeProcess) -> None:
    _issue(service, "strassenmusik")
    url = service.url("/status/05334002/revocation-0")
    first = httpx.get(url, timeout=30)
    assert first.status_code == 200 and first.headers["etag"]
    again = httpx.get(url, headers={"If-None-Match": first.headers["etag"]}, timeout=30)
    assert again.status_code == 304
    assert httpx.get(service.url("/status/05334002/revocation-99"), timeout=30).status_code == 404
    assert httpx.get(service.url("/status/05334002/anything"), timeout=30).status_code == 400


def test_govchain_verifies_the_vc_too(service: ServeProcess) -> None:
    vc = _vc(service, _issue(service, "wohnungsgeberbestaetigung"))
    status, answer = service.call("POST", "/api/v1/verify", body=vc)
    assert status == 200 and answer["status"] == "VALID", answer
    assert "Data Integrity" in next(c["message"] for c in answer["checks"]
                                    if c["name"] == "issuer")
    vc["credentialSubject"]["wohnungsgeber"] = {"name": "Jemand anderes"}
    status, answer = service.call("POST", "/api/v1/verify", body=vc)
    assert answer["status"] == "INVALID"


def test_the_did_document_and_the_context_are_served(service: ServeProcess) -> None:
    did = httpx.get(service.url("/municipalities/05334002/did.json"), timeout=30)
    assert did.status_code == 200
    doc = did.json()
    assert doc["id"] == f"did:web:127.0.0.1%3A{service.port}:municipalities:05334002"
    assert doc["verificationMethod"] and doc["assertionMethod"]
    assert httpx.get(service.url("/municipalities/09999999/did.json"),
                     timeout=30).status_code == 404
    context = httpx.get(service.url("/credentials/v1"), timeout=30)
    assert context.status_code == 200
    assert context.json()["@context"]["@protected"] is True

"""Proves the Digital Bazaar verification harness (support.vcjs) on credentials issued with the same
libraries (tests/support/node/vc_issue_fixture.mjs) and served by a tiny local HTTP server the way
govchain serves them: DID document, JSON-LD context, Bitstring status list credentials."""

from __future__ import annotations

import copy
import functools
import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from support.vcjs import ISSUE_FIXTURE_SCRIPT, run_node, verify_credential


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def _issue(tmp_path_factory: pytest.TempPathFactory, name: str, *flags: str) -> Iterator[
        tuple[str, dict[str, Any]]]:
    """Serves a fresh directory on 127.0.0.1:<free port>, fills it with the fixture script and
    yields (base_url, credential)."""
    root = tmp_path_factory.mktemp(name)
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base_url = f"http://127.0.0.1:{server.server_address[1]}"
        run_node(ISSUE_FIXTURE_SCRIPT, str(root), base_url, *flags)
        yield base_url, json.loads((root / "credential.json").read_text())
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:
    yield from _issue(tmp_path_factory, "vc-valid")


@pytest.fixture(scope="module")
def issued_revoked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:
    yield from _issue(tmp_path_factory, "vc-revoked", "--revoked")


def _statuses(result: dict[str, Any]) -> dict[str, Any]:
    return {s["statusPurpose"]: s["status"] for s in result["statusResults"]}


def test_valid_credential_verifies_with_both_status_lists(issued: tuple[str, dict[str, Any]]) -> None:
    base_url, credential = issued
    assert credential["credentialStatus"][0]["type"] == "GovchainLedgerStatus2026"
    result = verify_credential(credential, base_url)
    assert result["verified"] is True, result
    assert result["errors"] == []
    assert _statuses(result) == {"revocation": False, "suspension": False}
    assert f"GET {base_url}/municipalities/05315000/did.json: 200" in result["log"]


def test_changed_subject_field_fails(issued: tuple[str, dict[str, Any]]) -> None:
    base_url, credential = issued
    tampered = copy.deepcopy(credential)
    tampered["credentialSubject"]["name"] = "Erika Mustermann"
    result = verify_credential(tampered, base_url)
    assert result["verified"] is False
    assert any("Invalid signature" in e for e in result["errors"]), result["errors"]


def test_revocation_bit_is_reported(issued_revoked: tuple[str, dict[str, Any]]) -> None:
    base_url, credential = issued_revoked
    result = verify_credential(credential, base_url)
    assert result["verified"] is False
    assert _statuses(result) == {"revocation": True, "suspension": False}
    assert any('"revocation" is set' in e for e in result["errors"]), result["errors"]
    # without the status check the same credential's proof is fine
    unchecked = verify_credential(credential, base_url, check_status=False)
    assert unchecked["verified"] is True, unchecked
    assert unchecked["statusResults"] == []


def test_foreign_proof_in_proof_set_is_ignored(issued: tuple[str, dict[str, Any]]) -> None:
    base_url, credential = issued
    with_set = copy.deepcopy(credential)
    with_set["proof"] = [with_set["proof"], {
        "type": "GovchainMerkleProof2026", "merkleRoot": "0x" + "ab" * 32, "leafIndex": 7,
        "path": ["0x" + "cd" * 32]}]
    result = verify_credential(with_set, base_url)
    assert result["verified"] is True, result


def test_did_web_of_another_host_is_refused(issued: tuple[str, dict[str, Any]]) -> None:
    base_url, credential = issued
    own_host = credential["issuer"].split(":")[2]
    foreign = copy.deepcopy(credential)
    foreign["issuer"] = credential["issuer"].replace(own_host, "evil.example%3A8000")
    foreign["proof"]["verificationMethod"] = credential["proof"]["verificationMethod"].replace(
        own_host, "evil.example%3A8000")
    result = verify_credential(foreign, base_url)
    assert result["verified"] is False
    assert any("refusing to resolve did:web:evil.example%3A8000" in e for e in result["errors"]), \
        result["errors"]
    assert result["log"] == []  # nothing was fetched


def test_other_urls_are_refused(issued: tuple[str, dict[str, Any]]) -> None:
    base_url, credential = issued
    foreign = copy.deepcopy(credential)
    foreign["@context"].append("https://contexts.example/v1")
    result = verify_credential(foreign, base_url)
    assert result["verified"] is False
    assert any("documentLoader refuses https://contexts.example/v1" in e for e in result["errors"]), \
        result["errors"]


def test_bad_request_raises() -> None:
    with pytest.raises(RuntimeError, match="bad request"):
        verify_credential({}, "")

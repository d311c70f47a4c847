"""Request ids: every answer names its request (X-Request-ID, the proxy's own if it sent a plain
one), the audit entries a request writes carry it, and `log_format = "json"` writes it into
every log line — one request followed from the proxy's log to the audit log."""

from __future__ import annotations

import json
import logging
import re

from fastapi.testclient import TestClient

from api.test_documents_api import DOG, Users, client, engine_of, example, users
from govchain.adapters.db import UnitOfWork
from govchain.entrypoints.cli.serving import JsonLines, log_config
from govchain.services.audit import REQUEST_ID

client, users = client, users  # module fixtures of test_documents_api, shared


def test_every_answer_has_a_request_id(client: TestClient) -> None:
    first = client.get("/healthz").headers["x-request-id"]
    second = client.get("/healthz").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second
    assert client.get("/healthz", headers={"X-Request-ID": "proxy-7f3a.1"}
                      ).headers["x-request-id"] == "proxy-7f3a.1"
    for unusable in (b"zwei worte", b"x" * 65, "aäb".encode(), b"<script>"):
        answer = client.get("/healthz", headers=[(b"X-Request-ID", unusable)])
        assert answer.headers["x-request-id"].encode() != unusable
        assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["x-request-id"])
    refused = client.get("/api/v1/documents", headers={"X-Request-ID": "abgelehnt-1"})
    assert refused.status_code == 401 and refused.headers["x-request-id"] == "abgelehnt-1"


def test_the_audit_entries_of_a_request_carry_its_id(client: TestClient, users: Users) -> None:
    answer = client.post("/api/v1/documents?wait=true", headers={
        **users.clerk, "X-Request-ID": "vorgang-4711"}, json={
        "usecase": DOG, "subject": example(client, DOG)})
    assert answer.status_code == 201, answer.text
    revoked = client.post(f"/api/v1/documents/{answer.json()['id']}/revoke", json={"reason": 1},
                          headers=users.clerk)
    with UnitOfWork(engine_of(client)) as uow:
        entries = uow.audit.list(target=answer.json()["id"]).items
    by_action = {e.action: e.request_id for e in entries}
    assert by_action["document.issue"] == "vorgang-4711"
    assert by_action["document.revoke"] == revoked.headers["x-request-id"] != "vorgang-4711"


def test_json_log_lines_name_the_request() -> None:
    config = log_config("json")
    assert config["formatters"]["access"] == {"()": JsonLines}
    assert config["loggers"]["govchain"]["handlers"] == ["default"]
    assert log_config()["formatters"]["access"] != {"()": JsonLines}  # text stays the default
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", "/healthz", "1.1", 200), None)
    token = REQUEST_ID.set("vorgang-4711")
    try:
        line = json.loads(JsonLines().format(record))
    finally:
        REQUEST_ID.reset(token)
    assert line["requestId"] == "vorgang-4711" and line["level"] == "INFO"
    assert line["message"] == '127.0.0.1:5000 - "GET /healthz HTTP/1.1" 200'
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["time"])
    assert "requestId" not in json.loads(JsonLines().format(record))

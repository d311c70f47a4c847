"""The ledger node stops for 30 s during issuance: the service keeps accepting (pending), says so in
/readyz, answers verifications UNVERIFIABLE (503 with the result), and anchors everything once the
node is back."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fault_checks import assert_nothing_lost_or_doubled

from conftest import Node
from support.serve import ServeProcess, prepare_home

pytestmark = [pytest.mark.slow, pytest.mark.anvil]

USECASE = "gefaehrlicher-hund"
OUTAGE_SECONDS = 30


def subject(i: int) -> dict[str, object]:
    path = sorted((Path(__file__).parents[2] / "usecases" / USECASE / "examples").glob("*.json"))[0]
    s: dict[str, object] = json.loads(path.read_text())["subject"]
    s["hund"]["name"] = f"Outage {i}"  # type: ignore[index]
    return s


def test_node_outage_keeps_accepting_and_never_answers_valid_or_invalid(
        tmp_path: Path, node: Node, database: tuple[str, sa.Engine]) -> None:
    url, engine = database
    home = tmp_path / "home"
    env = prepare_home(home, rpc_url=node.url, database_url=url, in_process=False)
    serve = ServeProcess(home, env).start()
    client = httpx.Client(base_url=f"{serve.base_url}/api/v1", headers=serve.headers, timeout=60)
    before = client.post("/documents", params={"wait": "true"},
                         json={"usecase": USECASE, "subject": subject(0)})
    assert before.status_code == 201
    issued_before = before.json()["document"]
    assert client.post("/verify", json=issued_before).json()["status"] == "VALID"

    node.stop()
    outage_started = time.monotonic()
    # The status index answers for a head it saw at most ≈0.4 s ago (its poller looks every
    # 50 ms); once that is older, every check must say it cannot tell.
    time.sleep(1)
    accepted = [before.json()["id"]]
    during = 0
    while time.monotonic() - outage_started < OUTAGE_SECONDS:
        answer = client.post("/documents", json={"usecase": USECASE, "subject": subject(during + 1)})
        assert answer.status_code == 202 and answer.json()["status"] == "pending", answer.text
        accepted.append(answer.json()["id"])
        checked = client.post("/verify", json=issued_before)
        assert checked.status_code == 503
        assert checked.json()["status"] == "UNVERIFIABLE"
        ready = client.get("/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert body["checks"]["ledger"]["ok"] is False and body["checks"]["database"]["ok"] is True
        assert body["checks"]["anchoring"]["pending"] >= 1
        during += 1
        time.sleep(1)
    assert during >= 5
    assert serve.count("pending") == during

    node.start()  # same port, same chain (anvil's state file)
    serve.wait_until_none_pending(timeout=120)
    assert client.get("/readyz").status_code == 200
    assert client.post("/verify", json=issued_before).json()["status"] == "VALID"
    client.close()
    serve.stop()
    outcome = assert_nothing_lost_or_doubled(home, node.url, engine, accepted)
    assert outcome["documents"] == during + 1

"""Two `govchain serve` instances on one home, one PostgreSQL and one node issue at the same time:
one anchoring worker per account (advisory lock), so no double anchoring and no nonce clash."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fault_checks import assert_nothing_lost_or_doubled
from test_crash import USECASE, subjects

from conftest import Node
from support.serve import ServeProcess, prepare_home

pytestmark = [pytest.mark.slow, pytest.mark.anvil]


def test_two_instances_issue_concurrently_without_double_anchoring(
        tmp_path: Path, node: Node, database: tuple[str, sa.Engine]) -> None:
    url, engine = database
    home = tmp_path / "home"
    env = prepare_home(home, rpc_url=node.url, database_url=url, in_process=False,
                       env={"GOVCHAIN_ANCHOR_MAX_BATCH": "50", "GOVCHAIN_ANCHOR_WINDOW_MS": "10"})
    first = ServeProcess(home, env, name="first").start()
    second = ServeProcess(home, env, name="second").start()
    accepted: list[str] = []
    lock = threading.Lock()

    def issue(serve: ServeProcess, offset: int) -> None:
        with httpx.Client(timeout=120, headers=serve.headers) as client:
            for i in range(0, 400, 50):  # bulk requests and single ones, interleaved
                answer = client.post(f"{serve.base_url}/api/v1/documents/bulk", json={
                    "usecase": USECASE,
                    "items": [{"subject": s} for s in subjects(50, offset + i)]})
                single = client.post(f"{serve.base_url}/api/v1/documents", json={
                    "usecase": USECASE, "subject": subjects(1, offset + 10_000 + i)[0]})
                assert answer.status_code == 202 and single.status_code == 202
                with lock:
                    accepted.extend(a["id"] for a in answer.json()["accepted"])
                    accepted.append(single.json()["id"])

    threads = [threading.Thread(target=issue, args=(s, k * 100_000))
               for k, s in enumerate((first, second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    first.wait_until_none_pending(timeout=300)
    first.stop()
    second.stop()
    assert len(accepted) == 2 * 8 * 51
    outcome = assert_nothing_lost_or_doubled(home, node.url, engine, accepted)
    assert outcome["documents"] == len(accepted)

"""kill -9 of `govchain serve` at random moments during bulk issuance: after restarts, every accepted
document is anchored exactly once and verifies VALID; no root twice, no nonce lost or stuck."""

from __future__ import annotations

import json
import random
import threading
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
ROUNDS = 4
PER_ROUND = 1000
CHUNK = 250


def subjects(n: int, offset: int) -> list[dict[str, object]]:
    path = sorted((Path(__file__).parents[2] / "usecases" / USECASE / "examples").glob("*.json"))[0]
    example = json.loads(path.read_text())["subject"]
    out = []
    for i in range(n):
        s = json.loads(json.dumps(example))
        s["hund"]["name"] = f"Bello {offset + i}"
        out.append(s)
    return out


def test_kill_9_during_bulk_issuance_loses_nothing_and_anchors_nothing_twice(
        tmp_path: Path, node: Node, database: tuple[str, sa.Engine]) -> None:
    url, engine = database
    home = tmp_path / "home"
    # Small batches and a short window: anchoring runs for a while, so kills land in every phase
    # (accepting, signing, sending, waiting for the receipt, writing proofs).
    env = prepare_home(home, rpc_url=node.url, database_url=url, in_process=False,
                       env={"GOVCHAIN_ANCHOR_MAX_BATCH": "100", "GOVCHAIN_ANCHOR_WINDOW_MS": "20"})
    serve = ServeProcess(home, env)
    rng = random.Random(20261127)
    accepted: set[str] = set()
    kills = []
    for round_ in range(ROUNDS):
        serve.start()
        items = [{"subject": s} for s in subjects(PER_ROUND, round_ * PER_ROUND)]

        def send(items: list[dict[str, object]] = items) -> None:
            with httpx.Client(timeout=120, headers=serve.headers) as client:
                for i in range(0, len(items), CHUNK):
                    try:
                        answer = client.post(f"{serve.base_url}/api/v1/documents/bulk",
                                             json={"usecase": USECASE, "items": items[i:i + CHUNK]})
                    except httpx.HTTPError:
                        return  # killed while answering: these count as not accepted
                    if answer.status_code in (201, 202):
                        accepted.update(a["id"] for a in answer.json()["accepted"])

        sender = threading.Thread(target=send)
        sender.start()
        delay = rng.uniform(0.5, 6.0)
        time.sleep(delay)
        serve.kill()
        kills.append(round(delay, 2))
        sender.join()
    serve.start()
    serve.wait_until_none_pending(timeout=600)
    serve.stop()
    assert len(accepted) >= 2 * CHUNK, f"too few accepted before the kills ({kills})"
    outcome = assert_nothing_lost_or_doubled(home, node.url, engine, accepted)
    assert outcome["documents"] >= len(accepted)
    print(f"kills after {kills} s; {len(accepted)} accepted; {outcome}")

"""Transactions that go wrong on the way: dropped from the pool, left unmined (replaced at a higher
price), and an anchor dropped by a reorg before its confirmations; each ends anchored once."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fault_checks import assert_nothing_lost_or_doubled
from test_crash import USECASE, subjects

from conftest import Node
from govchain.adapters.db import BatchRecord, UnitOfWork
from support.serve import ServeProcess, prepare_home

pytestmark = [pytest.mark.slow, pytest.mark.anvil]


def wait_for(condition, timeout: float = 60.0, what: str = "") -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def sending(engine: sa.Engine) -> list[BatchRecord]:
    with UnitOfWork(engine) as uow:
        return uow.batches.list(state="sending")


def issue_one(serve: ServeProcess, n: int) -> str:
    answer = httpx.post(f"{serve.base_url}/api/v1/documents", headers=serve.headers, timeout=60,
                        json={"usecase": USECASE, "subject": subjects(1, n)[0]})
    assert answer.status_code == 202
    return str(answer.json()["id"])


def test_dropped_and_unmined_transactions_are_sent_again_and_replaced(
        tmp_path: Path, node: Node, database: tuple[str, sa.Engine]) -> None:
    url, engine = database
    home = tmp_path / "home"
    env = prepare_home(home, rpc_url=node.url, database_url=url, in_process=False,
                       env={"GOVCHAIN_ANCHOR_REPLACE_AFTER_SECONDS": "8"})
    serve = ServeProcess(home, env).start()
    node.rpc("evm_setAutomine", False)

    # Dropped from the node's pool: the worker sends the stored bytes again.
    dropped = issue_one(serve, 1)
    wait_for(lambda: len(sending(engine)) == 1, what="the first batch to be sent")
    (batch,) = sending(engine)
    wait_for(lambda: bool(node.rpc("eth_getTransactionByHash", batch.tx_hash)), what="in pool")
    node.rpc("anvil_dropTransaction", batch.tx_hash)
    assert node.rpc("eth_getTransactionByHash", batch.tx_hash) is None
    wait_for(lambda: bool(node.rpc("eth_getTransactionByHash", batch.tx_hash)), timeout=30,
             what="the dropped transaction to be sent again")

    # Never mined: after replace_after the same anchor is re-signed (same nonce, higher price).
    wait_for(lambda: sending(engine)[0].tx_hash != batch.tx_hash, timeout=60,
             what="the replacement transaction")
    (replaced,) = sending(engine)
    assert replaced.nonce == batch.nonce and replaced.merkle_root == batch.merkle_root
    assert replaced.gas_price is not None and batch.gas_price is not None
    assert replaced.gas_price > batch.gas_price
    node.rpc("evm_mine")
    serve.wait_until_none_pending(timeout=60)
    node.rpc("evm_setAutomine", True)
    serve.stop()
    assert_nothing_lost_or_doubled(home, node.url, engine, [dropped])


def test_reorg_that_drops_an_anchor_before_its_confirmations_re_anchors_it(
        tmp_path: Path, node: Node, database: tuple[str, sa.Engine]) -> None:
    url, engine = database
    home = tmp_path / "home"
    env = prepare_home(home, rpc_url=node.url, database_url=url, in_process=False,
                       env={"GOVCHAIN_ANCHOR_CONFIRMATIONS": "3"})
    serve = ServeProcess(home, env).start()
    head = int(node.rpc("eth_blockNumber"), 16)
    snapshot = node.rpc("evm_snapshot")
    doc_id = issue_one(serve, 2)
    wait_for(lambda: int(node.rpc("eth_blockNumber"), 16) > head, what="the anchor to be mined")
    time.sleep(1)
    assert serve.count("pending") == 1  # mined, but without its confirmations
    assert node.rpc("evm_revert", snapshot) is True  # the block with the anchor is gone
    assert int(node.rpc("eth_blockNumber"), 16) == head
    # The worker finds neither receipt nor anchor and sends the stored transaction again.
    wait_for(lambda: int(node.rpc("eth_blockNumber"), 16) > head, timeout=30,
             what="the anchor to be sent again")
    assert serve.count("pending") == 1
    node.rpc("anvil_mine", "0x3")
    serve.wait_until_none_pending(timeout=60)
    serve.stop()
    assert_nothing_lost_or_doubled(home, node.url, engine, [doc_id])

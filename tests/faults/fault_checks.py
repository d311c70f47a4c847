"""What must hold after any fault: every accepted document anchored exactly once and VALID, every
root on the ledger once, no nonce lost or stuck."""

from __future__ import annotations

import os
import random
from collections.abc import Collection
from pathlib import Path

import sqlalchemy as sa

from govchain import services
from govchain.adapters.context import Context
from govchain.adapters.db import UnitOfWork
from govchain.domain.hashing import to_hex
from govchain.domain.verification import Status
from support.serve import PASSPHRASE


def all_records(engine: sa.Engine) -> tuple[list, dict]:  # type: ignore[type-arg]
    with UnitOfWork(engine) as uow:
        batches = uow.batches.list(limit=100_000)
        docs = {}
        offset = 0
        while True:
            page = uow.documents.list(offset=offset, limit=100)
            docs.update({d.id: d for d in page.items})
            offset += 100
            if offset >= page.total:
                break
    return batches, docs


def assert_nothing_lost_or_doubled(home: Path, rpc_url: str, engine: sa.Engine,
                                   accepted: Collection[str], *, sample: int = 40) -> dict[str, int]:
    batches, docs = all_records(engine)
    missing = set(accepted) - set(docs)
    assert not missing, f"{len(missing)} accepted documents are not stored"
    states = {d.state for d in docs.values()}
    assert states == {"anchored"}, f"states left: {states}"
    anchored_batches = [b for b in batches if b.state == "anchored"]
    assert not [b for b in batches if b.state != "anchored"], "batches not anchored"
    by_id = {b.id: b for b in anchored_batches}
    for d in docs.values():
        assert d.batch_id in by_id and d.merkle_root == by_id[d.batch_id].merkle_root
        assert d.document is not None and d.document["proof"]["merkleRoot"] == d.merkle_root
    roots = [b.merkle_root for b in anchored_batches]
    assert len(roots) == len(set(roots))

    os.environ.setdefault("GOVCHAIN_KEY_PASSPHRASE", PASSPHRASE)
    ctx = Context(home=home, rpc_url=rpc_url)
    try:
        logs = ctx.ledger.document_registry.events.RootAnchored.get_logs(
            from_block=ctx.deployment.block)
        on_chain = [to_hex(bytes(log["args"]["root"])) for log in logs]
        # Each root on the ledger once, and exactly the roots of the stored batches.
        assert len(on_chain) == len(set(on_chain))
        assert set(on_chain) == set(roots)
        accounts = {str(log["args"]["account"]) for log in logs}
        w3 = ctx.chain.w3
        sent = 0
        for account in accounts:
            latest = w3.eth.get_transaction_count(account, "latest")
            pending = w3.eth.get_transaction_count(account, "pending")
            assert pending == latest, f"{account}: {pending - latest} transactions stuck"
            sent += latest
        # Every transaction the issuer accounts sent is one of the anchors: no nonce wasted.
        assert sent == len(on_chain), f"{sent} transactions for {len(on_chain)} anchors"
        for doc_id in random.Random(7).sample(sorted(docs), min(sample, len(docs))):
            document = docs[doc_id].document
            assert services.verify(ctx, document).status is Status.VALID
    finally:
        ctx.close()
    return {"documents": len(docs), "batches": len(roots), "transactions": sent}

"""One anchor batch, step by step: open it from the oldest waiting documents, sign and store
the transaction, send it, finish when it is on the ledger.

Why this order survives crashes and outages:
- a crash before the batch is stored loses nothing: the documents are still waiting, no nonce used;
- a crash after it is stored: the worker finds the batch ``sending`` and sends the same bytes again
  (same nonce, same hash) or finds the root anchored on the ledger; a root is never anchored twice
  (the contract refuses a known root, and the same signed bytes cannot be mined twice);
- a node outage: the batch stays ``sending`` and is retried with back-off; new documents keep
  arriving as pending and go into the next batch;
- a transaction not mined after `replace_after` seconds is re-signed with the same nonce at a
  higher gas price (replaces a dropped or underpriced one);
- a reorg that drops an anchor before it has its confirmations: the root is no longer on the
  ledger, so the worker sends the stored transaction again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from govchain.adapters import metrics
from govchain.adapters.context import Context
from govchain.adapters.db import BatchRecord, QueuedDocument, UnitOfWork
from govchain.domain.hashing import Hash32, from_hex32, to_hex
from govchain.domain.merkle import MerkleTree
from govchain.domain.timefmt import from_unix, now
from govchain.errors import (
    GovchainError,
    KeyUnavailableError,
    LedgerError,
    LedgerUnavailableError,
)
from govchain.pipeline.locks import AccountLocks
from govchain.services import issuer_signer
from govchain.settings import AnchoringSettings

log = logging.getLogger(__name__)

REBROADCAST_EVERY = 5.0  # seconds between sends of the same signed transaction while unmined


@dataclass
class BatchOutcome:
    batch_id: int | None
    anchored: int = 0
    failed: int = 0
    waiting: bool = False  # sent, not yet final: look again later


class AnchorSteps:
    """The steps of anchoring one account's documents; each leaves the database consistent."""

    def __init__(self, ctx: Context, engine: Engine, settings: AnchoringSettings) -> None:
        self.ctx = ctx
        self.engine = engine
        self.settings = settings
        self._signers: dict[str, Any] = {}
        self._sent: dict[int, float] = {}  # batch id → when this process last sent it
        # For the metrics: when the documents of the batches this process opened were accepted,
        # and each account's municipality (an account belongs to one for ever).
        self._accepted_at: dict[int, list[datetime]] = {}
        self._municipalities: dict[str, str] = {}

    def _signer(self, ags: str, account: str) -> Any:
        if account not in self._signers:
            self._signers[account] = issuer_signer(self.ctx, ags, account)
        return self._signers[account]

    def open_batch(self, account: str) -> BatchRecord | None:
        """Takes the account's oldest waiting documents of one use case, signs their anchor and
        stores the batch (state ``sending``) with the signed bytes; None if nothing waits.

        Where the ledger refuses the anchor already in the gas estimate (municipality suspended,
        account retired, type not admitted), the documents are marked failed with the reason.
        """
        with UnitOfWork(self.engine) as uow:
            queue = uow.documents.queue_of(account, self.settings.max_batch)
            if not queue:
                return None
            usecase_id = queue[0].usecase
            same_usecase = [q for q in queue if q.usecase == usecase_id]
            first = uow.documents.get(same_usecase[0].id)
            assert first is not None
            tree, ordered = _tree(same_usecase)
            usecase = self.ctx.usecases.get(usecase_id)
            error: str | None = None
            signed = None
            try:
                signed = self.ctx.ledger.sign_anchor(self._signer(first.ags, account),
                                                     usecase.doc_type, [tree.root])
            except (LedgerUnavailableError, KeyUnavailableError):
                raise  # nothing stored: the documents stay waiting and are tried again
            except GovchainError as err:
                error = str(err)
            members = [from_hex32(q.target_hash) for q in ordered]  # the tree's leaves, in order
            batch = uow.batches.add(
                account=account, usecase=usecase_id, merkle_root=tree.root, size=len(ordered),
                nonce=signed.nonce if signed else None,
                gas_price=signed.gas_price if signed else None,
                tx_hash=signed.hash if signed else None, raw_tx=signed.raw if signed else None,
                state="sending" if signed else "failed", error=error, members=members)
            if error is not None:
                uow.documents.mark_batch_failed(batch.id, members)
                log.warning("Verankerung von %d Dokumenten (%s) abgelehnt: %s", len(ordered),
                            usecase_id, error)
            uow.commit()
        self._municipalities[account] = first.ags
        if error is not None:
            metrics.documents_failed(usecase_id, first.ags, len(ordered))
        else:
            self._accepted_at[batch.id] = [q.created_at for q in ordered]
        return batch

    def advance(self, batch: BatchRecord) -> BatchOutcome:
        """Moves a ``sending`` batch on: finished when its root is on the ledger with enough
        confirmations; else (re)sends its transaction, replacing it when it has waited too long.
        Raises LedgerUnavailableError while the node cannot be reached."""
        ledger = self.ctx.ledger
        if batch.sent_at is None:
            self._send(batch)
            with UnitOfWork(self.engine) as uow:
                uow.batches.mark_sent(batch.id)
                uow.commit()
        # The receipt of the stored transaction is the quick answer (one call; on nodes that
        # mine at once it is there already); the root's anchor on the ledger is the answer
        # that also covers a replaced transaction and a reorg.
        receipt = ledger.receipt(batch.tx_hash) if batch.tx_hash else None
        if receipt is not None and receipt.get("status") == 0 \
                and ledger.anchor_of(from_hex32(batch.merkle_root)) is None:
            return self._fail(batch, f"Die Transaktion {batch.tx_hash} ist fehlgeschlagen")
        if receipt is not None and receipt.get("status") == 1:
            block = int(receipt["blockNumber"])
            if self.settings.confirmations == 0:
                return self._finish(batch, str(batch.tx_hash), block, ledger.block_time(block))
        info = ledger.anchor_of(from_hex32(batch.merkle_root))
        if info is not None:
            if info.account.lower() != batch.account.lower():
                return self._fail(batch, f"Die Wurzel {batch.merkle_root} wurde von einem anderen "
                                         f"Konto ({info.account}) verankert")
            if ledger.head() < info.block + self.settings.confirmations:
                return BatchOutcome(batch.id, waiting=True)
            # Confirmed: look once more that the anchor is still there (a reorg may have
            # dropped it meanwhile; then the stored transaction is sent again below).
            again = ledger.anchor_of(from_hex32(batch.merkle_root))
            if again is not None and again.block == info.block:
                tx_hash = info.tx_hash or batch.tx_hash or ""
                return self._finish(batch, tx_hash, info.block, info.timestamp)
        assert batch.sent_at is not None or batch.id in self._sent
        sent_at = batch.sent_at or now()
        if (now() - sent_at).total_seconds() > self.settings.replace_after:
            self._send(self._replace(batch))
        elif time.monotonic() - self._sent.get(batch.id, 0.0) > REBROADCAST_EVERY:
            # idempotent: brings back a transaction a restarted node or a reorg lost
            self._send(batch)
        return BatchOutcome(batch.id, waiting=True)

    def _send(self, batch: BatchRecord) -> None:
        if batch.raw_tx is None:
            raise LedgerError(f"Anker-Stapel {batch.id} hat keine signierte Transaktion")
        self.ctx.ledger.broadcast(batch.raw_tx)
        self._sent[batch.id] = time.monotonic()

    def _replace(self, batch: BatchRecord) -> BatchRecord:
        """Re-signs the same anchor with the same nonce at a higher price (≥ +12.5 %, what nodes
        ask of a replacement)."""
        ags = self._ags_of(batch)
        usecase = self.ctx.usecases.get(batch.usecase)
        old_price = batch.gas_price or 0
        price = max(old_price * 5 // 4 + 1, self.ctx.chain.w3.eth.gas_price)
        signed = self.ctx.ledger.sign_anchor(
            self._signer(ags, batch.account), usecase.doc_type,
            [from_hex32(batch.merkle_root)], nonce=batch.nonce, gas_price=price)
        with UnitOfWork(self.engine) as uow:
            uow.batches.replace_tx(batch.id, raw_tx=signed.raw, tx_hash=signed.hash,
                                   gas_price=signed.gas_price)
            uow.batches.mark_sent(batch.id)
            uow.commit()
            fresh = uow.batches.get(batch.id)
        assert fresh is not None
        log.info("Anker-Stapel %d: Transaktion ersetzt (Gaspreis %d → %d)", batch.id, old_price,
                 signed.gas_price)
        return fresh

    def _ags_of(self, batch: BatchRecord) -> str:
        ags = self._municipalities.get(batch.account)
        if ags is None:
            with UnitOfWork(self.engine) as uow:
                ags = self._municipality_of(uow, batch.account, batch_members(uow, batch.id))
        if not ags:
            raise LedgerError(f"Anker-Stapel {batch.id} hat keine wartenden Dokumente")
        return ags

    def _finish(self, batch: BatchRecord, tx_hash: str, block: int, timestamp: int
                ) -> BatchOutcome:
        """Records the anchor: the batch keeps its Merkle tree, its documents are marked
        anchored in one statement (their proofs are read from the tree)."""
        with UnitOfWork(self.engine) as uow:
            members = batch_members(uow, batch.id)
            tx = tx_hash or batch.tx_hash or batch.merkle_root
            at = from_unix(timestamp)
            tree = MerkleTree(members) if members else None
            if tree is not None and to_hex(tree.root) != batch.merkle_root:
                raise LedgerError(f"Anker-Stapel {batch.id}: die gespeicherten Dokumente ergeben "
                                  f"nicht die Wurzel {batch.merkle_root}")
            anchored = uow.documents.mark_batch_anchored(
                batch.id, members, merkle_root=batch.merkle_root, tx_hash=tx, block=block, at=at)
            if anchored == 0:  # finished by another path already: nothing else to write
                uow.batches.mark_anchored(batch.id, tx_hash=tx, block=block, at=at)
                uow.commit()
                self._accepted_at.pop(batch.id, None)
                return BatchOutcome(batch.id)
            if anchored != len(members):
                raise LedgerError(f"Anker-Stapel {batch.id}: {len(members) - anchored} seiner "
                                  f"{len(members)} Dokumente warten nicht mehr")
            uow.status_events.add_for_batch(batch.id, "anchored", tx_hash=tx)
            assert tree is not None
            uow.batches.mark_anchored(batch.id, tx_hash=tx, block=block, at=at,
                                      tree=tree.to_bytes())
            ags = self._municipality_of(uow, batch.account, members)
            uow.commit()
        metrics.documents_anchored(batch.usecase, ags, anchored,
                                   self._accepted_at.pop(batch.id, []))
        return BatchOutcome(batch.id, anchored=anchored)

    def _fail(self, batch: BatchRecord, error: str) -> BatchOutcome:
        self._accepted_at.pop(batch.id, None)
        with UnitOfWork(self.engine) as uow:
            members = batch_members(uow, batch.id)
            failed = uow.documents.mark_batch_failed(batch.id, members)
            uow.batches.mark_failed(batch.id, error)
            ags = self._municipality_of(uow, batch.account, members)
            uow.commit()
        log.warning("Anker-Stapel %d fehlgeschlagen: %s", batch.id, error)
        metrics.documents_failed(batch.usecase, ags, failed)
        return BatchOutcome(batch.id, failed=failed)

    def _municipality_of(self, uow: UnitOfWork, account: str, members: Sequence[Hash32]) -> str:
        """The AGS of the account's municipality ("" if unknown): known from a batch this process
        opened, else asked of the batch's first document (a batch found after a restart)."""
        ags = self._municipalities.get(account)
        if ags is None and members:
            ags = uow.documents.ags_of(members[0])
            if ags is not None:
                self._municipalities[account] = ags
        return ags or ""

    def sending(self, account: str) -> list[BatchRecord]:
        with UnitOfWork(self.engine) as uow:
            return uow.batches.sending_for(account)


def batch_members(uow: UnitOfWork, batch_id: int) -> list[Hash32]:
    """The targetHashes of a batch's documents, in tree order: recorded with the batch, or (for
    batches opened before migration 0005) those of the waiting documents that name the batch."""
    members = uow.batches.members_of(batch_id)
    if members is None:
        members = sorted(from_hex32(h) for h in uow.documents.target_hashes_of_batch(batch_id))
    return members


def _tree(members: Sequence[QueuedDocument]) -> tuple[MerkleTree, list[QueuedDocument]]:
    # Leaves in targetHash order: the batch's documents alone fix the tree, also after a crash.
    ordered = sorted(members, key=lambda q: q.target_hash)
    return MerkleTree([Hash32(from_hex32(q.target_hash)) for q in ordered]), ordered


def anchor_now(ctx: Context, engine: Engine, account: str,
               settings: AnchoringSettings | None = None, *, timeout: float = 120.0) -> int:
    """Anchors everything the account has waiting, in this thread (the CLI's path, no worker):
    the same steps the worker takes. Returns the number of documents anchored."""
    steps = AnchorSteps(ctx, engine, settings or AnchoringSettings(window=0))
    locks = AccountLocks(engine, ctx.home)
    deadline = time.monotonic() + timeout
    anchored = 0
    with locks.hold(account) as got:
        if not got:
            raise LedgerError(f"Für das Konto {account} verankert gerade ein anderer Prozess")
        while True:
            open_ = steps.sending(account)
            if not open_:
                batch = steps.open_batch(account)
                if batch is None:
                    return anchored
                open_ = [batch] if batch.state == "sending" else []
            for batch in open_:
                outcome = steps.advance(batch)
                anchored += outcome.anchored
                if outcome.waiting:
                    if time.monotonic() > deadline:
                        raise LedgerUnavailableError(
                            f"Anker-Stapel {batch.id} ist nach {timeout:g} s nicht bestätigt")
                    time.sleep(0.05)

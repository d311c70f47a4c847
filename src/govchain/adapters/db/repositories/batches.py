"""Anchor batches (the signed transaction, its state, its members' Merkle tree) and the cache of
their trees that issued documents' proofs are read from."""

from __future__ import annotations

import builtins
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session, object_session

from govchain.adapters.db.models import BATCH_STATES, Batch, BatchState, Document
from govchain.adapters.db.repositories._base import _hex32, _one_of, _Repository
from govchain.domain.documents import SaltedDocument, anchor_ref_of, issued_document
from govchain.domain.hashing import Hash32, to_hex
from govchain.domain.merkle import StoredTree
from govchain.domain.timefmt import now
from govchain.errors import InputError, RecordNotFoundError, StorageError

# Trees of anchored batches never change: kept by Merkle root (unique across databases too).
_TREES: OrderedDict[str, StoredTree] = OrderedDict()
_TREES_LOCK = threading.Lock()
_TREES_KEPT = 256


def _stored_tree(session: Session, batch_id: int, merkle_root: str) -> StoredTree:
    with _TREES_LOCK:
        tree = _TREES.get(merkle_root)
        if tree is not None:
            _TREES.move_to_end(merkle_root)
            return tree
    data = session.scalar(sa.select(Batch.tree).where(Batch.id == batch_id))
    if data is None:
        raise StorageError(f"Anker-Stapel {batch_id} hat keinen gespeicherten Merkle-Baum")
    tree = StoredTree(bytes(data))
    if to_hex(tree.root) != merkle_root:
        raise StorageError(f"Der Merkle-Baum von Anker-Stapel {batch_id} passt nicht zur Wurzel")
    with _TREES_LOCK:
        _TREES[merkle_root] = tree
        while len(_TREES) > _TREES_KEPT:
            _TREES.popitem(last=False)
    return tree


def _issued_from_batch(row: Document, salted: SaltedDocument) -> dict[str, Any]:
    """The issued document of one anchored with its batch: salted form + proof from the tree."""
    session = object_session(row)
    if session is None or row.batch_id is None or row.merkle_root is None \
            or row.anchor_tx is None or row.anchor_block is None or row.anchored_at is None:
        raise StorageError(f"Dokument {row.id}: verankert, aber ohne Stapel oder Anker")
    tree = _stored_tree(session, row.batch_id, row.merkle_root)
    anchor = anchor_ref_of(salted.document, row.anchor_tx, row.anchor_block, row.anchored_at)
    path = tree.proof(tree.index_of(salted.target_hash))
    return issued_document(salted, tree.root, path, anchor)


@dataclass(frozen=True)
class BatchRecord:
    id: int
    account: str
    usecase: str
    state: BatchState
    size: int
    merkle_root: str
    nonce: int | None
    gas_price: int | None
    tx_hash: str | None
    raw_tx: bytes | None = field(repr=False)
    anchor_block: int | None
    anchored_at: datetime | None
    error: str | None
    created_at: datetime
    sent_at: datetime | None


def _batch(row: Batch) -> BatchRecord:
    return BatchRecord(row.id, row.account, row.usecase, cast(BatchState, row.state), row.size,
                       row.merkle_root, row.nonce,
                       int(row.gas_price) if row.gas_price is not None else None, row.tx_hash,
                       bytes(row.raw_tx) if row.raw_tx is not None else None, row.anchor_block,
                       row.anchored_at, row.error, row.created_at, row.sent_at)


class FailedBatches(NamedTuple):
    batches: int
    documents: int
    last_error: str | None
    last_at: datetime | None


class BatchRepository(_Repository):
    """Anchor batches: written with the signed transaction before it is sent."""

    def add(self, *, account: str, usecase: str, merkle_root: bytes | str, size: int,
            nonce: int | None = None, gas_price: int | None = None,
            tx_hash: bytes | str | None = None, raw_tx: bytes | None = None,
            state: BatchState = "sending", error: str | None = None,
            members: Sequence[bytes] | None = None, at: datetime | None = None) -> BatchRecord:
        """`members`: the targetHashes of the batch's documents (which stay unchanged until
        the anchor is recorded)."""
        _one_of(state, BATCH_STATES, "Zustand")
        if members is not None and any(len(m) != 32 for m in members):
            raise InputError("Ein targetHash hat 32 Bytes")
        row = Batch(account=account, usecase=usecase, state=state, size=size,
                    merkle_root=_hex32(merkle_root, "merkleRoot"), nonce=nonce,
                    gas_price=gas_price,
                    tx_hash=_hex32(tx_hash, "Transaktion") if tx_hash is not None else None,
                    raw_tx=raw_tx, anchor_block=None, anchored_at=None, error=error,
                    created_at=at or now(), sent_at=None,
                    members=b"".join(members) if members is not None else None)
        self._session.add(row)
        self._flush()
        return _batch(row)

    def _get_row(self, batch_id: int) -> Batch:
        row = self._session.get(Batch, batch_id)
        if row is None:
            raise RecordNotFoundError(f"Kein Anker-Stapel {batch_id}")
        return row

    def get(self, batch_id: int) -> BatchRecord | None:
        row = self._session.get(Batch, batch_id)
        return _batch(row) if row else None

    def members_of(self, batch_id: int) -> builtins.list[Hash32] | None:
        """The targetHashes the batch was opened with; None for a batch opened before they were
        recorded (its documents know their batch: DocumentRepository.target_hashes_of_batch)."""
        data = self._session.scalar(sa.select(Batch.members).where(Batch.id == batch_id))
        if data is None:
            return None
        data = bytes(data)
        return [Hash32(data[i:i + 32]) for i in range(0, len(data), 32)]

    def sending_for(self, account: str) -> builtins.list[BatchRecord]:
        """The account's batches whose transaction is not known to be mined, oldest first."""
        query = (sa.select(Batch).where(Batch.account == account, Batch.state == "sending")
                 .order_by(Batch.id))
        return [_batch(r) for r in self._session.scalars(query)]

    def accounts_sending(self) -> builtins.list[str]:
        query = sa.select(Batch.account).distinct().where(Batch.state == "sending")
        return list(self._session.scalars(query))

    def replace_tx(self, batch_id: int, *, raw_tx: bytes, tx_hash: bytes | str,
                   gas_price: int) -> None:
        """A new signed transaction for the same nonce (a replacement at a higher price)."""
        row = self._get_row(batch_id)
        row.raw_tx, row.gas_price = raw_tx, gas_price
        row.tx_hash = _hex32(tx_hash, "Transaktion")
        self._flush()

    def mark_sent(self, batch_id: int, at: datetime | None = None) -> None:
        self._get_row(batch_id).sent_at = at or now()
        self._flush()

    def mark_anchored(self, batch_id: int, *, tx_hash: bytes | str, block: int,
                      at: datetime, tree: bytes | None = None) -> None:
        """`tree`: every node of the batch's Merkle tree (MerkleTree.to_bytes), where its
        documents' proofs are read from."""
        row = self._get_row(batch_id)
        row.state, row.anchor_block, row.anchored_at = "anchored", block, at
        row.tx_hash = _hex32(tx_hash, "Transaktion")
        row.raw_tx = None
        if tree is not None:
            row.tree = tree
        self._flush()

    def mark_failed(self, batch_id: int, error: str) -> None:
        row = self._get_row(batch_id)
        row.state, row.error, row.raw_tx = "failed", error[:2000], None
        self._flush()

    def failed_since(self, since: datetime) -> FailedBatches:
        """Batches opened since `since` that failed: how many, their documents, the last error."""
        batches, documents = self._session.execute(
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(Batch.size), 0))
            .where(Batch.state == "failed", Batch.created_at >= since)).one()
        last = self._session.execute(
            sa.select(Batch.error, Batch.created_at)
            .where(Batch.state == "failed", Batch.created_at >= since)
            .order_by(Batch.id.desc()).limit(1)).first()
        return FailedBatches(int(batches), int(documents), last[0] if last else None,
                             last[1] if last else None)

    def list(self, *, state: BatchState | None = None, limit: int = 100) -> builtins.list[BatchRecord]:
        query = sa.select(Batch).order_by(Batch.id.desc()).limit(limit)
        if state is not None:
            query = query.where(Batch.state == state)
        return [_batch(r) for r in self._session.scalars(query)]

"""The history of a document's status: revoked, suspended, reinstated, with reason and who."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import sqlalchemy as sa

from govchain.adapters.db.models import Document, StatusEvent, UTCDateTime
from govchain.adapters.db.repositories._base import _hex32, _insert_many, _one_of, _Repository
from govchain.domain.timefmt import now
from govchain.domain.vocabulary import STATUS_ACTIONS, StatusAction


@dataclass(frozen=True)
class StatusEventRecord:
    id: int
    document_id: str
    action: StatusAction
    reason: int | None
    actor: int | None
    at: datetime
    tx_hash: str | None


def _status_event(row: StatusEvent) -> StatusEventRecord:
    return StatusEventRecord(row.id, row.document_id, cast(StatusAction, row.action), row.reason,
                             row.actor, row.at, row.tx_hash)


class StatusEventRepository(_Repository):
    def add(self, document_id: str, action: StatusAction, *, actor: int | None = None,
            reason: int | None = None, tx_hash: bytes | str | None = None,
            at: datetime | None = None) -> StatusEventRecord:
        _one_of(action, STATUS_ACTIONS, "Aktion")
        row = StatusEvent(document_id=document_id, action=action, reason=reason, actor=actor,
                          at=at or now(),
                          tx_hash=_hex32(tx_hash, "Transaktion") if tx_hash is not None else None)
        self._session.add(row)
        self._flush()
        return _status_event(row)

    def add_many(self, document_ids: Sequence[str], action: StatusAction, *,
                 actor: int | None = None, tx_hash: bytes | str | None = None,
                 at: datetime | None = None) -> None:
        """The same event for many documents, in one statement."""
        _one_of(action, STATUS_ACTIONS, "Aktion")
        tx = _hex32(tx_hash, "Transaktion") if tx_hash is not None else None
        at = at or now()
        rows = [{"document_id": d, "action": action, "reason": None, "actor": actor, "at": at,
                 "tx_hash": tx} for d in document_ids]
        _insert_many(self._session, StatusEvent, rows)

    def add_for_batch(self, batch_id: int, action: StatusAction, *,
                      tx_hash: bytes | str | None = None, at: datetime | None = None) -> None:
        """The same event for every document anchored in the batch, in one statement (after
        DocumentRepository.mark_batch_anchored)."""
        _one_of(action, STATUS_ACTIONS, "Aktion")
        tx = _hex32(tx_hash, "Transaktion") if tx_hash is not None else None
        chosen = sa.select(Document.id, sa.literal(action, sa.String()),
                           sa.cast(sa.null(), sa.Integer()), sa.cast(sa.null(), sa.Integer()),
                           sa.literal(at or now(), UTCDateTime()),
                           sa.literal(tx, sa.String()) if tx else sa.cast(sa.null(), sa.String())) \
            .where(Document.batch_id == batch_id, Document.state == "anchored")
        self._session.execute(sa.insert(StatusEvent).from_select(
            ["document_id", "action", "reason", "actor", "at", "tx_hash"], chosen))

    def for_document(self, document_id: str) -> list[StatusEventRecord]:
        """The document's history, oldest first."""
        query = (sa.select(StatusEvent).where(StatusEvent.document_id == document_id)
                 .order_by(StatusEvent.at, StatusEvent.id))
        return [_status_event(r) for r in self._session.scalars(query)]

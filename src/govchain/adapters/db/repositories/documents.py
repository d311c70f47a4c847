"""Documents: stored pending, listed and searched, marked anchored or failed by batch."""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from govchain.adapters.db.models import Document
from govchain.adapters.db.repositories._base import (
    ANCHORED_CHANNEL,
    PENDING_CHANNEL,
    Page,
    _chunks,
    _hex32,
    _insert_many,
    _notify,
    _one_of,
    _page,
    _Repository,
)
from govchain.adapters.db.repositories.batches import _issued_from_batch
from govchain.domain.documents import SaltedDocument, facts_of
from govchain.domain.hashing import from_hex32, to_hex
from govchain.domain.merkle import leaf_of
from govchain.domain.pointers import iter_leaves
from govchain.domain.timefmt import now
from govchain.domain.vocabulary import LEDGER_STATUSES, DocumentState, LedgerStatus
from govchain.errors import InputError, RecordNotFoundError


@dataclass(frozen=True)
class DocumentRecord:
    """A municipality's document. ``salted`` is set while pending (or failed), ``document`` once
    anchored."""

    id: str
    ags: str
    usecase: str
    state: DocumentState
    ledger_status: LedgerStatus
    subject: dict[str, Any] = field(repr=False)
    document: dict[str, Any] | None = field(repr=False)
    salted: SaltedDocument | None = field(repr=False)
    target_hash: str
    merkle_root: str | None
    anchor_tx: str | None
    anchor_block: int | None
    anchored_at: datetime | None
    created_by: int | None
    created_at: datetime
    landlord_code: str | None = field(repr=False)
    valid_from: datetime
    valid_until: datetime | None
    account: str | None = None  # the issuer account named in the document
    batch_id: int | None = None  # the anchor batch, once the worker took the document


def _salted_to_json(salted: SaltedDocument) -> dict[str, Any]:
    return {"document": salted.document, "salts": salted.salts,
            "targetHash": to_hex(salted.target_hash)}


def _salted_from_json(value: Mapping[str, Any]) -> SaltedDocument:
    return SaltedDocument(dict(value["document"]), dict(value["salts"]),
                          from_hex32(value["targetHash"]))


def _document(row: Document) -> DocumentRecord:
    salted = _salted_from_json(row.salted) if row.salted is not None else None
    document = row.document
    if document is None and row.state == "anchored" and salted is not None:
        document = _issued_from_batch(row, salted)
    return DocumentRecord(
        id=row.id, ags=row.ags, usecase=row.usecase, state=cast(DocumentState, row.state),
        ledger_status=cast(LedgerStatus, row.ledger_status), subject=row.subject,
        document=document, salted=salted,
        target_hash=row.target_hash, merkle_root=row.merkle_root, anchor_tx=row.anchor_tx,
        anchor_block=row.anchor_block, anchored_at=row.anchored_at, created_by=row.created_by,
        created_at=row.created_at, landlord_code=row.landlord_code, valid_from=row.valid_from,
        valid_until=row.valid_until, account=row.account, batch_id=row.batch_id,
    )


def search_text_of(subject: Mapping[str, Any]) -> str:
    """The subject's leaf values, case-folded and joined by newlines: what a search matches."""
    values = [str(v) for _, v in iter_leaves(subject)
              if isinstance(v, str | int | float) and not isinstance(v, bool)]
    return "\n".join(values).casefold()


def _parse_document_time(value: Any, what: str) -> datetime:
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as err:
        raise InputError(f"{what} ist keine Zeitangabe: {value!r}") from err
    if dt.tzinfo is None:
        raise InputError(f"{what} hat keine Zeitzone: {value!r}")
    return dt


def _pending_row(salted: SaltedDocument, created_by: int | None, landlord_code: str | None,
                 at: datetime) -> dict[str, Any]:
    facts = facts_of(salted.document)
    subject, valid_until = facts.subject, facts.valid_until
    return {
        "id": facts.id, "ags": facts.ags, "usecase": facts.usecase, "state": "pending",
        "ledger_status": "none",
        "subject": subject, "search_text": search_text_of(subject), "document": None,
        "salted": _salted_to_json(salted), "target_hash": to_hex(salted.target_hash),
        "merkle_root": None, "anchor_tx": None, "anchor_block": None, "anchored_at": None,
        "created_by": created_by, "created_at": at, "landlord_code": landlord_code,
        "valid_from": _parse_document_time(facts.valid_from, "validFrom"),
        "valid_until": (_parse_document_time(valid_until, "validUntil")
                        if valid_until is not None else None),
        "account": str(facts.account) if facts.account else None, "batch_id": None,
        "status_list": facts.status_position[0] if facts.status_position else None,
        "status_index": facts.status_position[1] if facts.status_position else None,
        "leaf": to_hex(leaf_of(salted.target_hash)) if facts.status_position else None,
        "di_proof": None,
    }


_RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(DocumentRecord) if f.name != "salted")


class QueuedDocument(NamedTuple):
    """What the anchoring worker needs of a waiting document to build its batch."""

    id: str
    usecase: str
    target_hash: str
    created_at: datetime


class DocumentRepository(_Repository):
    def add_pending_many(self, items: Sequence[tuple[SaltedDocument, str | None]], *,
                         created_by: int | None, at: datetime | None = None
                         ) -> builtins.list[DocumentRecord]:
        """Stores salted documents that wait for their anchor, each with its landlord code (in
        canonical form, security.normalize_landlord_code), in one statement; returns the records
        as stored (no second read). Id, municipality (issuer.ags), issuer account, use case
        (credentialStatus.usecase), subject and validity are taken from each document itself."""
        if not items:
            return []
        at = at or now()
        rows = [_pending_row(salted, created_by, code, at) for salted, code in items]
        _insert_many(self._session, Document, rows)
        _notify(self._session, PENDING_CHANNEL)
        return [DocumentRecord(**{k: row[k] for k in _RECORD_FIELDS}, salted=salted)
                for row, (salted, _) in zip(rows, items, strict=True)]

    def _row(self, document_id: str) -> Document:
        row = self._session.get(Document, document_id)
        if row is None:
            raise RecordNotFoundError(f"Kein Dokument {document_id}")
        return row

    # -- the anchoring worker's queue -------------------------------------------------------

    def waiting_accounts(self) -> builtins.list[str]:
        """Accounts with documents waiting for a batch."""
        query = (sa.select(Document.account).distinct()
                 .where(Document.state == "pending", Document.batch_id.is_(None),
                        Document.account.is_not(None)))
        return [a for a in self._session.scalars(query) if a]

    def queue_head(self, account: str, limit: int) -> tuple[int, datetime | None]:
        """How many documents of `account` wait for a batch (counted up to `limit`) and when the
        oldest was stored: what the worker needs to know whether to open a batch yet."""
        first = (sa.select(Document.created_at)
                 .where(Document.state == "pending", Document.account == account,
                        Document.batch_id.is_(None))
                 .order_by(Document.created_at).limit(limit).subquery())
        count, oldest = self._session.execute(
            sa.select(sa.func.count(), sa.func.min(first.c.created_at))).one()
        return int(count), oldest

    def pending_summary(self) -> tuple[int, datetime | None]:
        """How many documents wait for their anchor, of every account, and when the oldest was
        stored (None: none waits): what /metrics reports."""
        count, oldest = self._session.execute(
            sa.select(sa.func.count(), sa.func.min(Document.created_at))
            .where(Document.state == "pending")).one()
        return int(count), oldest

    def queue_of(self, account: str, limit: int) -> builtins.list[QueuedDocument]:
        """The oldest documents of `account` waiting for a batch (at most `limit`)."""
        query = (sa.select(Document.id, Document.usecase, Document.target_hash,
                           Document.created_at)
                 .where(Document.state == "pending", Document.account == account,
                        Document.batch_id.is_(None))
                 .order_by(Document.created_at, Document.id).limit(limit))
        return [QueuedDocument(*r) for r in self._session.execute(query)]

    def ags_of(self, target_hash: bytes | str) -> str | None:
        """The municipality of the document with `target_hash` (a batch's: one account, one
        municipality)."""
        query = sa.select(Document.ags).where(
            Document.target_hash == _hex32(target_hash, "targetHash")).limit(1)
        return self._session.scalar(query)

    def target_hashes_of_batch(self, batch_id: int) -> builtins.list[str]:
        """The targetHashes of the documents still waiting for the batch's anchor that know their
        batch: those of batches opened before their members were recorded (migration 0005)."""
        query = sa.select(Document.target_hash).where(Document.batch_id == batch_id,
                                                      Document.state == "pending")
        return list(self._session.scalars(query))

    def _update_members(self, target_hashes: Sequence[bytes | str], values: dict[str, Any]
                        ) -> int:
        """Updates the pending documents with these targetHashes; returns how many."""
        hexes = [_hex32(h, "targetHash") for h in target_hashes]
        pending = Document.state == "pending"
        if self._session.connection().dialect.name == "postgresql":
            # one statement with an array (IN lists of thousands cost more to plan)
            array = sa.bindparam("hashes", hexes, type_=postgresql.ARRAY(sa.String))
            result = self._session.execute(sa.update(Document).where(
                Document.target_hash == sa.any_(array), pending).values(**values))
            return int(getattr(result, "rowcount", 0) or 0)
        changed = 0
        for chunk in _chunks(hexes):
            result = self._session.execute(sa.update(Document).where(
                Document.target_hash.in_(chunk), pending).values(**values))
            changed += int(getattr(result, "rowcount", 0) or 0)
        return changed

    def mark_batch_anchored(self, batch_id: int, target_hashes: Sequence[bytes | str], *,
                            merkle_root: bytes | str, tx_hash: bytes | str, block: int,
                            at: datetime) -> int:
        """Marks the batch's waiting members anchored (and in the batch), in one statement; each
        keeps its salted form and its proof is read from the batch's tree
        (BatchRepository.mark_anchored). Returns how many were waiting."""
        changed = self._update_members(target_hashes, {
            "state": "anchored", "batch_id": batch_id,
            "merkle_root": _hex32(merkle_root, "merkleRoot"),
            "anchor_tx": _hex32(tx_hash, "Transaktion"), "anchor_block": block,
            "anchored_at": at})
        _notify(self._session, ANCHORED_CHANNEL)
        return changed

    def mark_batch_failed(self, batch_id: int, target_hashes: Sequence[bytes | str]) -> int:
        """The batch's members could not be anchored; their salts stay for a later attempt."""
        changed = self._update_members(target_hashes, {"state": "failed", "batch_id": batch_id})
        _notify(self._session, ANCHORED_CHANNEL)
        return changed

    def states_of(self, document_ids: Sequence[str]) -> dict[str, DocumentState]:
        found: dict[str, DocumentState] = {}
        for chunk in _chunks(document_ids):
            query = sa.select(Document.id, Document.state).where(Document.id.in_(chunk))
            found.update({i: cast(DocumentState, s) for i, s in self._session.execute(query)})
        return found

    def count(self, *, state: DocumentState | None = None) -> int:
        return self._count(Document, [Document.state == state] if state else [])

    def get(self, document_id: str) -> DocumentRecord | None:
        row = self._session.get(Document, document_id)
        return _document(row) if row else None

    def list(self, *, ags: str | None = None, usecase: str | None = None,
             state: DocumentState | None = None, ledger_status: LedgerStatus | None = None,
             search: str | None = None, created_by: int | None = None, offset: int = 0,
             limit: int = 50) -> Page[DocumentRecord]:
        """Newest first. `search` matches documents whose subject values contain every word of
        it, without regard to case."""
        offset, limit = _page(offset, limit)
        conditions: list[sa.ColumnElement[bool]] = []
        if ags is not None:
            conditions.append(Document.ags == ags)
        if usecase is not None:
            conditions.append(Document.usecase == usecase)
        if created_by is not None:
            conditions.append(Document.created_by == created_by)
        if state is not None:
            conditions.append(Document.state == state)
        if ledger_status is not None:
            conditions.append(Document.ledger_status == ledger_status)
        for word in (search or "").casefold().split():
            conditions.append(Document.search_text.contains(word, autoescape=True))
        query = (sa.select(Document).where(*conditions)
                 .order_by(Document.created_at.desc(), Document.id.desc())
                 .offset(offset).limit(limit))
        items = [_document(r) for r in self._session.scalars(query)]
        return Page(items, self._count(Document, conditions))

    def by_landlord_code(self, code: str) -> DocumentRecord | None:
        """The landlord confirmation with this Zuordnungsmerkmal (canonical form)."""
        row = self._session.scalar(sa.select(Document).where(Document.landlord_code == code))
        return _document(row) if row else None

    def set_ledger_status(self, document_id: str, status: LedgerStatus) -> DocumentRecord:
        """Caches what the ledger answered about the document's status."""
        _one_of(status, LEDGER_STATUSES, "Status")
        row = self._row(document_id)
        row.ledger_status = status
        self._flush()
        return _document(row)

    # -- open standards: the Data Integrity proof and the status list positions -------------

    def di_proof_of(self, document_id: str) -> dict[str, Any] | None:
        return self._session.scalar(sa.select(Document.di_proof)
                                    .where(Document.id == document_id))

    def set_di_proof(self, document_id: str, proof: Mapping[str, Any]) -> None:
        """Keeps the document's Data Integrity proof (made once, when first asked for)."""
        self._session.execute(sa.update(Document).where(Document.id == document_id)
                              .values(di_proof=dict(proof)))
        self._flush()

    def status_positions(self, ags: str, list_no: int, leaves: Sequence[bytes]
                         ) -> dict[bytes, int]:
        """The positions in status list `list_no` of `ags` of the documents with these ledger
        leaves (those of other municipalities and lists are not in the answer)."""
        found: dict[bytes, int] = {}
        for chunk in _chunks([to_hex(bytes(x)) for x in leaves], 1000):
            rows = self._session.execute(
                sa.select(Document.leaf, Document.status_index)
                .where(Document.ags == ags, Document.status_list == list_no,
                       Document.leaf.in_(chunk)))
            for leaf, index in rows:
                found[from_hex32(leaf)] = int(index)
        return found

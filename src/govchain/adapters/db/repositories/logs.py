"""The audit log (who did what, never a secret) and the verification log of API keys."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa

from govchain.adapters.db.models import AuditEntry, VerificationEntry
from govchain.adapters.db.repositories._base import Page, _one_of, _page, _Repository
from govchain.domain.timefmt import now
from govchain.domain.vocabulary import ACTOR_KINDS, ActorKind
from govchain.errors import InputError


@dataclass(frozen=True)
class AuditRecord:
    id: int
    at: datetime
    actor: str
    actor_kind: ActorKind
    action: str
    target: str | None
    remote_addr: str | None
    detail: dict[str, Any]
    request_id: str | None = None


@dataclass(frozen=True)
class VerificationRecord:
    id: int
    api_key_id: int
    at: datetime
    document_id: str | None
    link_id: str | None
    result: str


def _audit(row: AuditEntry) -> AuditRecord:
    return AuditRecord(row.id, row.at, row.actor, cast(ActorKind, row.actor_kind), row.action,
                       row.target, row.remote_addr, row.detail, row.request_id)


def _verification(row: VerificationEntry) -> VerificationRecord:
    return VerificationRecord(row.id, row.api_key_id, row.at, row.document_id, row.link_id,
                              row.result)


# Keys that must never reach the audit log's detail, at any depth.
_SECRET_KEY = re.compile(r"pass(word)?|secret|token|ciphertext|api_?key$|key_hash", re.I)


def _check_no_secrets(value: Any, path: str = "detail") -> None:
    if isinstance(value, Mapping):
        for key, child in value.items():
            if _SECRET_KEY.search(str(key)):
                raise ValueError(f"{path}.{key}: no secrets in the audit log")
            _check_no_secrets(child, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for i, child in enumerate(value):
            _check_no_secrets(child, f"{path}[{i}]")


class AuditRepository(_Repository):
    """Append and read only: the database refuses to change or delete an entry."""

    def append(self, *, actor: str, actor_kind: ActorKind, action: str, target: str | None = None,
               remote_addr: str | None = None, detail: Mapping[str, Any] | None = None,
               at: datetime | None = None, request_id: str | None = None) -> AuditRecord:
        _one_of(actor_kind, ACTOR_KINDS, "Akteursart")
        _check_no_secrets(detail or {})
        row = AuditEntry(at=at or now(), actor=actor, actor_kind=actor_kind, action=action,
                         target=target, remote_addr=remote_addr, detail=dict(detail or {}),
                         request_id=request_id)
        self._session.add(row)
        self._flush()
        return _audit(row)

    def list(self, *, actor: str | None = None, actor_kind: ActorKind | None = None,
             action: str | None = None, target: str | None = None,
             since: datetime | None = None, until: datetime | None = None,
             offset: int = 0, limit: int = 100) -> Page[AuditRecord]:
        """Newest first; `since` inclusive, `until` exclusive."""
        offset, limit = _page(offset, limit)
        conditions: list[sa.ColumnElement[bool]] = []
        if actor is not None:
            conditions.append(AuditEntry.actor == actor)
        if actor_kind is not None:
            conditions.append(AuditEntry.actor_kind == actor_kind)
        if action is not None:
            conditions.append(AuditEntry.action == action)
        if target is not None:
            conditions.append(AuditEntry.target == target)
        if since is not None:
            conditions.append(AuditEntry.at >= since)
        if until is not None:
            conditions.append(AuditEntry.at < until)
        query = (sa.select(AuditEntry).where(*conditions)
                 .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                 .offset(offset).limit(limit))
        items = [_audit(r) for r in self._session.scalars(query)]
        return Page(items, self._count(AuditEntry, conditions))


class VerificationLogRepository(_Repository):
    """The trail of institutional checks; append and read only, like the audit log."""

    def append(self, *, api_key_id: int, result: str, document_id: str | None = None,
               link_id: str | None = None, at: datetime | None = None) -> VerificationRecord:
        if document_id is None and link_id is None:
            raise InputError("Eine Prüfung betrifft ein Dokument oder einen Prüflink")
        row = VerificationEntry(api_key_id=api_key_id, at=at or now(), document_id=document_id,
                                link_id=link_id, result=result)
        self._session.add(row)
        self._flush()
        return _verification(row)

    def list(self, *, api_key_id: int | None = None, since: datetime | None = None,
             until: datetime | None = None, offset: int = 0, limit: int = 100
             ) -> Page[VerificationRecord]:
        """Newest first; `since` inclusive, `until` exclusive."""
        offset, limit = _page(offset, limit)
        conditions: list[sa.ColumnElement[bool]] = []
        if api_key_id is not None:
            conditions.append(VerificationEntry.api_key_id == api_key_id)
        if since is not None:
            conditions.append(VerificationEntry.at >= since)
        if until is not None:
            conditions.append(VerificationEntry.at < until)
        query = (sa.select(VerificationEntry).where(*conditions)
                 .order_by(VerificationEntry.at.desc(), VerificationEntry.id.desc())
                 .offset(offset).limit(limit))
        items = [_verification(r) for r in self._session.scalars(query)]
        return Page(items, self._count(VerificationEntry, conditions))

"""Verification links: the sealed disclosed document under a lookup value derived from the token."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from govchain.adapters.db.models import Link
from govchain.adapters.db.repositories._base import _Repository
from govchain.domain.timefmt import now
from govchain.errors import RecordNotFoundError


@dataclass(frozen=True)
class LinkRecord:
    id: str
    document_id: str
    token_lookup: str = field(repr=False)
    ciphertext: bytes = field(repr=False)
    hidden_paths: tuple[str, ...]
    created_by: int | None
    created_at: datetime
    expires_at: datetime | None
    withdrawn_at: datetime | None

    def usable_at(self, at: datetime) -> bool:
        """Neither withdrawn nor expired at `at`."""
        return self.withdrawn_at is None and (self.expires_at is None or at < self.expires_at)


def _link(row: Link) -> LinkRecord:
    return LinkRecord(row.id, row.document_id, row.token_lookup, bytes(row.ciphertext),
                      tuple(row.hidden_paths), row.created_by, row.created_at, row.expires_at,
                      row.withdrawn_at)


class LinkRepository(_Repository):
    def add(self, *, link_id: str, document_id: str, token_lookup: str, ciphertext: bytes,
            hidden_paths: Sequence[str] = (), created_by: int | None = None,
            expires_at: datetime | None = None, at: datetime | None = None) -> LinkRecord:
        """Stores a link made with security.link_lookup and security.seal_link (never the token)."""
        row = Link(id=link_id, document_id=document_id, token_lookup=token_lookup,
                   ciphertext=ciphertext, hidden_paths=list(hidden_paths), created_by=created_by,
                   created_at=at or now(), expires_at=expires_at, withdrawn_at=None)
        self._session.add(row)
        self._flush()
        return _link(row)

    def by_id(self, link_id: str) -> LinkRecord | None:
        row = self._session.get(Link, link_id)
        return _link(row) if row else None

    def by_lookup(self, token_lookup: str) -> LinkRecord | None:
        row = self._session.scalar(sa.select(Link).where(Link.token_lookup == token_lookup))
        return _link(row) if row else None

    def withdraw(self, link_id: str, at: datetime | None = None) -> LinkRecord:
        """Withdraws the link for good; a second call keeps the first time."""
        row = self._session.get(Link, link_id)
        if row is None:
            raise RecordNotFoundError(f"Keinen Prüflink {link_id}")
        if row.withdrawn_at is None:
            row.withdrawn_at = at or now()
            self._flush()
        return _link(row)

    def for_document(self, document_id: str) -> list[LinkRecord]:
        query = (sa.select(Link).where(Link.document_id == document_id)
                 .order_by(Link.created_at, Link.id))
        return [_link(r) for r in self._session.scalars(query)]

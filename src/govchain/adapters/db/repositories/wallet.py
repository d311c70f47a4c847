"""The citizen's wallet: OpenID4VCI credential offers and OpenID4VP presentation requests.

Offers keep lookup values, never the pre-authorized code or access token themselves; changes of
state are conditional updates (``UPDATE … WHERE state = …``), so two wallets racing with the same
code cannot both get a token, nor one token two credentials."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from govchain.adapters.db.models import PresentationRequest, WalletOffer
from govchain.adapters.db.repositories._base import _Repository
from govchain.domain.timefmt import now


@dataclass(frozen=True)
class OfferRecord:
    id: str
    document_id: str
    code_lookup: str = field(repr=False)
    pin_hash: str = field(repr=False)
    state: str
    failed_attempts: int
    token_lookup: str | None = field(repr=False)
    token_expires_at: datetime | None
    created_by: int | None
    created_at: datetime
    expires_at: datetime
    issued_at: datetime | None
    holder_key: str | None


def _offer(row: WalletOffer) -> OfferRecord:
    return OfferRecord(row.id, row.document_id, row.code_lookup, row.pin_hash, row.state,
                       row.failed_attempts, row.token_lookup, row.token_expires_at,
                       row.created_by, row.created_at, row.expires_at, row.issued_at,
                       row.holder_key)


@dataclass(frozen=True)
class PresentationRecord:
    id: str
    usecase: str
    nonce: str
    state_lookup: str = field(repr=False)
    created_at: datetime
    expires_at: datetime
    answered_at: datetime | None
    result: dict[str, Any] | None = field(repr=False)


def _request(row: PresentationRequest) -> PresentationRecord:
    return PresentationRecord(row.id, row.usecase, row.nonce, row.state_lookup, row.created_at,
                              row.expires_at, row.answered_at, row.result)


class WalletRepository(_Repository):
    # -- offers ----------------------------------------------------------------------------
    def add_offer(self, *, offer_id: str, document_id: str, code_lookup: str, pin_hash: str,
                  expires_at: datetime, created_by: int | None, at: datetime | None = None
                  ) -> OfferRecord:
        row = WalletOffer(id=offer_id, document_id=document_id, code_lookup=code_lookup,
                          pin_hash=pin_hash, state="offered", failed_attempts=0,
                          token_lookup=None, token_expires_at=None, created_by=created_by,
                          created_at=at or now(), expires_at=expires_at, issued_at=None,
                          holder_key=None)
        self._session.add(row)
        self._flush()
        return _offer(row)

    def offer_by_code(self, code_lookup: str) -> OfferRecord | None:
        row = self._session.scalar(sa.select(WalletOffer)
                                   .where(WalletOffer.code_lookup == code_lookup))
        return _offer(row) if row else None

    def offer_by_token(self, token_lookup: str) -> OfferRecord | None:
        row = self._session.scalar(sa.select(WalletOffer)
                                   .where(WalletOffer.token_lookup == token_lookup))
        return _offer(row) if row else None

    def offers_for(self, document_id: str) -> list[OfferRecord]:
        query = (sa.select(WalletOffer).where(WalletOffer.document_id == document_id)
                 .order_by(WalletOffer.created_at, WalletOffer.id))
        return [_offer(r) for r in self._session.scalars(query)]

    def count_failed_pin(self, offer_id: str, lock_after: int) -> int:
        """Counts a wrong PIN (atomically); at `lock_after` failures the offer is locked.
        Returns the new count."""
        self._session.execute(
            sa.update(WalletOffer).where(WalletOffer.id == offer_id)
            .values(failed_attempts=WalletOffer.failed_attempts + 1))
        self._session.execute(
            sa.update(WalletOffer)
            .where(WalletOffer.id == offer_id, WalletOffer.state == "offered",
                   WalletOffer.failed_attempts >= lock_after)
            .values(state="locked"))
        count = self._session.scalar(sa.select(WalletOffer.failed_attempts)
                                     .where(WalletOffer.id == offer_id))
        return int(count or 0)

    def grant_token(self, offer_id: str, token_lookup: str, expires_at: datetime) -> bool:
        """offered → token, if still offered (the code works once). False if it was not."""
        done = self._session.execute(
            sa.update(WalletOffer)
            .where(WalletOffer.id == offer_id, WalletOffer.state == "offered")
            .values(state="token", token_lookup=token_lookup, token_expires_at=expires_at))
        return bool(getattr(done, "rowcount", 0) == 1)

    def mark_issued(self, offer_id: str, holder_key: str, at: datetime) -> bool:
        """token → issued, if the token was not used yet. False if it was."""
        done = self._session.execute(
            sa.update(WalletOffer)
            .where(WalletOffer.id == offer_id, WalletOffer.state == "token")
            .values(state="issued", issued_at=at, holder_key=holder_key))
        return bool(getattr(done, "rowcount", 0) == 1)

    # -- presentation requests ---------------------------------------------------------------
    def add_request(self, *, request_id: str, usecase: str, nonce: str, state_lookup: str,
                    expires_at: datetime, at: datetime | None = None) -> PresentationRecord:
        row = PresentationRequest(id=request_id, usecase=usecase, nonce=nonce,
                                  state_lookup=state_lookup, created_at=at or now(),
                                  expires_at=expires_at, answered_at=None, result=None)
        self._session.add(row)
        self._flush()
        return _request(row)

    def request(self, request_id: str) -> PresentationRecord | None:
        row = self._session.get(PresentationRequest, request_id)
        return _request(row) if row else None

    def answer(self, request_id: str, result: dict[str, Any], at: datetime) -> bool:
        """Stores the answer, if the request had none yet (a response is taken once)."""
        done = self._session.execute(
            sa.update(PresentationRequest)
            .where(PresentationRequest.id == request_id,
                   PresentationRequest.answered_at.is_(None))
            .values(answered_at=at, result=result))
        return bool(getattr(done, "rowcount", 0) == 1)

    def purge_requests(self, before: datetime) -> int:
        """Deletes requests (and the claims of their answers) that expired before `before`."""
        done = self._session.execute(
            sa.delete(PresentationRequest).where(PresentationRequest.expires_at < before))
        return int(getattr(done, "rowcount", 0))

"""Request and response bodies of the documents, links and lookup API (camelCase JSON)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

from govchain.adapters.db.repositories import DocumentRecord, StatusEventRecord
from govchain.domain.vocabulary import DocumentState, LedgerStatus, StatusAction
from govchain.services import CreatedLink


class CamelModel(BaseModel):
    """Python names inside, camelCase on the wire."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


_RFC3339 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
                      r"(Z|[+-][0-9]{2}:[0-9]{2})")


def _rfc3339_text(value: object) -> object:
    """Only an RFC 3339 date-time with offset: pydantic would take a number (or a string of
    digits) as Unix time and a bare date as midnight, guessing what the caller meant."""
    if isinstance(value, datetime):  # built in Python, not read from a request
        return value
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError("muss Datum und Uhrzeit mit Zeitzone als Text sein, "
                         "z. B. 2026-05-01T10:30:00+02:00")
    return value


# A point in time in a request body: text as RFC 3339 says, never a number.
Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text)]


class IssueIn(CamelModel):
    usecase: str = Field(min_length=1, max_length=100)
    subject: dict[str, Any]
    valid_from: Timestamp | None = None
    valid_until: Timestamp | None = None
    municipality: str | None = Field(default=None, description="AGS der Meldebehörde (Wohnungsgeber)")


class BulkItemIn(CamelModel):
    subject: dict[str, Any]
    valid_from: Timestamp | None = None
    valid_until: Timestamp | None = None


class BulkIssueIn(CamelModel):
    usecase: str = Field(min_length=1, max_length=100)
    items: list[BulkItemIn] = Field(min_length=1, max_length=10_000)


class FieldErrorOut(CamelModel):
    loc: str
    msg: str


class BulkAccepted(CamelModel):
    index: int
    id: str


class BulkRejected(CamelModel):
    index: int
    errors: list[FieldErrorOut]


class BulkIssuedOut(CamelModel):
    accepted: list[BulkAccepted]
    rejected: list[BulkRejected]
    status: DocumentState = Field(description="pending, or anchored where wait=true was met")


class ReasonIn(CamelModel):
    reason: str | int | None = Field(default=None, description="Grundcode oder Grund (deutsch)")


class LinkIn(CamelModel):
    expires_at: Timestamp | None = None
    hide: list[str] = Field(default_factory=list, max_length=200,
                            description="Zu verbergende Felder des credentialSubject")


class LinkOut(CamelModel):
    id: str
    url: str
    expires_at: datetime | None

    @classmethod
    def of(cls, link: CreatedLink) -> LinkOut:
        return cls(id=link.id, url=link.url, expires_at=link.expires_at)


class DocumentSummary(CamelModel):
    id: str
    usecase: str
    state: DocumentState
    ledger_status: LedgerStatus
    created_at: datetime
    valid_from: datetime
    valid_until: datetime | None

    @classmethod
    def of(cls, record: DocumentRecord) -> DocumentSummary:
        return cls(id=record.id, usecase=record.usecase, state=record.state,
                   ledger_status=record.ledger_status, created_at=record.created_at,
                   valid_from=record.valid_from, valid_until=record.valid_until)


class DocumentPage(CamelModel):
    items: list[DocumentSummary]
    total: int


class EventOut(CamelModel):
    action: StatusAction
    reason: int | None
    at: datetime
    tx_hash: str | None

    @classmethod
    def of(cls, event: StatusEventRecord) -> EventOut:
        return cls(action=event.action, reason=event.reason, at=event.at, tx_hash=event.tx_hash)


class DocumentDetail(DocumentSummary):
    document: dict[str, Any] | None
    events: list[EventOut] = Field(default_factory=list)


class IssuedOut(CamelModel):
    id: str
    status: DocumentState
    document: dict[str, Any] | None
    landlord_code: str | None = None
    link: LinkOut | None = None


class LookupOut(CamelModel):
    document: dict[str, Any]
    result: dict[str, Any]

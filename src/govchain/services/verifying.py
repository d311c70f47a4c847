"""Verifying a document against the ledger, and looking one up by its printed code."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from govchain.adapters.context import Context
from govchain.adapters.db import UnitOfWork
from govchain.adapters.db.repositories import DocumentRecord
from govchain.domain.security import (
    normalize_landlord_code,
)
from govchain.domain.timefmt import parse_time
from govchain.domain.verification import VerificationResult, unverifiable, verify_document
from govchain.errors import (
    LedgerUnavailableError,
    RecordNotFoundError,
)
from govchain.services.people import Actor, require_role


def verify(ctx: Context, document: Mapping[str, Any], at: datetime | str | None = None
           ) -> VerificationResult:
    when = parse_time(at) if isinstance(at, str) else at
    try:
        reader = ctx.reader
    except LedgerUnavailableError as err:
        return unverifiable(document, str(err), when)
    return verify_document(document, ledger=reader, usecases=ctx.usecases, at=when)


def lookup_code(ctx: Context, uow: UnitOfWork, actor: Actor, code: str
                ) -> tuple[DocumentRecord, VerificationResult]:
    """A clerk of the receiving municipality finds a landlord confirmation by its code."""
    require_role(actor, "clerk")
    record = uow.documents.by_landlord_code(normalize_landlord_code(code))
    if record is None or record.ags != actor.ags or record.document is None:
        raise RecordNotFoundError("Kein Dokument mit diesem Zuordnungsmerkmal für Ihre Kommune")
    return record, verify(ctx, record.document)

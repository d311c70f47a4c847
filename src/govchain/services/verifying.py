"""Verifying a document against the ledger, and looking one up by its printed code."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from govchain.adapters import metrics
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
from govchain.services import credentials
from govchain.services.people import Actor, require_role


def verify(ctx: Context, document: Mapping[str, Any], at: datetime | str | None = None
           ) -> VerificationResult:
    when = parse_time(at) if isinstance(at, str) else at
    try:
        reader = ctx.reader
    except LedgerUnavailableError as err:
        result = unverifiable(document, str(err), when)
    else:
        result = verify_document(document, ledger=reader, usecases=ctx.usecases, at=when,
                                 jsonld_loader=credentials.document_loader(ctx))
    metrics.verification(result.status)
    return result


def lookup_code(ctx: Context, uow: UnitOfWork, actor: Actor, code: str
                ) -> tuple[DocumentRecord, VerificationResult]:
    """A clerk of the receiving municipality finds a landlord confirmation by its code."""
    require_role(actor, "clerk")
    record = uow.documents.by_landlord_code(normalize_landlord_code(code))
    if record is None or record.ags != actor.ags or record.document is None:
        raise RecordNotFoundError("Kein Dokument mit diesem Zuordnungsmerkmal für Ihre Kommune")
    return record, verify(ctx, record.document)


def record_check(uow: UnitOfWork, api_key_id: int, result: VerificationResult, *,
                 document_id: str | None, link_id: str | None = None) -> bool:
    """Records a check made with an institutional API key in that key's verification log (and
    when the key was last used). A check that names neither a document nor a link is answered
    but not recorded: the log needs something to point at. True if recorded."""
    if not document_id and link_id is None:
        return False
    uow.verification_log.append(api_key_id=api_key_id, result=str(result.status),
                                link_id=link_id,
                                document_id=document_id[:80] if document_id else None)
    uow.api_keys.touch(api_key_id)
    return True

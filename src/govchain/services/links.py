"""Sharing a document: selective disclosure, verification links (created, opened, withdrawn) and
the PDF certificate that carries one."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from govchain.adapters import metrics
from govchain.adapters.context import Context
from govchain.adapters.db import UnitOfWork
from govchain.adapters.db.repositories import DocumentRecord
from govchain.domain.disclosure import disclose
from govchain.domain.documents import usecase_id_of
from govchain.domain.hashing import canonical_json
from govchain.domain.security import (
    format_link_code,
    link_lookup,
    new_link_token,
    open_link,
    seal_link,
)
from govchain.domain.timefmt import de, now
from govchain.domain.usecases import UseCaseRegistry
from govchain.domain.verification import (
    LINK_EXPIRED,
    LINK_UNKNOWN,
    LINK_WITHDRAWN,
    Status,
    VerificationResult,
    iso,
    link_result,
    with_link_check,
)
from govchain.errors import (
    InputError,
    LinkTokenError,
    RecordNotFoundError,
)
from govchain.services import audit
from govchain.services.audit import AuditAction
from govchain.services.people import Actor, get_document_for
from govchain.services.verifying import verify


@dataclass(frozen=True)
class CreatedLink:
    """A new verification link; the token is shown once and never stored."""

    id: str
    token: str
    url: str
    expires_at: datetime | None


def disclose_document(usecases: UseCaseRegistry, document: Mapping[str, Any], hide: Sequence[str]
                      ) -> dict[str, Any]:
    """`document` with the `hide` fields hidden, refusing the fields its use case never lets a
    holder hide (usecase.json ``neverHidden``: without them a verifier cannot answer)."""
    usecase_id = usecase_id_of(document)
    if usecase_id is None:
        raise InputError("Die Dokumentart (credentialStatus.usecase) fehlt")
    return disclose(document, hide, protected=usecases.get(usecase_id).protected_fields)


LINK_MAX_LIFETIME = timedelta(days=36525)


def create_link(ctx: Context, uow: UnitOfWork, document_id: str, *, base_url: str,
                hide: Sequence[str] = (), expires_at: datetime | None = None,
                created_by: int | None = None) -> CreatedLink:
    """Shares an anchored document (optionally with hidden fields) behind a capability URL.

    The database keeps only a lookup value derived from the token and the disclosed document
    sealed with AES-GCM under a key derived from the token: a copy of it reveals no personal data
    and no usable link.
    """
    record = uow.documents.get(document_id)
    if record is None or record.document is None:
        raise InputError(f"Kein verankertes Dokument {document_id}")
    if expires_at is not None and expires_at <= now():
        raise InputError("Das Ablaufdatum des Links liegt in der Vergangenheit")
    if expires_at is not None and expires_at > now() + LINK_MAX_LIFETIME:
        # compared, never computed with: a year-9999 expiry cannot overflow on its way to the DB
        raise InputError("Das Ablaufdatum des Links liegt mehr als 100 Jahre in der Zukunft")
    shown = disclose_document(ctx.usecases, record.document, hide) if hide else record.document
    token = new_link_token()
    link_id = uuid.uuid4().hex
    sealed = seal_link(token, link_id, canonical_json(shown))
    uow.links.add(link_id=link_id, document_id=document_id, token_lookup=link_lookup(token),
                  ciphertext=sealed, hidden_paths=list(hide), created_by=created_by,
                  expires_at=expires_at)
    return CreatedLink(link_id, token, f"{base_url.rstrip('/')}/v/{token}", expires_at)


@dataclass(frozen=True)
class LinkVerification:
    result: VerificationResult
    document: dict[str, Any] | None  # the disclosed document, when the link is usable
    link_id: str | None


def _refused_link(result: VerificationResult, document: None, link_id: str | None
                  ) -> LinkVerification:
    """A link that cannot be opened (unknown, withdrawn, expired): counted like a verification
    (a usable link's document is counted by `verify`)."""
    metrics.verification(result.status)
    return LinkVerification(result, document, link_id)


def verify_link(ctx: Context, uow: UnitOfWork, token: str, at: datetime | None = None
                ) -> LinkVerification:
    """Opens a link and verifies the document behind it; an expired, withdrawn or unknown link
    gives a result that says so."""
    when = at or now()
    try:
        link = uow.links.by_lookup(link_lookup(token))
    except LinkTokenError:
        link = None
    if link is None:
        return _refused_link(link_result(Status.INVALID, "Diesen Prüflink gibt es nicht.", when,
                                         why=LINK_UNKNOWN, code="link.unknown"), None, None)
    if link.withdrawn_at is not None:
        return _refused_link(link_result(
            Status.INVALID, f"Der Prüflink wurde am {de(link.withdrawn_at)} zurückgezogen.", when,
            why=LINK_WITHDRAWN, code="link.withdrawn", params={"at": iso(link.withdrawn_at)}),
            None, link.id)
    if link.expires_at is not None and when >= link.expires_at:
        return _refused_link(link_result(
            Status.EXPIRED, f"Der Prüflink ist am {de(link.expires_at)} abgelaufen.", when,
            why=LINK_EXPIRED, code="link.expired", params={"at": iso(link.expires_at)}),
            None, link.id)
    document = json.loads(open_link(token, link.id, link.ciphertext))
    result = verify(ctx, document, when)
    if link.expires_at is None:
        result = with_link_check(result, "Prüflink gültig.", code="link.valid")
    else:
        result = with_link_check(result, f"Prüflink gültig bis {de(link.expires_at)}.",
                                 code="link.valid_until", params={"until": iso(link.expires_at)})
    return LinkVerification(result, document, link.id)


def withdraw_link(uow: UnitOfWork, link_id: str) -> None:
    uow.links.withdraw(link_id)


def create_link_for(ctx: Context, uow: UnitOfWork, actor: Actor, document_id: str, *,
                    base_url: str, hide: Sequence[str] = (), expires_at: datetime | None = None,
                    purpose: str | None = None) -> CreatedLink:
    """A verification link of a document the actor may see; `purpose` goes into the audit entry
    (the PDF's link: "certificate")."""
    get_document_for(uow, actor, document_id)
    link = create_link(ctx, uow, document_id, base_url=base_url, hide=hide,
                       expires_at=expires_at, created_by=actor.user_id)
    detail: dict[str, Any] = {"document": document_id, "hidden": list(hide)}
    if purpose:
        detail["purpose"] = purpose
    audit.record(uow, actor.who, AuditAction.LINK_CREATE, link.id, detail)
    return link


def download_name(record: DocumentRecord) -> str:
    """A file name for the document's downloads, without extension, e.g.
    gefaehrlicher-hund-db0f7a99 (no colons of the urn:uuid: id in a file name)."""
    return f"{record.usecase}-{record.id.rsplit(':', 1)[-1][:8]}"


def certificate_for(ctx: Context, uow: UnitOfWork, actor: Actor, document_id: str, *,
                    base_url: str, lang: str = "de") -> tuple[DocumentRecord, bytes]:
    """The PDF certificate of a document the actor may see, with a fresh verification link
    (valid until the document's validUntil, audited as the certificate's), for the pages and the
    API alike; InputError while the document waits for its anchor. The caller commits."""
    # fpdf2 and segno (≈0.4 s to import) load with the first PDF asked for, not with every process.
    from govchain.presentation.pdf import render_certificate

    record = get_document_for(uow, actor, document_id)
    if record.document is None:
        raise InputError("Das Dokument ist noch nicht verankert")
    until = record.valid_until if record.valid_until and record.valid_until > now() else None
    link = create_link_for(ctx, uow, actor, record.id, base_url=base_url, expires_at=until,
                           purpose="certificate")
    pdf = render_certificate(record.document, ctx.usecases.get(record.usecase),
                             verify_url=link.url, link_code=format_link_code(link.token),
                             lang=lang, anchored_at=record.anchored_at)
    return record, pdf


# The tenant registers within two weeks of moving in (§17 Abs. 1 BMG) and the registration office
# may check the confirmation later; three months cover late registrations without leaving a link
# to a personal document open for good.
LANDLORD_LINK_LIFETIME = timedelta(days=92)


def share_landlord_confirmation(ctx: Context, uow: UnitOfWork, actor: Actor, document_id: str,
                                *, base_url: str) -> tuple[DocumentRecord, CreatedLink | None]:
    """A landlord's confirmation as it stands, with the verification link for the tenant once it
    is anchored (None while it waits, and for anyone but a landlord)."""
    record = get_document_for(uow, actor, document_id)
    if actor.role != "landlord" or record.state != "anchored":
        return record, None
    return record, create_link_for(ctx, uow, actor, record.id, base_url=base_url,
                                   expires_at=now() + LANDLORD_LINK_LIFETIME)


def withdraw_link_for(uow: UnitOfWork, actor: Actor, link_id: str) -> None:
    link = uow.links.by_id(link_id)
    try:
        if link is None:
            raise RecordNotFoundError(link_id)
        get_document_for(uow, actor, link.document_id)
    except RecordNotFoundError:
        # The same answer for a link of a document the actor may not see as for no link at all:
        # neither its existence nor its document's id leaks.
        raise RecordNotFoundError(f"Kein Link {link_id}") from None
    withdraw_link(uow, link_id)
    audit.record(uow, actor.who, AuditAction.LINK_WITHDRAW, link_id)

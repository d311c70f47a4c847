"""Issuing: one request validated against the use case and the municipality's admission, salted,
stored pending for the anchoring pipeline (single, bulk, or anchored at once for the demo)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from govchain.adapters import metrics
from govchain.adapters.context import Context
from govchain.adapters.db import UnitOfWork
from govchain.adapters.db.repositories import DocumentRecord
from govchain.domain.documents import (
    AnchorRef,
    IssuerRef,
    SaltedDocument,
    declaration_evidence,
    finish_document,
    make_batch,
    new_document,
    salt_document,
)
from govchain.domain.ledger_view import Municipality
from govchain.domain.pointers import parse_pointer
from govchain.domain.security import (
    new_landlord_code,
)
from govchain.domain.timefmt import now
from govchain.domain.usecases import UseCase
from govchain.domain.vocabulary import Role
from govchain.errors import (
    InputError,
    PermissionDeniedError,
    ValidationError,
)
from govchain.services import audit, credentials
from govchain.services.audit import AuditAction
from govchain.services.people import Actor, require_role
from govchain.services.signers import issuer_address, issuer_signer, registry_view


def _with_value(subject: Mapping[str, Any], pointer: str, value: str) -> dict[str, Any]:
    copy_ = json.loads(json.dumps(subject))
    *parents, last = parse_pointer(pointer)
    node = copy_
    for token in parents:
        node = node.setdefault(token, {})
    node[last] = value
    return dict(copy_)

def require_submitter(role: Role, usecase: UseCase) -> None:
    """Who may submit a document of a use case: the roles in its `submitters` (usecase.json)."""
    if role not in usecase.submitters:
        raise PermissionDeniedError(f"„{usecase.title['de']}“ kann nicht von der Rolle "
                                    f"„{role}“ eingereicht werden")


def submittable_usecases(ctx: Context, role: Role) -> list[UseCase]:
    """The use cases a role may submit, whatever the municipality."""
    return [uc for uc in ctx.usecases if role in uc.submitters]



@dataclass(frozen=True)
class IssueRequest:
    subject: Mapping[str, Any]
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    landlord_code: str | None = None  # the Zuordnungsmerkmal of a landlord confirmation
    # (role, username) of the signed-in account that submitted it; a declaration records it
    submitted_by: tuple[str, str] | None = None


def admission_problem(municipality: Municipality, usecase: UseCase) -> str | None:
    """Why the municipality may not issue documents of this type now, in German; None if it
    may. The same conditions as the contract's `authorizeAnchor` (but the signing account)."""
    if not municipality.admitted:
        return f"Die Kommune mit AGS {municipality.ags} ist nicht zugelassen"
    if not municipality.active:
        return (f"{municipality.name} ist derzeit gesperrt und kann keine Dokumente ausstellen "
                "oder entgegennehmen")
    if usecase.doc_type not in municipality.doc_types:
        return f"{municipality.name} ist für „{usecase.title['de']}“ nicht zugelassen"
    return None


def require_admitted(ctx: Context, ags: str, usecase: UseCase) -> Municipality:
    """Refuses (PermissionDeniedError) unless the municipality, as the registry view sees it, is
    admitted, active and admitted for the use case: checked before anything is stored, so a
    document the contract would refuse to anchor is never accepted (no personal data kept, no
    Zuordnungsmerkmal handed out, no batch that ends `failed`)."""
    if not re.fullmatch(r"[0-9]{8}", ags):
        raise InputError(f"Ungültiger AGS {ags!r}: 8 Ziffern erwartet (z. B. 05334002)")
    municipality = registry_view(ctx).municipality(ags)
    problem = admission_problem(municipality, usecase)
    if problem is not None:
        raise PermissionDeniedError(problem)
    return municipality


def admitted_usecases(ctx: Context, ags: str, role: Role = "clerk") -> list[UseCase]:
    """The use cases the municipality may issue now and `role` may submit: what its forms offer."""
    municipality = registry_view(ctx).municipality(ags)
    return [uc for uc in submittable_usecases(ctx, role)
            if admission_problem(municipality, uc) is None]


def request_errors(usecase: UseCase, request: IssueRequest, at: datetime
                   ) -> list[tuple[str, str]]:
    """Everything wrong with one request, field by field: the subject against its schema and
    plausible years, the validity dates against the use case's limits (validityLimits)."""
    return usecase.field_errors(request.subject) + usecase.validity_limits.errors(
        request.valid_from, request.valid_until, at)


def _validate_all(usecase: UseCase, requests: Sequence[IssueRequest]) -> None:
    if not requests:
        raise InputError("Keine Dokumente zum Ausstellen")
    errors: list[tuple[str, str]] = []
    at = now()
    for i, req in enumerate(requests):
        prefix = f"[{i}]" if len(requests) > 1 else ""
        errors += [(prefix + path, msg) for path, msg in request_errors(usecase, req, at)]
    if errors:
        raise ValidationError(f"Ungültige Angaben für „{usecase.title['de']}“", errors)


def salt_documents(ctx: Context, ags: str, usecase: UseCase, requests: Sequence[IssueRequest],
                   account: str | None = None, *,
                   status: Sequence[Sequence[Mapping[str, Any]]] | None = None
                   ) -> list[SaltedDocument]:
    """The documents for already validated requests, salted, naming the issuing account and
    the municipality's DID, each with its status list entries if given (`status`, one list per
    request; documents anchored without records, as by the demo, have none)."""
    signer_address = issuer_address(ctx, ags, account)
    municipality = registry_view(ctx).municipality(ags)
    issuer = IssuerRef(name=municipality.name, ags=ags, account=signer_address,
                       chain_id=ctx.deployment.chain_id,
                       registry=ctx.deployment.document_registry,
                       did=credentials.did_of(ctx, ags))
    if status is None:
        status = [[] for _ in requests]
    issued_at = now()
    salted = []
    for req, entries in zip(requests, status, strict=True):
        valid_from = req.valid_from or issued_at
        valid_until = req.valid_until
        if valid_until is None and usecase.default_validity is not None:
            valid_until = valid_from + usecase.default_validity
        evidence = [declaration_evidence(
            declared_by=usecase.declaration.declared_by, received_by=issuer,
            received_at=issued_at, submitted_by=req.submitted_by)] if usecase.declaration else []
        salted.append(salt_document(new_document(
            credential_type=usecase.credential_type, usecase_id=usecase.id,
            subject=req.subject, issuer=issuer, valid_from=valid_from, valid_until=valid_until,
            evidence=evidence, context_url=ctx.context_url, status_entries=entries)))
    return salted


def accept_documents(ctx: Context, uow: UnitOfWork, ags: str, usecase_id: str,
                     requests: Sequence[IssueRequest], account: str | None = None, *,
                     created_by: int | None = None) -> list[DocumentRecord]:
    """Validates every request and stores the documents as pending (the caller commits); the
    anchoring worker (govchain.pipeline.anchoring) anchors them in its next batch.

    Nothing is stored unless every subject is valid; the error names each request and field.
    """
    usecase = ctx.usecases.get(usecase_id)
    require_admitted(ctx, ags, usecase)
    _validate_all(usecase, requests)
    status = credentials.status_entries(ctx, uow, ags, len(requests))
    salted = salt_documents(ctx, ags, usecase, requests, account, status=status)
    records = uow.documents.add_pending_many(
        [(s, r.landlord_code) for s, r in zip(salted, requests, strict=True)],
        created_by=created_by)
    uow.status_events.add_many([r.id for r in records], "issued", actor=created_by)
    uow.after_commit(lambda: metrics.documents_accepted(usecase_id, ags, len(records)))
    return records


def issue_documents(ctx: Context, ags: str, usecase_id: str, requests: Sequence[IssueRequest],
                    account: str | None = None) -> list[dict[str, Any]]:
    """Validates every request, then anchors all of them under one Merkle root at once, keeping
    no records: the path of `govchain demo` and of programs that hold their own documents.

    Nothing is anchored unless every subject is valid; the error names each request and field.
    """
    usecase = ctx.usecases.get(usecase_id)
    _validate_all(usecase, requests)
    salted = salt_documents(ctx, ags, usecase, requests, account)
    signer = issuer_signer(ctx, ags, salted[0].document["issuer"]["account"])
    batch = make_batch(salted)
    tx = ctx.ledger.anchor(signer, usecase.doc_type, [batch.root])
    anchor = AnchorRef(ctx.deployment.chain_id, ctx.deployment.document_registry,
                       tx.transaction_hash, tx.block, tx.timestamp)
    return [finish_document(batch, i, anchor) for i in range(len(salted))]


@dataclass(frozen=True)
class BulkResult:
    """What a bulk issuance accepted (index in the request → document id) and refused (index →
    field errors); the accepted ones wait for the anchoring worker."""

    accepted: list[tuple[int, str]]
    rejected: list[tuple[int, list[tuple[str, str]]]]


MAX_BULK = 10_000
ACCEPT_SLICE = 500  # documents salted and stored at a time within one bulk transaction


def issue_bulk_for(ctx: Context, uow: UnitOfWork, actor: Actor, usecase_id: str,
                   requests: Sequence[IssueRequest]) -> BulkResult:
    """A clerk issues many documents of one use case for their municipality: each valid request
    is stored as pending, each invalid one is reported with its field errors."""
    require_role(actor, "clerk")
    assert actor.ags is not None
    usecase = ctx.usecases.get(usecase_id)
    require_submitter(actor.role, usecase)
    requests = [replace(r, submitted_by=(actor.role, actor.username)) for r in requests]
    result = accept_valid(ctx, uow, actor.ags, usecase_id, requests, created_by=actor.user_id)
    audit.record(uow, actor.who, AuditAction.DOCUMENT_ISSUE_BULK, usecase_id,
                 {"accepted": len(result.accepted), "rejected": len(result.rejected)})
    return result


def accept_valid(ctx: Context, uow: UnitOfWork, ags: str, usecase_id: str,
                 requests: Sequence[IssueRequest], *, created_by: int | None = None) -> BulkResult:
    """Stores each valid request as pending and reports each invalid one with its field errors
    (the caller commits): bulk issuance through the API and `govchain issue-bulk`."""
    usecase = ctx.usecases.get(usecase_id)
    if not requests:
        raise InputError("Keine Dokumente zum Ausstellen")
    if len(requests) > MAX_BULK:
        raise InputError(f"Höchstens {MAX_BULK} Dokumente je Auftrag (hier {len(requests)})")
    require_admitted(ctx, ags, usecase)
    good: list[tuple[int, IssueRequest]] = []
    rejected: list[tuple[int, list[tuple[str, str]]]] = []
    at = now()
    for i, req in enumerate(requests):
        errors = request_errors(usecase, req, at)
        if errors:
            rejected.append((i, errors))
        else:
            good.append((i, req))
    accepted: list[tuple[int, str]] = []
    status = credentials.status_entries(ctx, uow, ags, len(good)) if good else []
    # In slices (one transaction all the same): a process holds the salted documents and rows of
    # one slice at a time, not of thousands of documents, and its memory stays flat.
    for start in range(0, len(good), ACCEPT_SLICE):
        part = good[start:start + ACCEPT_SLICE]
        salted = salt_documents(ctx, ags, usecase, [r for _, r in part],
                                status=status[start:start + ACCEPT_SLICE])
        uow.documents.add_pending_many([(s, None) for s in salted], created_by=created_by)
        ids = [s.document["id"] for s in salted]
        uow.status_events.add_many(ids, "issued", actor=created_by)
        accepted += [(i, d) for (i, _), d in zip(part, ids, strict=True)]
    uow.after_commit(lambda: metrics.documents_accepted(usecase_id, ags, len(accepted)))
    return BulkResult(accepted, rejected)


@dataclass(frozen=True)
class Issued:
    record: DocumentRecord
    landlord_code: str | None = None


def issue_for(ctx: Context, uow: UnitOfWork, actor: Actor, usecase_id: str,
              subject: Mapping[str, Any], *, municipality: str | None = None,
              valid_from: datetime | None = None, valid_until: datetime | None = None) -> Issued:
    """A clerk issues for their municipality; a landlord submits a confirmation (§19(4) BMG) to
    the municipality they name and gets a Zuordnungsmerkmal for the tenant."""
    require_role(actor, "clerk", "landlord")
    usecase = ctx.usecases.get(usecase_id)
    require_submitter(actor.role, usecase)
    code = None
    if actor.role == "clerk":
        assert actor.ags is not None
        if municipality not in (None, actor.ags):
            raise PermissionDeniedError("Sachbearbeitende stellen nur für ihre eigene Kommune aus")
        ags = actor.ags
    else:
        # A landlord declares; when the declaration holds is the office's matter: from its
        # receipt, never backdated, never for a period the landlord chooses.
        chosen = [(path, f"{label}: Wohnungsgeber legen keine Gültigkeit fest; die Bestätigung "
                         "gilt ab ihrem Eingang bei der Meldebehörde")
                  for path, label, value in (("/validFrom", "Gültig ab", valid_from),
                                             ("/validUntil", "Gültig bis", valid_until))
                  if value is not None]
        if chosen:
            raise ValidationError("Gültigkeit nicht wählbar", chosen)
        if not municipality:
            raise InputError("Die Kommune (AGS) der Meldebehörde fehlt")
        ags = municipality
        if usecase.code_pointer:
            code = new_landlord_code()
            subject = _with_value(subject, usecase.code_pointer, code)
    req = IssueRequest(subject=subject, valid_from=valid_from, valid_until=valid_until,
                       landlord_code=code, submitted_by=(actor.role, actor.username))
    (record,) = accept_documents(ctx, uow, ags, usecase_id, [req], created_by=actor.user_id)
    audit.record(uow, actor.who, AuditAction.DOCUMENT_ISSUE, record.id,
                 {"usecase": record.usecase, "ags": record.ags})
    return Issued(record, code)

"""Read-side questions the pages (and the API) ask, built on the service layer's rules.

Nothing here writes. Whatever concerns one document first asks `services.get_document_for`, so a
document the actor may not see stays "not found" here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from govchain import services
from govchain.adapters.context import Context
from govchain.adapters.db import DocumentRecord, LinkRecord, Page, StatusEventRecord, UnitOfWork
from govchain.adapters.db.repositories import MAX_PAGE
from govchain.domain.ledger_view import IssuerAccount, Municipality


def history_of(uow: UnitOfWork, actor: services.Actor, document_id: str) -> list[StatusEventRecord]:
    """The document's status events, oldest first."""
    record = services.get_document_for(uow, actor, document_id)
    return uow.status_events.for_document(record.id)


def links_of(uow: UnitOfWork, actor: services.Actor, document_id: str) -> list[LinkRecord]:
    """The verification links made for the document (never their tokens)."""
    record = services.get_document_for(uow, actor, document_id)
    return uow.links.for_document(record.id)


def documents_between(uow: UnitOfWork, actor: services.Actor, *, created_from: datetime | None,
                      created_before: datetime | None, usecase: str | None = None,
                      state: str | None = None, ledger_status: str | None = None,
                      search: str | None = None, offset: int = 0, limit: int = 50
                      ) -> Page[DocumentRecord]:
    """`services.list_documents_for` restricted to documents created in [from, before).

    The service lists newest first and has no date filter yet, so this walks its pages and stops
    at the first document older than `created_from`.
    """
    if created_from is None and created_before is None:
        return services.list_documents_for(uow, actor, usecase=usecase, state=state,
                                           ledger_status=ledger_status, search=search,
                                           offset=offset, limit=limit)
    matching: list[DocumentRecord] = []
    total = 0
    scan = 0
    while True:
        page = services.list_documents_for(uow, actor, usecase=usecase, state=state,
                                           ledger_status=ledger_status, search=search,
                                           offset=scan, limit=MAX_PAGE)
        for record in page.items:
            if created_from is not None and record.created_at < created_from:
                return Page(matching, total)
            if created_before is not None and record.created_at >= created_before:
                continue
            if offset <= total < offset + limit:
                matching.append(record)
            total += 1
        scan += len(page.items)
        if not page.items or scan >= page.total:
            return Page(matching, total)


@dataclass(frozen=True)
class MunicipalityOverview:
    """A municipality as the registrar sees it: ledger entry, issuer accounts, use case ids."""

    municipality: Municipality
    accounts: tuple[IssuerAccount, ...]
    usecases: tuple[str, ...]


def overview(ctx: Context, m: Municipality) -> MunicipalityOverview:
    return MunicipalityOverview(
        municipality=m,
        accounts=tuple(ctx.ledger.issuer_account(address) for address in m.accounts),
        usecases=tuple(services.doc_type_name(ctx, t) for t in m.doc_types))


def municipalities(ctx: Context) -> list[MunicipalityOverview]:
    """Every admitted municipality with its accounts and admitted document types."""
    return [overview(ctx, m) for m in ctx.ledger.municipalities()]


def receiving_municipalities(ctx: Context, usecase_id: str) -> list[Municipality]:
    """Active municipalities admitted for a document type: where a landlord may submit it."""
    usecase = ctx.usecases.get(usecase_id)
    return sorted((m for m in ctx.ledger.municipalities()
                   if services.admission_problem(m, usecase) is None), key=lambda m: m.name)

"""The clerk's pages: documents of the municipality, the issue form, one document with its history,
status changes, downloads and verification links, and the lookup by Zuordnungsmerkmal.

Landlords open their own documents through the same document page (the service decides who sees
what); changing a status stays with clerks.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response

from govchain import services
from govchain.adapters.db import DocumentRecord, UnitOfWork
from govchain.domain.security import format_link_code
from govchain.domain.timefmt import now, parse_time
from govchain.domain.verification import REASONS
from govchain.entrypoints.http.deps import ContextDep, SettingsDep, UoWDep
from govchain.entrypoints.http.web.i18n import Translator, lang_of
from govchain.entrypoints.http.web.issuing import FormPage, default_raw, form_response, post_issue
from govchain.entrypoints.http.web.presenting import hideable_fields, result_view, sections_of
from govchain.entrypoints.http.web.rendering import (
    PRIVATE_HEADERS,
    TOKEN_HEADERS,
    WebRoute,
    finish,
    redirect,
    render,
)
from govchain.entrypoints.http.web.session import CheckedForm, WebClerk, WebPeople
from govchain.entrypoints.http.web.wallet_pages import wallet_ready
from govchain.errors import InputError, RecordNotFoundError
from govchain.services import credentials, queries

router = APIRouter(route_class=WebRoute, include_in_schema=False)

PAGE_SIZE = 25
# One status filter for people, two columns in the database.
STATUS_FILTERS: dict[str, dict[str, str]] = {
    "pending": {"state": "pending"},
    "failed": {"state": "failed"},
    "active": {"state": "anchored", "ledger_status": "none"},
    "suspended": {"ledger_status": "suspended"},
    "revoked": {"ledger_status": "revoked"},
}


def _day(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return parse_time(text[:10]) if len(text.strip()) == 10 else None
    except InputError:
        return None


@router.get("/documents")
def document_list(request: Request, ctx: ContextDep, uow: UoWDep, actor: WebClerk,
                  usecase: str = "", status: str = "", q: str = "", date_from: str = "",
                  date_to: str = "", page: int = 1) -> Response:
    page = max(page, 1)
    start, end = _day(date_from), _day(date_to)
    records = queries.documents_between(
        uow, actor, created_from=start, created_before=end + timedelta(days=1) if end else None,
        usecase=usecase if usecase in ctx.usecases else None,
        search=q.strip()[:200] or None, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE,
        **STATUS_FILTERS.get(status, {}))
    # Failed anchors are easy to miss among hundreds of documents: the list says how many.
    failed = services.list_documents_for(uow, actor, state="failed", limit=1).total
    t = Translator(lang_of(request))
    titles = {uc.id: t.pick(uc.title, uc.id) for uc in ctx.usecases}
    pages = max(1, -(-records.total // PAGE_SIZE))
    query = {"usecase": usecase, "status": status, "q": q, "date_from": date_from,
             "date_to": date_to}
    return render(request, "documents.html", headers=PRIVATE_HEADERS, records=records.items,
                  total=records.total, page=page, pages=pages, query=query, titles=titles,
                  status_filters=list(STATUS_FILTERS), failed=failed,
                  bad_dates=bool(date_from and not start) or bool(date_to and not end))


# -- issuing -------------------------------------------------------------------------------------

def _clerk_usecases(ctx: ContextDep, actor: services.Actor) -> list[Any]:
    return services.admitted_usecases(ctx, actor.ags or "", "clerk")


@router.get("/documents/new")
def choose_usecase(request: Request, ctx: ContextDep, actor: WebClerk) -> Response:
    return render(request, "choose_usecase.html", headers=PRIVATE_HEADERS,
                  usecases=_clerk_usecases(ctx, actor), base="/documents/new")


def _clerk_form(ctx: ContextDep, actor: services.Actor, usecase_id: str) -> FormPage:
    usecase = ctx.usecases.get(usecase_id)
    services.require_submitter("clerk", usecase)
    # no form for what the municipality may not issue (the service refuses a post all the same)
    services.require_admitted(ctx, actor.ags or "", usecase)
    return FormPage(usecase, action=f"/documents/new/{usecase.id}", guided=False,
                    with_validity=True)


@router.get("/documents/new/{usecase_id}")
def issue_form(request: Request, usecase_id: str, ctx: ContextDep, actor: WebClerk) -> Response:
    page = _clerk_form(ctx, actor, usecase_id)
    return form_response(request, page, default_raw(page.usecase, actor.ags))


@router.post("/documents/new/{usecase_id}")
def issue(request: Request, usecase_id: str, form: CheckedForm, ctx: ContextDep, uow: UoWDep,
          actor: WebClerk) -> Response:
    outcome = post_issue(request, ctx, uow, actor, _clerk_form(ctx, actor, usecase_id),
                         form.multi_items())
    if outcome.response is not None:
        return outcome.response
    assert outcome.issued is not None
    return redirect(request, f"/documents/{outcome.issued.record.id}?issued=1")


# -- one document ------------------------------------------------------------------------------

def _expiry(text: str, t: Translator) -> datetime | None:
    day = _day(text)
    if text and day is None:
        raise InputError(t("form.bad_date"))
    return day + timedelta(days=1) if day else None


def document_response(request: Request, ctx: ContextDep, uow: UnitOfWork, actor: services.Actor,
                      record: DocumentRecord, *, status: int = 200, link_error: str | None = None,
                      created_link: services.CreatedLink | None = None) -> Response:
    t = Translator(lang_of(request))
    usecase = ctx.usecases.get(record.usecase)
    shown = record.document or {"credentialSubject": record.subject}
    verification = None
    if record.document is not None:
        verification = result_view(services.verify(ctx, record.document), record.document,
                                   ctx.usecases, t)
    events = queries.history_of(uow, actor, record.id)
    links = queries.links_of(uow, actor, record.id)
    return render(
        request, "document.html", status=status,
        headers=TOKEN_HEADERS if created_link else PRIVATE_HEADERS,
        record=record, usecase=usecase, title=t.pick(usecase.title, usecase.id),
        sections=sections_of(shown, usecase, t), verification=verification, events=events,
        links=links, now=now(), reasons=REASONS,
        hideable=hideable_fields(usecase, record.subject, t) if record.document else [],
        link_error=link_error, created_link=created_link, wallet_ready=wallet_ready(record),
        created_code=format_link_code(created_link.token) if created_link else None,
        refresh=3 if record.state == "pending" else None,
        issued=request.query_params.get("issued") == "1")


@router.get("/documents/{document_id}")
def document_page(request: Request, document_id: str, ctx: ContextDep, uow: UoWDep,
                  actor: WebPeople) -> Response:
    record = services.get_document_for(uow, actor, document_id)
    return document_response(request, ctx, uow, actor, record)


ACTIONS: tuple[services.Action, ...] = ("revoke", "suspend", "reinstate")


@router.post("/documents/{document_id}/status")
def change_status(request: Request, document_id: str, form: CheckedForm, ctx: ContextDep,
                  uow: UoWDep, actor: WebClerk) -> Response:
    """First post: the confirmation page; second post with ``confirmed``: the change."""
    action = next((a for a in ACTIONS if a == form.get("action")), None)
    if action is None:
        raise InputError("Unbekannte Aktion")
    reason = str(form.get("reason") or "0") if action != "reinstate" else None
    if reason is not None:
        services.parse_reason(reason, known_only=True)
    record = services.get_document_for(uow, actor, document_id)
    t = Translator(lang_of(request))
    if form.get("confirmed") != "yes":
        return render(request, "confirm.html", headers=PRIVATE_HEADERS, record=record,
                      action=action, reason=reason,
                      reason_text=t.pick(dict(zip(("de", "en"), REASONS[int(reason)], strict=True)))
                      if reason is not None else None,
                      title=t.pick(ctx.usecases.get(record.usecase).title, record.usecase))
    services.change_status_for(ctx, uow, actor, document_id, action, reason)
    uow.commit()
    return redirect(request, f"/documents/{document_id}?changed={action}")


@router.get("/documents/{document_id}/json")
def download_json(request: Request, document_id: str, uow: UoWDep, actor: WebPeople) -> Response:
    record = services.get_document_for(uow, actor, document_id)
    if record.document is None:
        raise RecordNotFoundError("Das Dokument ist noch nicht verankert")
    body = json.dumps(record.document, ensure_ascii=False, indent=2).encode("utf-8")
    return finish(request, Response(body, media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="{services.download_name(record)}.json"'}),
        PRIVATE_HEADERS)


@router.get("/documents/{document_id}/vc")
def download_vc(request: Request, document_id: str, ctx: ContextDep, uow: UoWDep,
                actor: WebPeople) -> Response:
    """The document as a W3C VC 2.0 with its Data Integrity proof (made when first asked for)."""
    record = services.get_document_for(uow, actor, document_id)
    vc = credentials.credential_for(ctx, uow, record)
    uow.commit()
    body = json.dumps(vc, ensure_ascii=False, indent=2).encode("utf-8")
    return finish(request, Response(body, media_type="application/vc+ld+json", headers={
        "Content-Disposition": f'attachment; filename="{services.download_name(record)}.vc.json"'}),
        PRIVATE_HEADERS)


@router.post("/documents/{document_id}/pdf")
def download_pdf(request: Request, document_id: str, form: CheckedForm, ctx: ContextDep,
                 uow: UoWDep, settings: SettingsDep, actor: WebPeople) -> Response:
    """The PDF certificate with a fresh verification link (until the document's validUntil)."""
    del form
    record, pdf = services.certificate_for(ctx, uow, actor, document_id,
                                           base_url=settings.base_url, lang=lang_of(request))
    uow.commit()
    return finish(request, Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{services.download_name(record)}.pdf"'}),
        PRIVATE_HEADERS)


@router.post("/documents/{document_id}/links")
def create_link(request: Request, document_id: str, form: CheckedForm, ctx: ContextDep,
                uow: UoWDep, settings: SettingsDep, actor: WebPeople) -> Response:
    t = Translator(lang_of(request))
    record = services.get_document_for(uow, actor, document_id)
    hide = [h for h in form.getlist("hide") if isinstance(h, str)]
    try:
        expires = _expiry(str(form.get("expires") or ""), t)
        link = services.create_link_for(ctx, uow, actor, document_id,
                                        base_url=settings.base_url, hide=hide, expires_at=expires)
    except InputError as err:
        uow.rollback()
        return document_response(request, ctx, uow, actor, record, status=400,
                                 link_error=str(err))
    uow.commit()
    return document_response(request, ctx, uow, actor, record, created_link=link)


@router.post("/links/{link_id}/withdraw")
def withdraw_link(request: Request, link_id: str, form: CheckedForm, uow: UoWDep,
                  actor: WebPeople) -> Response:
    del form
    link = uow.links.by_id(link_id)
    services.withdraw_link_for(uow, actor, link_id)
    uow.commit()
    assert link is not None  # withdraw_link_for found it
    return redirect(request, f"/documents/{link.document_id}?withdrawn=1")


# -- lookup ------------------------------------------------------------------------------------

@router.get("/lookup")
def lookup(request: Request, ctx: ContextDep, uow: UoWDep, actor: WebClerk,
           code: str | None = None) -> Response:
    """A landlord confirmation by its Zuordnungsmerkmal, with its verification."""
    t = Translator(lang_of(request))
    if not code:
        return render(request, "lookup.html", headers=PRIVATE_HEADERS, code="", error=None,
                      found=None)
    try:
        record, result = services.lookup_code(ctx, uow, actor, code)
    except (InputError, RecordNotFoundError) as err:
        return render(request, "lookup.html", status=404 if isinstance(err, RecordNotFoundError)
                      else 400, headers=PRIVATE_HEADERS, code=code, error=str(err), found=None)
    view = result_view(result, record.document, ctx.usecases, t)
    return render(request, "lookup.html", headers=PRIVATE_HEADERS, code=code, error=None,
                  found=record, result=view)

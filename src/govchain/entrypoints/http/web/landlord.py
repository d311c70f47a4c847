"""The landlord's pages: a guided Wohnungsgeberbestätigung (§ 19 BMG) that ends with the
Zuordnungsmerkmal, the certificate, the verification link and the offer to the wallet for the
tenant, and the list of the landlord's own submissions."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from govchain import services
from govchain.adapters.db import UnitOfWork
from govchain.domain.security import format_link_code
from govchain.domain.usecases import UseCase
from govchain.entrypoints.http.deps import ContextDep, EngineDep, SettingsDep, UoWDep
from govchain.entrypoints.http.web.i18n import Translator, lang_of
from govchain.entrypoints.http.web.issuing import FormPage, default_raw, form_response, post_issue
from govchain.entrypoints.http.web.rendering import PRIVATE_HEADERS, TOKEN_HEADERS, WebRoute, redirect, render
from govchain.entrypoints.http.web.session import CheckedForm, WebLandlord
from govchain.entrypoints.http.web.wallet_pages import wallet_ready
from govchain.services import queries

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def landlord_usecases(ctx: ContextDep) -> list[UseCase]:
    return services.submittable_usecases(ctx, "landlord")


@router.get("/landlord")
def landlord_home(request: Request, ctx: ContextDep, uow: UoWDep, actor: WebLandlord,
                  page: int = 1) -> Response:
    page = max(page, 1)
    size = 25
    records = services.list_documents_for(uow, actor, offset=(page - 1) * size, limit=size)
    t = Translator(lang_of(request))
    titles = {uc.id: t.pick(uc.title, uc.id) for uc in ctx.usecases}
    return render(request, "landlord_home.html", headers=PRIVATE_HEADERS, records=records.items,
                  total=records.total, page=page, pages=max(1, -(-records.total // size)),
                  titles=titles, usecases=landlord_usecases(ctx))


@router.get("/landlord/new")
def landlord_choose(request: Request, ctx: ContextDep, actor: WebLandlord) -> Response:
    del actor
    usecases = landlord_usecases(ctx)
    if len(usecases) == 1:
        return redirect(request, f"/landlord/new/{usecases[0].id}")
    return render(request, "choose_usecase.html", headers=PRIVATE_HEADERS, usecases=usecases,
                  base="/landlord/new")


def _landlord_form(ctx: ContextDep, usecase_id: str) -> FormPage:
    usecase = ctx.usecases.get(usecase_id)
    services.require_submitter("landlord", usecase)
    offices = [(m.ags, m.name) for m in queries.receiving_municipalities(ctx, usecase.id)]
    return FormPage(usecase, action=f"/landlord/new/{usecase.id}", guided=True,
                    municipalities=offices)


@router.get("/landlord/new/{usecase_id}")
def landlord_form(request: Request, usecase_id: str, ctx: ContextDep,
                  actor: WebLandlord) -> Response:
    del actor
    page = _landlord_form(ctx, usecase_id)
    return form_response(request, page, default_raw(page.usecase, None))


@router.post("/landlord/new/{usecase_id}")
def landlord_submit(request: Request, usecase_id: str, form: CheckedForm, ctx: ContextDep,
                    uow: UoWDep, engine: EngineDep, settings: SettingsDep,
                    actor: WebLandlord) -> Response:
    """Submits the confirmation; once anchored, a verification link for the tenant is made."""
    outcome = post_issue(request, ctx, uow, actor, _landlord_form(ctx, usecase_id),
                         form.multi_items())
    if outcome.response is not None:
        return outcome.response
    assert outcome.issued is not None
    with UnitOfWork(engine) as fresh:
        record, link = services.share_landlord_confirmation(ctx, fresh, actor,
                                                            outcome.issued.record.id,
                                                            base_url=settings.base_url)
        fresh.commit()
    t = Translator(lang_of(request))
    usecase = ctx.usecases.get(record.usecase)
    municipality = ctx.ledger.municipality(record.ags)
    return render(request, "landlord_done.html", headers=TOKEN_HEADERS, record=record,
                  code=outcome.issued.landlord_code, link=link,
                  link_code=format_link_code(link.token) if link else None,
                  title=t.pick(usecase.title, usecase.id), municipality=municipality,
                  wallet_ready=wallet_ready(record))

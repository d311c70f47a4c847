"""Clerks find a landlord confirmation by its Zuordnungsmerkmal."""

from __future__ import annotations

from fastapi import APIRouter

from govchain import services
from govchain.entrypoints.http.api.schemas import LookupOut
from govchain.entrypoints.http.deps import ContextDep, CurrentActor, UoWDep
from govchain.entrypoints.http.routing import StrictJsonRoute

router = APIRouter(prefix="/lookup", tags=["lookup"], route_class=StrictJsonRoute)


@router.get("/{code}", responses={
    401: {"description": "Nicht angemeldet"}, 403: {"description": "Nur für Sachbearbeitende"},
    404: {"description": "Kein Dokument mit diesem Zuordnungsmerkmal für Ihre Kommune"}})
def lookup(code: str, ctx: ContextDep, uow: UoWDep, actor: CurrentActor) -> LookupOut:
    """The confirmation with this code (any case, with or without dashes) and its verification."""
    record, result = services.lookup_code(ctx, uow, actor, code)
    assert record.document is not None  # lookup_code finds anchored documents only
    return LookupOut(document=record.document, result=result.to_json())

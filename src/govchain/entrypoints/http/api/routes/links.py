"""Verification links: withdrawing one, and verifying the document behind one (public)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse

from govchain import services
from govchain.entrypoints.http.deps import ContextDep, CurrentActor, RateLimitedApiKey, UoWDep
from govchain.entrypoints.http.routing import StrictJsonRoute

router = APIRouter(tags=["links"], route_class=StrictJsonRoute)


@router.delete("/links/{link_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses={401: {"description": "Nicht angemeldet"},
                          404: {"description": "Kein Prüflink, den Sie zurückziehen dürfen"}})
def withdraw_link(link_id: str, request: Request, uow: UoWDep, actor: CurrentActor) -> Response:
    """Withdraws a verification link for good; whoever opens it learns that it was withdrawn."""
    services.withdraw_link_for(uow, actor, link_id)
    uow.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/verify/{token}",
            responses={429: {"description": "Zu viele Anfragen (Retry-After)"},
                       503: {"description": "UNVERIFIABLE: Ledger nicht erreichbar"}})
def verify_link(token: str, ctx: ContextDep, uow: UoWDep,
                api_key: RateLimitedApiKey) -> JSONResponse:
    """The verification result for a link and the document it discloses. Public; an unknown,
    expired or withdrawn link gives a result that says so (``document`` is then null). With an
    ``X-API-Key`` the check of a known link is recorded in the key's verification log."""
    checked = services.verify_link(ctx, uow, token)
    if api_key is not None and checked.link_id is not None:
        services.record_check(uow, api_key.id, checked.result,
                              document_id=checked.result.document_id, link_id=checked.link_id)
        uow.commit()
    code = 503 if checked.result.ledger_unreachable else 200
    return JSONResponse({"result": checked.result.to_json(), "document": checked.document},
                        status_code=code, headers={"Cache-Control": "no-store"})

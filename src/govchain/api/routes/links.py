"""Verification links: withdrawing one, and verifying the document behind one (public)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse

from govchain import services
from govchain.api.deps import ContextDep, CurrentActor, UoWDep, audit
from govchain.verification import Status

router = APIRouter(tags=["links"])


@router.delete("/links/{link_id}", status_code=status.HTTP_204_NO_CONTENT,
               responses={401: {"description": "Nicht angemeldet"},
                          404: {"description": "Kein Prüflink, den Sie zurückziehen dürfen"}})
def withdraw_link(link_id: str, request: Request, uow: UoWDep, actor: CurrentActor) -> Response:
    """Withdraws a verification link for good; whoever opens it learns that it was withdrawn."""
    services.withdraw_link_for(uow, actor, link_id)
    audit(uow, request, actor.user_id, "link.withdraw", link_id)
    uow.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/verify/{token}",
            responses={503: {"description": "UNVERIFIABLE: Ledger nicht erreichbar"}})
def verify_link(token: str, ctx: ContextDep, uow: UoWDep) -> JSONResponse:
    """The verification result for a link and the document it discloses. Public; an unknown,
    expired or withdrawn link gives a result that says so (``document`` is then null)."""
    checked = services.verify_link(ctx, uow, token)
    code = 503 if checked.result.status is Status.UNVERIFIABLE else 200
    return JSONResponse({"result": checked.result.to_json(), "document": checked.document},
                        status_code=code, headers={"Cache-Control": "no-store"})

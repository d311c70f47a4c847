"""Liveness and readiness probes for the process supervisor and the load balancer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from govchain.adapters.db import UnitOfWork, check_schema
from govchain.domain.timefmt import now
from govchain.entrypoints.http.deps import AnchoringDep, ContextDep, EngineDep
from govchain.entrypoints.http.routing import StrictJsonRoute
from govchain.errors import GovchainError

router = APIRouter(tags=["health"], route_class=StrictJsonRoute)

# How far back /readyz counts failed anchor batches (by the time each batch was opened).
FAILED_WINDOW = timedelta(hours=24)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Ledger oder Datenbank nicht erreichbar"}})
async def readyz(ctx: ContextDep, engine: EngineDep, anchoring: AnchoringDep) -> JSONResponse:
    """Ledger and database are reachable, the database schema is current and anchoring runs;
    reports how many documents wait for their anchor and how many anchor batches (with how many
    documents) the ledger refused in the last 24 hours (``checks.anchoring.failed``; these do
    not make the service unready)."""
    def probe() -> dict[str, Any]:
        checks: dict[str, Any] = {}
        try:
            block = ctx.chain.latest_block()
            _ = ctx.ledger
            checks["ledger"] = {"ok": True, "block": block.number}
        except GovchainError as err:
            checks["ledger"] = {"ok": False, "message": str(err)}
        failed: dict[str, Any] | None = None
        try:
            check_schema(engine)
            with UnitOfWork(engine) as uow:
                pending = uow.documents.count(state="pending")
                recent = uow.batches.failed_since(now() - FAILED_WINDOW)
            checks["database"] = {"ok": True}
            failed = {"hours": FAILED_WINDOW // timedelta(hours=1), "batches": recent.batches,
                      "documents": recent.documents, "lastError": recent.last_error,
                      "lastAt": recent.last_at.isoformat() if recent.last_at else None}
        except (GovchainError, SQLAlchemyError) as err:
            checks["database"] = {"ok": False, "message": str(err)[:300]}
            pending = None
        status = anchoring.status()
        # Accepting goes on while the ledger is away (documents wait as pending): the service
        # is not ready, and says how much is waiting. Batches the ledger refused are reported
        # (for monitoring to alert on) but leave the service ready: the instance still serves,
        # and one refused batch must not take it out of the load balancer.
        checks["anchoring"] = {"ok": status.ledger_reachable and checks["ledger"]["ok"],
                               "pending": pending, "failed": failed, "workers": status.workers,
                               "lastError": status.last_error}
        return checks

    checks = await run_in_threadpool(probe)
    ready = all(c["ok"] for c in checks.values())
    return JSONResponse({"status": "ready" if ready else "unavailable", "checks": checks},
                        status_code=200 if ready else 503)

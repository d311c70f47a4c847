"""Liveness and readiness probes for the process supervisor and the load balancer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from govchain.api.deps import AnchoringDep, ContextDep, EngineDep
from govchain.db import UnitOfWork, check_schema
from govchain.errors import GovchainError

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Ledger oder Datenbank nicht erreichbar"}})
async def readyz(ctx: ContextDep, engine: EngineDep, anchoring: AnchoringDep) -> JSONResponse:
    """Ledger and database are reachable, the database schema is current and anchoring runs;
    reports how many documents wait for their anchor."""
    def probe() -> dict[str, Any]:
        checks: dict[str, Any] = {}
        try:
            block = ctx.chain.latest_block()
            _ = ctx.ledger
            checks["ledger"] = {"ok": True, "block": block.number}
        except GovchainError as err:
            checks["ledger"] = {"ok": False, "message": str(err)}
        try:
            check_schema(engine)
            with UnitOfWork(engine) as uow:
                pending = uow.documents.count(state="pending")
            checks["database"] = {"ok": True}
        except (GovchainError, SQLAlchemyError) as err:
            checks["database"] = {"ok": False, "message": str(err)[:300]}
            pending = None
        status = anchoring.status()
        # Accepting goes on while the ledger is away (documents wait as pending): the service
        # is not ready, and says how much is waiting.
        checks["anchoring"] = {"ok": status.ledger_reachable and checks["ledger"]["ok"],
                               "pending": pending, "workers": status.workers,
                               "lastError": status.last_error}
        return checks

    checks = await run_in_threadpool(probe)
    ready = all(c["ok"] for c in checks.values())
    return JSONResponse({"status": "ready" if ready else "unavailable", "checks": checks},
                        status_code=200 if ready else 503)

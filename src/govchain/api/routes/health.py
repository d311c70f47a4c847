"""Liveness and readiness probes for the process supervisor and the load balancer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from govchain.api.deps import ContextDep, EngineDep
from govchain.db import check_schema
from govchain.errors import GovchainError

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Ledger oder Datenbank nicht erreichbar"}})
async def readyz(ctx: ContextDep, engine: EngineDep) -> JSONResponse:
    """Ledger and database are reachable and the database schema is current."""
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
            checks["database"] = {"ok": True}
        except GovchainError as err:
            checks["database"] = {"ok": False, "message": str(err)}
        return checks

    checks = await run_in_threadpool(probe)
    ready = all(c["ok"] for c in checks.values())
    return JSONResponse({"status": "ready" if ready else "unavailable", "checks": checks},
                        status_code=200 if ready else 503)

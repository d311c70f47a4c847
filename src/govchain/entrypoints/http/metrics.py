"""/metrics for Prometheus (the metrics themselves: `adapters.metrics`), and the timing of every
HTTP request by its route template.

/metrics answers only callers on the loopback interface or at an address of
`settings.trusted_proxies` (the caller as `deps.client_address` sees it: through a trusted proxy,
the address it forwarded); everyone else gets 403. It is not rate limited, not in the OpenAPI
description, and `govchain serve` leaves its successful scrapes out of the access log.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from govchain.adapters import metrics
from govchain.adapters.context import Context
from govchain.adapters.db import UnitOfWork
from govchain.domain.timefmt import now
from govchain.entrypoints.http.deps import ContextDep, EngineDep, SettingsDep, client_address
from govchain.errors import GovchainError

router = APIRouter(tags=["metrics"])
_T = TypeVar("_T")

UNMATCHED = "unmatched"  # the route label of a request no route took (404s of scanners…)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics(request: Request, ctx: ContextDep, engine: EngineDep,
                             settings: SettingsDep) -> Response:
    """The counts of all the service's processes and the state measured now, in Prometheus
    text format; for monitoring only (loopback and trusted proxies)."""
    if not scraper_allowed(client_address(request), settings.trusted_proxies):
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "Metriken nur für die Überwachung (Loopback oder trusted_proxies)")
    (database_up, queue), (node_up, lag) = await asyncio.gather(_probe(_database, engine),
                                                                _probe(_node, ctx))
    state = metrics.ServiceState(database_up=database_up, node_up=node_up,
                                 pending=queue[0] if queue else None,
                                 oldest_pending_age=queue[1] if queue else None, index_lag=lag)
    body = await run_in_threadpool(metrics.exposition, state)
    return Response(body, media_type=metrics.CONTENT_TYPE)


def scraper_allowed(address: str | None, trusted_proxies: Sequence[str]) -> bool:
    """Whether `address` may read /metrics: a loopback address, or one of `trusted_proxies`
    (addresses or networks; "*" and host names there allow nobody here)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return True
    for entry in trusted_proxies:
        try:
            network = ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError:
            continue
        if ip.version == network.version and ip in network:
            return True
    return False


PROBE_SECONDS = 3.0  # a database or node that has not answered by then counts as down


async def _probe(probe: Callable[[Any], _T], target: Any) -> tuple[bool, _T | None]:
    """(True, `probe(target)`) from a worker thread; (False, None) if it fails or takes longer
    than PROBE_SECONDS (a node or database that does not answer would hold the scrape up to its
    own timeouts, longer than Prometheus waits; the thread finishes on its own)."""
    try:
        return True, await asyncio.wait_for(run_in_threadpool(probe, target), PROBE_SECONDS)
    except (TimeoutError, GovchainError, SQLAlchemyError):
        return False, None


def _database(engine: Engine) -> tuple[int, float]:
    """Documents waiting for their anchor, and how long the oldest has waited (0: none)."""
    with UnitOfWork(engine) as uow:
        pending, oldest = uow.documents.pending_summary()
    return pending, max(0.0, (now() - oldest).total_seconds()) if oldest else 0.0


def _node(ctx: Context) -> int | None:
    """The blocks this process's status index is behind the node's head (None: no index)."""
    head = ctx.ledger.head()
    return max(0, head - ctx.indexed.index.block) if ctx.indexed is not None else None


class RequestMetrics:
    """ASGI middleware: times each HTTP request and counts it by method, route template (as
    "/api/v1/documents/{document_id}", never the path itself, which may hold a token or an id)
    and status code; an exception that leaves the app counts as 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        root_path = scope.get("root_path", "")
        code = 500

        async def send_and_note(message: Message) -> None:
            nonlocal code
            if message["type"] == "http.response.start":
                code = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            metrics.http_request(method, route_template(scope, root_path), code,
                                 time.perf_counter() - start)


def route_template(scope: Scope, root_path: str = "") -> str:
    """The template of the route that took the request, with the prefixes it was included
    under; a mounted app (the static files) is named by its mount point; UNMATCHED if none.

    A route knows its own template but not always the prefix its router was included with
    (FastAPI ≥ 0.116): that prefix is the part of the path before the template's segments
    (prefixes are fixed text here). A route without parameters that names no template (the
    OpenAPI description) is named by its path, which then is its template."""
    template = getattr(scope.get("route"), "path_format", None)
    if isinstance(template, str) and template.startswith("/"):
        if ":path}" in template:  # spans segments: the prefix cannot be counted off
            return template
        segments = scope["path"].split("/")
        extra = len(segments) - len(template.split("/"))
        return "/".join(segments[:extra + 1]) + template if extra > 0 else template
    mounted = scope.get("root_path", "")
    if isinstance(mounted, str) and mounted != root_path and mounted.startswith(root_path):
        return mounted[len(root_path):] + "/{path}"
    if scope.get("endpoint") is not None and not scope.get("path_params"):
        return str(scope["path"])
    return UNMATCHED

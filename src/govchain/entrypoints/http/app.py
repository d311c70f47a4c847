"""Builds the FastAPI application: opens the ledger and the database on start, closes them on stop."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from govchain.bootstrap import running
from govchain.entrypoints.http import metrics, standards, wallet, web
from govchain.entrypoints.http.api.routes import (
    accounts,
    auth,
    documents,
    health,
    links,
    lookup,
    registry,
    usecases,
    verify,
)
from govchain.entrypoints.http.errors import install_error_handlers
from govchain.entrypoints.http.oidc_login import oidc_client_for
from govchain.entrypoints.http.ratelimit import limits_for
from govchain.entrypoints.http.requestids import RequestIds
from govchain.entrypoints.http.tokens import load_or_create_key
from govchain.settings import Settings, get_settings

API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with running(settings) as runtime:
            app.state.context = runtime.context
            app.state.engine = runtime.engine
            app.state.anchoring = runtime.anchoring
            app.state.token_key = load_or_create_key(settings.home)
            # Requests that wait for their anchor hold a worker thread meanwhile.
            to_thread.current_default_thread_limiter().total_tokens = settings.threads
            # What startup built (contracts, schemas, templates, the index) lives as long as
            # the process: out of the collector's way, so full collections stay short.
            gc.collect()
            gc.freeze()
            yield

    app = FastAPI(title="govchain", version="1", lifespan=lifespan,
                  description="Prüfbare Verwaltungsdokumente der Kommunen in NRW",
                  openapi_url=f"{API_PREFIX}/openapi.json",
                  docs_url="/docs" if settings.api_docs else None, redoc_url=None,
                  max_body_size=settings.max_request_bytes)
    app.state.settings = settings
    # Made here rather than in the lifespan so that tests can swap in limits with a fake clock;
    # in this process's memory, or shared by every process and instance through redis_url.
    limits = limits_for(settings)
    app.state.public_limiter = limits.public
    app.state.api_key_limiter = limits.api_key
    app.state.login_throttle = limits.login
    app.state.oidc_client = oidc_client_for(settings)  # None: passwords only
    if settings.trusted_proxies:
        # Only the configured proxies may name the client; `govchain serve` turns uvicorn's own
        # header handling off, so this is the one place a forwarded address is believed.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    # Outermost of the app's own middleware: times every request, also those refused inside.
    app.add_middleware(metrics.RequestMetrics)
    # Outside even that: the request id is set before anything logs or audits.
    app.add_middleware(RequestIds)
    install_error_handlers(app)
    for module in (health, usecases, verify, auth, registry, accounts, documents, links, lookup):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(wallet.api, prefix=API_PREFIX)
    app.include_router(standards.router)  # context, DIDs, status lists: at their stable paths
    app.include_router(wallet.router)  # OpenID4VCI/VP endpoints and SD-JWT VC metadata
    app.include_router(web.router)  # the human pages live outside the API
    app.include_router(metrics.router)  # /metrics: loopback and trusted proxies only
    app.mount("/static", StaticFiles(directory=web.STATIC_DIR), name="static")
    return app

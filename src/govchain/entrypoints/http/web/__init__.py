"""The server-rendered pages of govchain (issue 4): public verification, clerks, landlords, the
registrar and the citizen's wallet, in German with English switchable, on the same service layer
as the API. Only `entrypoints.http.app` imports it; it never imports the API (`api`)."""

from __future__ import annotations

from fastapi import APIRouter

from govchain.entrypoints.http.web import clerk, landlord, public, registrar, wallet_pages
from govchain.entrypoints.http.web.rendering import STATIC_DIR

router = APIRouter()
for _module in (public, clerk, landlord, registrar, wallet_pages):
    router.include_router(_module.router)

__all__ = ["STATIC_DIR", "router"]

"""The municipal service's HTTP API (FastAPI) under /api/v1; create_app() builds it."""

from govchain.api.app import create_app

__all__ = ["create_app"]

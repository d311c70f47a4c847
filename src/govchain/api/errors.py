"""The one place where govchain errors become HTTP answers; no answer carries a traceback."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from govchain.errors import (
    ConfigurationError,
    ConflictError,
    GovchainError,
    InputError,
    KeyStoreError,
    LedgerError,
    LedgerUnavailableError,
    LinkTokenError,
    NotAuthorizedError,
    PermissionDeniedError,
    RecordNotFoundError,
    StorageError,
    UnknownUseCaseError,
    ValidationError,
)

log = logging.getLogger(__name__)

# Most specific first: the first matching class decides.
STATUS_OF: tuple[tuple[type[GovchainError], int], ...] = (
    (ValidationError, 422),
    (UnknownUseCaseError, 404),
    (InputError, 400),
    (NotAuthorizedError, 403),
    (PermissionDeniedError, 403),
    (LedgerError, 409),
    (LedgerUnavailableError, 503),
    (RecordNotFoundError, 404),
    (ConflictError, 409),
    (StorageError, 503),
    (LinkTokenError, 404),
    (KeyStoreError, 500),
    (ConfigurationError, 500),
)


def status_of(err: GovchainError) -> int:
    return next((code for cls, code in STATUS_OF if isinstance(err, cls)), 500)


def error_response(err: GovchainError) -> JSONResponse:
    code = status_of(err)
    if isinstance(err, ValidationError):
        detail: object = [{"loc": path, "msg": msg} for path, msg in err.errors]
    elif code == 500:
        # Configuration and key problems are for the operator's log, not for the caller.
        log.error("govchain error: %s", err)
        detail = "Interner Fehler des Dienstes"
    else:
        detail = str(err)
    return JSONResponse({"detail": detail}, status_code=code)


async def _govchain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GovchainError)
    return error_response(exc)


async def _unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error", exc_info=exc)
    return JSONResponse({"detail": "Interner Fehler des Dienstes"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GovchainError, _govchain_error)
    app.add_exception_handler(Exception, _unexpected_error)

"""The one place where govchain errors become HTTP answers; no answer carries a traceback."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from govchain.errors import (
    ConfigurationError,
    ConflictError,
    GovchainError,
    InputError,
    KeyStoreError,
    KeyUnavailableError,
    LedgerError,
    LedgerUnavailableError,
    LinkTokenError,
    NotAuthorizedError,
    OAuthError,
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
    (KeyUnavailableError, 503),
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


def oauth_error_response(err: OAuthError) -> JSONResponse:
    """An OAuth 2.0 error answer (RFC 6749 5.2, RFC 6750 3): error code and German description."""
    headers = {"Cache-Control": "no-store"}
    if err.status == 401:
        headers["WWW-Authenticate"] = f'Bearer error="{err.code}"'
    return JSONResponse({"error": err.code, "error_description": str(err)},
                        status_code=err.status, headers=headers)


async def _govchain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GovchainError)
    if isinstance(exc, OAuthError):
        return oauth_error_response(exc)
    return error_response(exc)


def validation_details(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """FastAPI's 422 items without `input` and `ctx`: they repeat what was sent (a bulk request
    holds up to 32 MB of personal data) and go to logs and clients' error reports."""
    return [{"loc": [part if isinstance(part, int) else str(part) for part in e.get("loc", ())],
             "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))} for e in errors]


async def _request_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": validation_details(exc.errors())}, status_code=422)


async def _unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error", exc_info=exc)
    return JSONResponse({"detail": "Interner Fehler des Dienstes"}, status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GovchainError, _govchain_error)
    app.add_exception_handler(RequestValidationError, _request_validation_error)
    app.add_exception_handler(Exception, _unexpected_error)
    app.openapi = _with_documented_errors(app, app.openapi)  # type: ignore[method-assign]


# -- the error answers in the OpenAPI schema ---------------------------------------------------

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["detail"],
    "properties": {"detail": {
        "description": "Was nicht stimmt, auf Deutsch (bei 422 je Feld eine Angabe)",
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}],
    }},
}
_ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
_WRITES = {"post", "put", "patch", "delete"}


def _error_responses(method: str, operation: dict[str, Any]) -> dict[str, str]:
    """The error answers an operation can give, derived from what it takes and who may call it.

    Any route that reads input can meet an InputError (400); a path parameter or a body can name
    something that does not exist (404, e.g. an unknown use case); every route but the liveness
    probe needs the database or the ledger (503); a bearer token can be missing or stale (401) or
    of another role (403); an X-API-Key can be unknown (401); a write can be refused by the
    contracts (409).
    """
    schemes = {name for requirement in operation.get("security", []) for name in requirement}
    params = operation.get("parameters", [])
    takes_input = bool(params) or "requestBody" in operation
    out: dict[str, str] = {"503": "Datenbank oder Ledger nicht erreichbar"}
    if takes_input:
        out["400"] = "Ungültige Eingabe"
    if any(p.get("in") == "path" for p in params) or "requestBody" in operation:
        out["404"] = "Nicht gefunden (oder für Sie nicht sichtbar), z. B. eine unbekannte Dokumentart"
    if "OAuth2PasswordBearer" in schemes:
        out["401"] = "Nicht angemeldet oder Anmeldung abgelaufen"
        out["403"] = "Für Ihre Rolle oder Kommune nicht erlaubt"
        if method in _WRITES:
            out["409"] = "Vom Ledger abgelehnt (z. B. schon widerrufen)"
    if "APIKeyHeader" in schemes:
        out["401"] = "Unbekannter oder gesperrter API-Schlüssel"
    return out


def _with_documented_errors(app: FastAPI, generate: Callable[[], dict[str, Any]]
                            ) -> Callable[[], dict[str, Any]]:
    """FastAPI's schema plus the error answers of each operation and the shape of their body.

    Our 422 names fields by JSON Pointer (`loc` is a string) besides FastAPI's own location
    lists, and has no `type`; the documented schema says so.
    """
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Error"] = ERROR_SCHEMA
        item = components.get("ValidationError")
        if item is not None:
            item["required"] = ["loc", "msg"]
            for echo in ("input", "ctx"):  # never sent back (validation_details)
                item["properties"].pop(echo, None)
            item["properties"]["loc"] = {"anyOf": [
                {"type": "string"}, item["properties"]["loc"]], "title": "Location"}
        for path_item in schema.get("paths", {}).values():
            for method, operation in path_item.items():
                if operation.get("operationId", "").startswith("healthz"):
                    continue
                responses = operation.setdefault("responses", {})
                for code, description in _error_responses(method, operation).items():
                    responses.setdefault(code, {"description": description,
                                                "content": _ERROR_CONTENT})
        return schema

    return openapi

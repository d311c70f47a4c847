"""Public verification of a presented document against the ledger."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from govchain import services
from govchain.adapters.db import UnitOfWork
from govchain.domain import strictjson
from govchain.domain.timefmt import parse_time
from govchain.entrypoints.http.deps import ContextDep, EngineDep, RateLimitedApiKey, SettingsDep
from govchain.entrypoints.http.routing import StrictJsonRoute

router = APIRouter(prefix="/verify", tags=["verify"], route_class=StrictJsonRoute)

_DOCUMENT_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {
        "type": "object", "description": "Ein ausgestelltes Dokument (JSON) mit seinem Nachweis"}}},
}


async def read_json_object(request: Request, limit: int) -> dict[str, Any]:
    """The request body as a JSON object, refusing anything larger than `limit` bytes before
    reading it all. Documents are hashed as RFC 8785 JSON: what it cannot represent (numbers
    beyond an IEEE double, duplicate member names) cannot be in an issued document and is
    refused here, as input, as is nesting deeper than any document has."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"Höchstens {limit} Bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"Höchstens {limit} Bytes")
    data = strictjson.loads(body)  # JsonInputError: a 400 saying what is wrong
    if not isinstance(data, dict):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "Erwartet wird ein Dokument (JSON-Objekt)")
    return data


AtQuery = Annotated[str | None, Query(
    max_length=40, description="Prüfzeitpunkt (ISO 8601: Datum oder Datum mit Uhrzeit; ohne "
                               "Zeitzone Europe/Berlin), Standard: jetzt",
    examples=["2026-05-01T10:30:00+02:00"])]


@router.post("", openapi_extra={"requestBody": _DOCUMENT_BODY},
             responses={400: {"description": "Kein JSON-Objekt, zu tief verschachtelt, doppelte "
                                             "Schlüssel oder eine Zahl außerhalb von RFC 8785; "
                                             "ungültiger Prüfzeitpunkt"},
                        413: {"description": "Zu groß (höchstens max_body_bytes)"},
                        429: {"description": "Zu viele Anfragen (Retry-After)"},
                        503: {"description": "UNVERIFIABLE: Ledger nicht erreichbar"}})
async def verify_document(request: Request, ctx: ContextDep, settings: SettingsDep,
                          engine: EngineDep, api_key: RateLimitedApiKey,
                          at: AtQuery = None) -> JSONResponse:
    """Checks integrity, anchoring, issuer, status and validity. Public; with an ``X-API-Key`` the
    check is recorded in the key's verification log. With ``at`` the validity is judged at that
    time instead of now ("was it valid when the fine was issued?"), like ``govchain verify
    --at``."""
    when = parse_time(at) if at is not None else None  # InputError: 400, before the body is read
    document = await read_json_object(request, settings.max_body_bytes)
    if ctx.indexed is not None and ctx.indexed.fresh():
        # The current index answers from memory in well under a millisecond: no thread hop.
        result = services.verify(ctx, document, when)
    else:  # the check may call the node (and wait for it)
        result = await run_in_threadpool(services.verify, ctx, document, when)
    if api_key is not None:
        document_id = result.document_id or document.get("id")
        if isinstance(document_id, str) and document_id:
            def record() -> None:
                with UnitOfWork(engine) as uow:
                    services.record_check(uow, api_key.id, result, document_id=document_id)
                    uow.commit()
            await run_in_threadpool(record)
    code = 503 if result.ledger_unreachable else 200
    return JSONResponse(result.to_json(), status_code=code)

"""Public verification of a presented document against the ledger."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from govchain import services
from govchain.api.deps import ContextDep, RateLimitedApiKey, SettingsDep, UoWDep
from govchain.verification import Status

router = APIRouter(prefix="/verify", tags=["verify"])

_DOCUMENT_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {
        "type": "object", "description": "Ein ausgestelltes Dokument (JSON) mit seinem Nachweis"}}},
}


async def read_json_object(request: Request, limit: int) -> dict[str, Any]:
    """The request body as a JSON object, refusing anything larger than `limit` bytes before
    reading it all."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"Höchstens {limit} Bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"Höchstens {limit} Bytes")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "Der Inhalt ist kein gültiges JSON") from None
    if not isinstance(data, dict):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "Erwartet wird ein Dokument (JSON-Objekt)")
    return data


@router.post("", openapi_extra={"requestBody": _DOCUMENT_BODY},
             responses={429: {"description": "Zu viele Anfragen (Retry-After)"},
                        503: {"description": "UNVERIFIABLE: Ledger nicht erreichbar"}})
async def verify_document(request: Request, ctx: ContextDep, settings: SettingsDep, uow: UoWDep,
                          api_key: RateLimitedApiKey) -> JSONResponse:
    """Checks integrity, anchoring, issuer, status and validity. Public; with an ``X-API-Key`` the
    check is recorded in the key's verification log."""
    document = await read_json_object(request, settings.max_body_bytes)
    result = await run_in_threadpool(services.verify, ctx, document)
    if api_key is not None:
        document_id = result.document_id or document.get("id")
        # The log needs something to point at; a body without any id is still answered.
        if isinstance(document_id, str) and document_id:
            def record() -> None:
                uow.verification_log.append(api_key_id=api_key.id, result=str(result.status),
                                            document_id=document_id[:80])
                uow.api_keys.touch(api_key.id)
                uow.commit()
            await run_in_threadpool(record)
    code = 503 if result.status is Status.UNVERIFIABLE else 200
    return JSONResponse(result.to_json(), status_code=code)

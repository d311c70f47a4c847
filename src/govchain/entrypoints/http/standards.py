"""What standard verifiers fetch, public and cacheable: govchain's JSON-LD context, each
municipality's DID document (did:web) and its Bitstring Status List credentials — all views of
the ledger made in services.credentials."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from govchain.adapters.db import UnitOfWork
from govchain.domain.jsonld_context import CONTEXT_PATH
from govchain.domain.vocabulary import AGS_PATTERN
from govchain.entrypoints.http.deps import ContextDep, EngineDep, RateLimitedApiKey
from govchain.entrypoints.http.routing import StrictJsonRoute
from govchain.services import credentials

router = APIRouter(tags=["standards"], route_class=StrictJsonRoute)

Ags = Annotated[str, Path(pattern=AGS_PATTERN, description="Amtlicher Gemeindeschlüssel")]
_DAY = "public, max-age=86400"


@router.get(CONTEXT_PATH, response_class=JSONResponse,
            responses={200: {"content": {"application/ld+json": {}}}})
def jsonld_context(ctx: ContextDep, _: RateLimitedApiKey) -> JSONResponse:
    """govchain's JSON-LD context: every term its documents use (generated from the use cases)."""
    return JSONResponse(credentials.jsonld_context(ctx), media_type="application/ld+json",
                        headers={"Cache-Control": _DAY, "Access-Control-Allow-Origin": "*"})


@router.get("/municipalities/{ags}/did.json",
            responses={404: {"description": "Keine zugelassene Kommune mit diesem AGS"}})
async def did_document(ags: Ags, ctx: ContextDep, _: RateLimitedApiKey) -> JSONResponse:
    """The municipality's DID document (did:web): the signing keys the ledger lists for it."""
    doc = await run_in_threadpool(credentials.did_document_for, ctx, ags)
    return JSONResponse(doc, media_type="application/did+ld+json",
                        headers={"Cache-Control": "public, max-age=60",
                                 "Access-Control-Allow-Origin": "*"})


@router.get("/status/{ags}/{list_name}",
            responses={304: {"description": "Unverändert (If-None-Match)"},
                       404: {"description": "Keine solche Statusliste"},
                       409: {"description": "Kein Signaturschlüssel für diese Kommune"},
                       503: {"description": "Ledger nicht erreichbar"}})
async def status_list(ags: Ags, list_name: Annotated[str, Path(max_length=32)], ctx: ContextDep,
                      engine: EngineDep, _: RateLimitedApiKey,
                      if_none_match: Annotated[str | None, Header()] = None) -> Response:
    """A Bitstring Status List credential (revocation-N or suspension-N) of the municipality,
    made from the ledger's status index and signed by the municipality."""
    def make() -> credentials.StatusListBody:
        with UnitOfWork(engine) as uow:
            return credentials.status_list_credential(ctx, uow, ags, list_name)
    found = await run_in_threadpool(make)
    headers = {"ETag": found.etag, "Cache-Control": "public, max-age=60",
               "Access-Control-Allow-Origin": "*"}
    if if_none_match is not None and found.etag in {t.strip() for t in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(found.body, media_type="application/vc+ld+json", headers=headers)

"""The citizen's wallet over HTTP: OpenID4VCI (issuer and authorization server metadata, token,
nonce and credential endpoints), what an SD-JWT VC verifier fetches (issuer keys, type metadata,
Token Status Lists), the OpenID4VP response endpoint, and the API to make offers and
presentation requests. The logic lives in services.oid4vc and services.sd_jwt_vc."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from govchain.adapters.db import UnitOfWork
from govchain.domain import strictjson
from govchain.domain.vocabulary import AGS_PATTERN
from govchain.entrypoints.http.deps import (
    ContextDep,
    CurrentActor,
    EngineDep,
    RateLimitedApiKey,
    TokenKeyDep,
    UoWDep,
    client_address,
)
from govchain.entrypoints.http.routing import StrictJsonRoute
from govchain.errors import OAuthError
from govchain.services import oid4vc, sd_jwt_vc

router = APIRouter(tags=["wallet"], route_class=StrictJsonRoute)
api = APIRouter(tags=["wallet"], route_class=StrictJsonRoute)

Ags = Annotated[str, Path(pattern=AGS_PATTERN, description="Amtlicher Gemeindeschlüssel")]
RequestId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]
_PUBLIC = {"Cache-Control": "public, max-age=60", "Access-Control-Allow-Origin": "*"}
_NO_STORE = {"Cache-Control": "no-store"}
MAX_FORM_FIELDS = 16
MAX_FORM_PART = 70_000  # bytes of one form field (a vp_token of 64 KiB and its encoding)


async def _form(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body as text fields (each name once), else an
    invalid_request."""
    if request.headers.get("content-type", "").split(";")[0].strip() != \
            "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request",
                         "Erwartet wird application/x-www-form-urlencoded")
    try:
        form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS,
                                  max_part_size=MAX_FORM_PART)
    except Exception as err:  # starlette: MultiPartException, HTTPException for limits
        raise OAuthError("invalid_request", f"Formular unlesbar: {err}") from None
    fields: dict[str, str] = {}
    for name, value in form.multi_items():
        if not isinstance(value, str):
            raise OAuthError("invalid_request", "Dateien werden nicht angenommen")
        if name in fields:
            raise OAuthError("invalid_request", f"Feld {name!r} mehrfach")
        fields[name] = value
    return fields


# -- metadata --------------------------------------------------------------------------------

@router.get("/.well-known/openid-credential-issuer")
def credential_issuer_metadata(ctx: ContextDep, _: RateLimitedApiKey) -> JSONResponse:
    """OpenID4VCI Credential Issuer Metadata: an SD-JWT VC per document type."""
    return JSONResponse(oid4vc.issuer_metadata(ctx), headers=_PUBLIC)


@router.get("/.well-known/oauth-authorization-server")
def authorization_server_metadata(ctx: ContextDep, _: RateLimitedApiKey) -> JSONResponse:
    """OAuth 2.0 Authorization Server Metadata (RFC 8414) for the pre-authorized code grant."""
    return JSONResponse(oid4vc.authorization_server_metadata(ctx), headers=_PUBLIC)


@router.get("/.well-known/jwt-vc-issuer/municipalities/{ags}",
            responses={404: {"description": "Keine zugelassene Kommune mit diesem AGS"}})
async def jwt_vc_issuer(ags: Ags, ctx: ContextDep, _: RateLimitedApiKey) -> JSONResponse:
    """JWT VC Issuer Metadata of a municipality: the signing keys the ledger lists for it."""
    found = await run_in_threadpool(sd_jwt_vc.jwt_vc_issuer_metadata, ctx, ags)
    return JSONResponse(found, headers=_PUBLIC)


@router.get("/vct/{usecase}", responses={404: {"description": "Unbekannte Dokumentart"}})
def type_metadata(usecase: Annotated[str, Path(max_length=64)], ctx: ContextDep,
                  _: RateLimitedApiKey) -> JSONResponse:
    """SD-JWT VC Type Metadata of a document type (names, claims and their labels, de/en)."""
    return JSONResponse(sd_jwt_vc.type_metadata(ctx, usecase),
                        headers={**_PUBLIC, "Cache-Control": "public, max-age=86400"})


@router.get("/status/{ags}/token/{list_no}",
            responses={200: {"content": {sd_jwt_vc.STATUS_LIST_MEDIA_TYPE: {}}},
                       304: {"description": "Unverändert (If-None-Match)"},
                       404: {"description": "Keine solche Statusliste"},
                       503: {"description": "Ledger nicht erreichbar"}})
async def status_list_token(ags: Ags, list_no: Annotated[int, Path(ge=0, le=1_000_000)],
                            ctx: ContextDep, engine: EngineDep, _: RateLimitedApiKey,
                            if_none_match: Annotated[str | None, Header()] = None) -> Response:
    """A Token Status List (2 bits: 0 valid, 1 revoked, 2 suspended) of the municipality, made
    from the ledger's status index and signed by the municipality."""
    def make() -> sd_jwt_vc.StatusToken:
        with UnitOfWork(engine) as uow:
            return sd_jwt_vc.status_list_token(ctx, uow, ags, list_no)
    found = await run_in_threadpool(make)
    headers = {**_PUBLIC, "ETag": found.etag,
               "Cache-Control": f"public, max-age={sd_jwt_vc.STATUS_TOKEN_TTL}"}
    if if_none_match is not None and found.etag in {t.strip() for t in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(found.token, media_type=sd_jwt_vc.STATUS_LIST_MEDIA_TYPE, headers=headers)


# -- OpenID4VCI endpoints ---------------------------------------------------------------------

@router.post("/oid4vci/token", responses={400: {"description": "OAuth-Fehler (error, "
                                                                "error_description)"}})
async def token(request: Request, engine: EngineDep, _: RateLimitedApiKey) -> JSONResponse:
    """Token endpoint: pre-authorized code and PIN (tx_code) for an access token, once."""
    form = await _form(request)

    def redeem() -> dict[str, Any]:
        with UnitOfWork(engine) as uow:
            answer = oid4vc.redeem_code(uow, form)
            uow.commit()
            return answer
    return JSONResponse(await run_in_threadpool(redeem), headers=_NO_STORE)


@router.post("/oid4vci/nonce")
def nonce(key: TokenKeyDep, _: RateLimitedApiKey) -> JSONResponse:
    """Nonce endpoint: a fresh c_nonce for the wallet's key proof."""
    return JSONResponse({"c_nonce": oid4vc.new_nonce(key)}, headers=_NO_STORE)


@router.post("/oid4vci/credential",
             responses={200: {"description": "{credentials: [{credential: SD-JWT VC}]}"},
                        400: {"description": "OAuth-Fehler (invalid_proof, invalid_nonce, …)"},
                        401: {"description": "invalid_token"}})
async def credential(request: Request, ctx: ContextDep, engine: EngineDep, key: TokenKeyDep,
                     _: RateLimitedApiKey,
                     authorization: Annotated[str | None, Header()] = None) -> JSONResponse:
    """Credential endpoint: the offered document as an SD-JWT VC bound to the wallet's key."""
    scheme, _sep, access_token = (authorization or "").partition(" ")
    if scheme.lower() not in ("bearer", "dpop") or not access_token:
        raise OAuthError("invalid_token", "Zugriffstoken fehlt (Authorization: Bearer …)", 401)
    try:
        body = strictjson.loads(await request.body())
    except strictjson.JsonInputError as err:
        raise OAuthError("invalid_credential_request", f"Anfrage ist kein JSON: {err}") from None
    if not isinstance(body, dict):
        raise OAuthError("invalid_credential_request", "Anfrage muss ein JSON-Objekt sein")
    address = client_address(request)

    def issue() -> dict[str, Any]:
        with UnitOfWork(engine) as uow:
            answer = oid4vc.issue_credential(ctx, uow, access_token.strip(), body, key,
                                             address=address)
            uow.commit()
            return answer
    return JSONResponse(await run_in_threadpool(issue), headers=_NO_STORE)


# -- OpenID4VP response endpoint ----------------------------------------------------------------

@router.post("/oid4vp/response/{request_id}",
             responses={400: {"description": "OAuth-Fehler (invalid_request)"}})
async def presentation_response(request_id: RequestId, request: Request, ctx: ContextDep,
                                engine: EngineDep, _: RateLimitedApiKey) -> JSONResponse:
    """direct_post of a wallet's answer (vp_token, state): verified and kept for the checker."""
    form = await _form(request)

    def receive() -> dict[str, Any]:
        with UnitOfWork(engine) as uow:
            answer = oid4vc.receive_response(ctx, uow, request_id, form)
            uow.commit()
            return answer
    return JSONResponse(await run_in_threadpool(receive), headers=_NO_STORE)


# -- the API: offers and presentation requests ------------------------------------------------

class OfferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lifetime_minutes: int = Field(10, ge=1, le=1440, alias="lifetimeMinutes")


class OfferOut(BaseModel):
    id: str
    document_id: str = Field(serialization_alias="documentId")
    offer: str = Field(description="openid-credential-offer://… (als QR-Code zeigen)")
    pin: str = Field(description="Transaktionscode (PIN), getrennt vom QR-Code zeigen")
    expires_at: datetime = Field(serialization_alias="expiresAt")


@api.post("/documents/{document_id}/wallet-offers", status_code=201,
          response_model_by_alias=True,
          responses={401: {"description": "Nicht angemeldet"},
                     404: {"description": "Kein Dokument, das Sie sehen dürfen"},
                     409: {"description": "Noch nicht verankert oder widerrufen"}})
def create_offer(document_id: str, uow: UoWDep, ctx: ContextDep, actor: CurrentActor,
                 body: OfferIn | None = None) -> OfferOut:
    """Offers the document to the holder's wallet (OpenID4VCI, pre-authorized code with PIN)."""
    lifetime = (timedelta(minutes=body.lifetime_minutes) if body is not None
                else oid4vc.OFFER_LIFETIME)
    made = oid4vc.create_offer(ctx, uow, actor, document_id, lifetime=lifetime)
    uow.commit()
    return OfferOut(id=made.id, document_id=made.document_id, offer=made.uri, pin=made.pin,
                    expires_at=made.expires_at)


class PresentationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    usecase: str = Field(max_length=64)


class PresentationOut(BaseModel):
    id: str
    usecase: str
    request: str = Field(description="openid4vp://… (als QR-Code oder Link zeigen)")
    expires_at: datetime = Field(serialization_alias="expiresAt")
    result_url: str = Field(serialization_alias="resultUrl")


@api.post("/presentations", status_code=201, response_model_by_alias=True)
def create_presentation(body: PresentationIn, uow: UoWDep, ctx: ContextDep,
                        _: RateLimitedApiKey) -> PresentationOut:
    """Asks a wallet for a document of a type (OpenID4VP, DCQL naming only what a checker
    needs); the answer is at resultUrl once the wallet responded."""
    made = oid4vc.create_request(ctx, uow, body.usecase)
    uow.commit()
    return PresentationOut(id=made.id, usecase=made.usecase, request=made.uri,
                           expires_at=made.expires_at,
                           result_url=f"{ctx.base_url}/api/v1/presentations/{made.id}")


@api.get("/presentations/{request_id}",
         responses={404: {"description": "Unbekannte oder abgelaufene Anfrage"}})
def presentation_result(request_id: RequestId, uow: UoWDep, _: RateLimitedApiKey
                        ) -> JSONResponse:
    """Whether the wallet answered, and the verification result with the claims it showed."""
    found = oid4vc.result_of(uow, request_id)
    return JSONResponse({"id": found.request_id, "usecase": found.usecase,
                         "answered": found.answered, "expiresAt": found.expires_at.isoformat(),
                         "result": found.result}, headers=_NO_STORE)

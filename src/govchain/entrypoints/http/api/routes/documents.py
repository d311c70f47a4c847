"""Issuing, listing, revoking, suspending and sharing a municipality's documents.

Who may do what is decided in the service layer; these routes translate HTTP to service calls,
commit, and write the audit log.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from govchain import services
from govchain.adapters.db import UnitOfWork
from govchain.adapters.db.repositories import MAX_PAGE, DocumentRecord
from govchain.domain.vocabulary import DocumentState, LedgerStatus
from govchain.entrypoints.http.api.schemas import (
    BulkAccepted,
    BulkIssuedOut,
    BulkIssueIn,
    BulkRejected,
    DocumentDetail,
    DocumentPage,
    DocumentSummary,
    EventOut,
    FieldErrorOut,
    IssuedOut,
    IssueIn,
    LinkIn,
    LinkOut,
    ReasonIn,
)
from govchain.entrypoints.http.deps import (
    AnchoringDep,
    BearerToken,
    ContextDep,
    CurrentActor,
    EngineDep,
    SettingsDep,
    TokenKeyDep,
    UoWDep,
    actor_of,
    client_address,
    user_for_token,
)
from govchain.entrypoints.http.routing import StrictJsonRoute
from govchain.errors import ConflictError
from govchain.services import credentials, sd_jwt_vc

router = APIRouter(prefix="/documents", tags=["documents"], route_class=StrictJsonRoute)

Responses = dict[int | str, dict[str, Any]]
_NOT_FOUND: Responses = {404: {"description": "Kein Dokument mit dieser ID, das Sie sehen dürfen"}}
_AUTH: Responses = {401: {"description": "Nicht angemeldet"}, 403: {"description": "Nicht berechtigt"}}


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model_exclude_unset=True,
             responses={**_AUTH, 201: {"description": "Ausgestellt und verankert (mit wait=true)",
                                       "model": IssuedOut},
                        422: {"description": "Ungültige Angaben, je Feld benannt"}})
async def issue(body: IssueIn, request: Request, response: Response, ctx: ContextDep,
                engine: EngineDep, settings: SettingsDep, anchoring: AnchoringDep,
                token: BearerToken, key: TokenKeyDep, wait: bool = False) -> IssuedOut:
    """Issues a document (clerks) or submits a Wohnungsgeberbestätigung (landlords, with
    ``municipality``). The document is stored at once and anchored in the next batch (202,
    status ``pending``); with ``wait=true`` the answer waits for the anchor (201, with the issued
    document). Landlords always wait and also get the Zuordnungsmerkmal and a verification link;
    they cannot set ``validFrom``/``validUntil`` (422): a confirmation holds from its receipt.
    """
    # The busiest write of the service: one thread hop for sign-in, issuing and audit, none
    # while waiting for the anchor (a held thread per waiting request throttled the service).
    def accept() -> tuple[services.Actor, services.Issued]:
        with UnitOfWork(engine) as uow:
            actor = actor_of(user_for_token(uow, key, token, address=client_address(request)),
                             request)
            issued = services.issue_for(ctx, uow, actor, body.usecase, body.subject,
                                        municipality=body.municipality,
                                        valid_from=body.valid_from, valid_until=body.valid_until)
            uow.commit()
            return actor, issued

    actor, issued = await run_in_threadpool(accept)
    record = issued.record
    anchoring.notify(record.account)
    landlord = actor.role == "landlord"
    link = None
    if wait or landlord:  # else the stored record is the answer: pending
        await anchoring.wait_async([record.id], settings.anchor_wait_seconds)

        def anchored() -> tuple[DocumentRecord, services.CreatedLink | None]:
            with UnitOfWork(engine) as fresh:
                shared = services.share_landlord_confirmation(ctx, fresh, actor, record.id,
                                                              base_url=settings.base_url)
                fresh.commit()
                return shared

        record, link = await run_in_threadpool(anchored)
    if record.state == "anchored":
        response.status_code = status.HTTP_201_CREATED
    out = IssuedOut(id=record.id, status=record.state, document=record.document)
    if landlord:  # only landlords get these keys at all
        out.landlord_code = issued.landlord_code
        if link is not None:
            out.link = LinkOut.of(link)
    return out


@router.post("/bulk", status_code=status.HTTP_202_ACCEPTED,
             responses={**_AUTH, 422: {"description": "Keine gültige Anfrage"}})
def issue_bulk(body: BulkIssueIn, request: Request, response: Response, ctx: ContextDep,
               uow: UoWDep, settings: SettingsDep, anchoring: AnchoringDep, actor: CurrentActor,
               wait: bool = False) -> BulkIssuedOut:
    """Issues many documents of one use case at once (clerks, up to 10,000 per request). Each
    valid item is stored and anchored in the next batches; each invalid item is reported with
    its index and field errors and nothing else about the request fails. With ``wait=true`` the
    answer waits (up to the configured time) for the anchors."""
    result = services.issue_bulk_for(ctx, uow, actor, body.usecase, [
        services.IssueRequest(subject=i.subject, valid_from=i.valid_from,
                              valid_until=i.valid_until) for i in body.items])
    uow.commit()
    anchoring.notify()
    ids = [doc_id for _, doc_id in result.accepted]
    anchored = bool(ids) and wait and anchoring.wait(ids, settings.anchor_wait_seconds)
    if anchored:
        response.status_code = status.HTTP_201_CREATED
    return BulkIssuedOut(
        accepted=[BulkAccepted(index=i, id=d) for i, d in result.accepted],
        rejected=[BulkRejected(index=i, errors=[FieldErrorOut(loc=p, msg=m) for p, m in errs])
                  for i, errs in result.rejected],
        status="anchored" if anchored else "pending")


@router.get("", responses=_AUTH)
def list_documents(
    uow: UoWDep, actor: CurrentActor,
    usecase: str | None = None,
    state: DocumentState | None = None,
    ledger_status: Annotated[LedgerStatus | None, Query(alias="ledgerStatus")] = None,
    search: Annotated[str | None, Query(max_length=200)] = None,
    offset: Annotated[int, Query(ge=0, le=2 ** 31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> DocumentPage:
    """The clerk's municipality's documents, or a landlord's own submissions; newest first."""
    page = services.list_documents_for(uow, actor, usecase=usecase, state=state,
                                       ledger_status=ledger_status, search=search,
                                       offset=offset, limit=limit)
    return DocumentPage(items=[DocumentSummary.of(r) for r in page.items], total=page.total)


@router.get("/{document_id}", responses={**_AUTH, **_NOT_FOUND})
def get_document(document_id: str, uow: UoWDep, actor: CurrentActor) -> DocumentDetail:
    """One document with its history."""
    record = services.get_document_for(uow, actor, document_id)
    events = [EventOut.of(e) for e in uow.status_events.for_document(record.id)]
    return DocumentDetail(**DocumentSummary.of(record).model_dump(), document=record.document,
                          events=events)


@router.get("/{document_id}/credential",
            responses={**_AUTH, **_NOT_FOUND,
                       200: {"content": {"application/vc+ld+json": {}, "application/json": {},
                                         sd_jwt_vc.MEDIA_TYPE: {}}},
                       409: {"description": "Noch nicht verankert, vor den offenen Standards "
                                            "ausgestellt, oder kein Signaturschlüssel"}})
def credential(document_id: str, ctx: ContextDep, uow: UoWDep, actor: CurrentActor,
               format: Annotated[Literal["vc", "govchain", "sd-jwt-vc"], Query()] = "vc"
               ) -> Response:
    """The issued document: `vc` as a W3C VC 2.0 with a proof set (govchain's Merkle proof and
    a Data Integrity proof, ecdsa-rdfc-2019, signed by the municipality when first asked for),
    `govchain` as govchain's own document, `sd-jwt-vc` as an SD-JWT VC with every disclosure
    (not bound to a wallet key; a wallet gets its own over OpenID4VCI)."""
    record = services.get_document_for(uow, actor, document_id)
    if format == "govchain":
        if record.document is None:
            raise ConflictError("Das Dokument ist noch nicht verankert")
        return JSONResponse(record.document, media_type="application/json")
    if format == "sd-jwt-vc":
        return Response(sd_jwt_vc.sd_jwt_vc_for(ctx, record), media_type=sd_jwt_vc.MEDIA_TYPE,
                        headers={"Cache-Control": "no-store"})
    vc = credentials.credential_for(ctx, uow, record)
    uow.commit()
    return JSONResponse(vc, media_type="application/vc+ld+json")


@router.post("/{document_id}/certificate",
             responses={**_AUTH, **_NOT_FOUND,
                        200: {"content": {"application/pdf": {}},
                              "description": "Die PDF-Bescheinigung"},
                        400: {"description": "Noch nicht verankert"}})
def certificate(document_id: str, ctx: ContextDep, uow: UoWDep, settings: SettingsDep,
                actor: CurrentActor, lang: Literal["de", "en"] = "de") -> Response:
    """The PDF certificate, as the pages give it: the document by section, a QR code to a new
    verification link (valid until the document's ``validUntil``) with its code printed beside
    it, and the document's JSON attached. POST, since each call creates (and audits) a link."""
    record, pdf = services.certificate_for(ctx, uow, actor, document_id,
                                           base_url=settings.base_url, lang=lang)
    uow.commit()
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{services.download_name(record)}.pdf"',
        "Cache-Control": "no-store"})


def _change_status(document_id: str, action: services.Action, reason: str | int | None,
                   request: Request, ctx: ContextDep, uow: UnitOfWork,
                   actor: services.Actor) -> DocumentSummary:
    record = services.change_status_for(ctx, uow, actor, document_id, action, reason)
    uow.commit()
    return DocumentSummary.of(record)


@router.post("/{document_id}/revoke", responses={**_AUTH, **_NOT_FOUND})
def revoke(document_id: str, body: ReasonIn, request: Request, ctx: ContextDep, uow: UoWDep,
           actor: CurrentActor) -> DocumentSummary:
    """Revokes the document on the ledger for good."""
    return _change_status(document_id, "revoke", body.reason, request, ctx, uow, actor)


@router.post("/{document_id}/suspend", responses={**_AUTH, **_NOT_FOUND})
def suspend(document_id: str, body: ReasonIn, request: Request, ctx: ContextDep, uow: UoWDep,
            actor: CurrentActor) -> DocumentSummary:
    """Suspends the document until it is reinstated."""
    return _change_status(document_id, "suspend", body.reason, request, ctx, uow, actor)


@router.post("/{document_id}/reinstate", responses={**_AUTH, **_NOT_FOUND})
def reinstate(document_id: str, request: Request, ctx: ContextDep, uow: UoWDep,
              actor: CurrentActor) -> DocumentSummary:
    """Lifts a suspension."""
    return _change_status(document_id, "reinstate", None, request, ctx, uow, actor)


@router.post("/{document_id}/links", status_code=status.HTTP_201_CREATED,
             responses={**_AUTH, **_NOT_FOUND})
def create_link(document_id: str, body: LinkIn, request: Request, ctx: ContextDep, uow: UoWDep,
                settings: SettingsDep, actor: CurrentActor) -> LinkOut:
    """A verification link (capability URL) for the document, optionally with hidden fields and
    an expiry; the URL is shown only now."""
    link = services.create_link_for(ctx, uow, actor, document_id, base_url=settings.base_url,
                                    hide=body.hide, expires_at=body.expires_at)
    uow.commit()
    return LinkOut.of(link)

"""The citizen's wallet on the pages: a clerk (or the landlord who submitted it) offers an anchored
document to the holder's wallet — a QR code and, shown apart from it, the PIN — and anyone checks a
document from a wallet at /verify/wallet: a QR code to scan, then the ledger's answer with exactly
the claims the wallet disclosed. The protocol lives in services.oid4vc."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from markupsafe import Markup

from govchain import services
from govchain.adapters.db import DocumentRecord
from govchain.domain.pointers import escape_token
from govchain.domain.usecases import UseCase, schema_title
from govchain.domain.verification import VerificationResult
from govchain.entrypoints.http.deps import ContextDep, SettingsDep, UoWDep, limit_public
from govchain.entrypoints.http.web.forms import FieldLabels
from govchain.entrypoints.http.web.i18n import Translator, lang_of
from govchain.entrypoints.http.web.presenting import ResultView, result_view
from govchain.entrypoints.http.web.rendering import TOKEN_HEADERS, WebRoute, redirect, render
from govchain.entrypoints.http.web.session import (
    CheckedForm,
    OptionalActor,
    WebPeople,
    secure_cookies,
)
from govchain.errors import RecordNotFoundError
from govchain.services import oid4vc

router = APIRouter(route_class=WebRoute, include_in_schema=False)

REFRESH_SECONDS = 3
# The request URI holds the state that lets a wallet answer; it is not stored on the server, so
# the browser that asked keeps it (this cookie, scoped to the request's page) to show it again on
# each refresh. Another browser sees the answer, never the QR code.
REQUEST_COOKIE = "gc_wallet_request"
_REQUEST_ID = re.compile(r"[0-9a-f]{32}")
_GONE = "Diese Anfrage gibt es nicht (mehr); bitte eine neue stellen"


def qr_svg(data: str, title: str, svg_id: str) -> Markup:
    """`data` as an inline SVG QR code, named by `title` for assistive technology; it scales to
    its box (CSS) instead of having a fixed size."""
    # segno (≈0.4 s to import) loads with the first QR code shown, not with every process.
    import segno

    svg = segno.make(data, error="m").svg_inline(
        omitsize=True, title=title, dark="#000", light="#fff", svgid=svg_id, svgclass="qr-code",
        lineclass=None)
    return Markup(svg.replace("<svg ", '<svg role="img" focusable="false" ', 1))


def wallet_ready(record: DocumentRecord) -> bool:
    """Whether the pages offer to put the document into a wallet (the service's rule)."""
    return oid4vc.offer_refusal(record) is None


def _title(usecase: UseCase, t: Translator) -> str:
    return t.pick(usecase.title, usecase.id)


# -- offers ---------------------------------------------------------------------------------

@router.post("/documents/{document_id}/wallet-offer")
def create_offer(request: Request, document_id: str, form: CheckedForm, ctx: ContextDep,
                 uow: UoWDep, actor: WebPeople) -> Response:
    """A credential offer for the holder's wallet: shown once, QR code and PIN apart."""
    del form
    record = services.get_document_for(uow, actor, document_id)
    offer = oid4vc.create_offer(ctx, uow, actor, record.id)
    uow.commit()
    t = Translator(lang_of(request))
    title = _title(ctx.usecases.get(record.usecase), t)
    minutes = int(oid4vc.OFFER_LIFETIME.total_seconds() // 60)
    return render(request, "wallet_offer.html", headers=TOKEN_HEADERS, record=record, title=title,
                  offer=offer, minutes=minutes, attempts=oid4vc.MAX_PIN_ATTEMPTS,
                  qr=qr_svg(offer.uri, t("offer.qr_title", title=title), "offer-qr"))


# -- checking a wallet's document -------------------------------------------------------------

def _choice_page(request: Request, ctx: ContextDep, *, status: int = 200,
                 error: str | None = None) -> Response:
    t = Translator(lang_of(request))
    usecases = sorted(ctx.usecases, key=lambda u: _title(u, t).casefold())
    return render(request, "wallet_verify.html", status=status, error=error,
                  usecases=[(u.id, _title(u, t), t.pick(u.description)) for u in usecases],
                  minutes=int(oid4vc.REQUEST_LIFETIME.total_seconds() // 60))


@router.get("/verify/wallet")
def wallet_verify_page(request: Request, ctx: ContextDep, actor: OptionalActor) -> Response:
    """Which document the checker wants to see from a wallet."""
    del actor  # signed-in users see their navigation here too
    return _choice_page(request, ctx)


@router.post("/verify/wallet", dependencies=[Depends(limit_public)])
def ask_wallet(request: Request, form: CheckedForm, ctx: ContextDep, uow: UoWDep,
               settings: SettingsDep, actor: OptionalActor) -> Response:
    """A presentation request for the chosen type; its page shows the QR code."""
    del actor
    usecase = form.get("usecase")
    if not isinstance(usecase, str) or usecase not in ctx.usecases:
        t = Translator(lang_of(request))
        return _choice_page(request, ctx, status=400, error=t("wallet_check.choose_error"))
    made = oid4vc.create_request(ctx, uow, usecase)
    uow.commit()
    page = f"/verify/wallet/{made.id}"
    response = redirect(request, page, headers=TOKEN_HEADERS)
    response.set_cookie(REQUEST_COOKIE, base64.urlsafe_b64encode(made.uri.encode()).decode(),
                        max_age=int(oid4vc.REQUEST_LIFETIME.total_seconds()), path=page,
                        httponly=True, samesite="lax", secure=secure_cookies(settings))
    return response


def _kept_request_uri(request: Request, request_id: str) -> str | None:
    """The request URI this browser was given for `request_id`, if it kept it."""
    kept = request.cookies.get(REQUEST_COOKIE)
    if not kept or len(kept) > 4096:
        return None
    try:
        uri = base64.urlsafe_b64decode(kept.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    # only a request of this page (its response_uri names the id) is shown as its QR code
    return uri if uri.startswith("openid4vp://?") and request_id in uri else None


def asked_claims(usecase: UseCase, t: Translator) -> list[str]:
    """The labels of the claims a request for `usecase` asks a wallet to show."""
    labels = FieldLabels(usecase, t)
    pointers = ["/" + "/".join(escape_token(name) for name in path)
                for path in oid4vc.claim_paths(usecase)]
    return [labels.label(p, {"title": schema_title(usecase.schema, p)}) for p in pointers]


def _answer_view(answer: dict[str, Any], ctx: ContextDep, t: Translator
                 ) -> tuple[ResultView | None, dict[str, str] | None, int]:
    """(result view, the wallet's refusal, HTTP status) of a stored answer."""
    if "status" not in answer:  # the wallet (or its user) declined: no document was shown
        return None, {"error": str(answer.get("error") or ""),
                      "description": str(answer.get("error_description") or "")}, 200
    result = VerificationResult.from_json(answer)
    claims = answer.get("claims")
    # exactly what the wallet disclosed, laid out like a document's subject
    document = {"credentialSubject": claims if isinstance(claims, dict) else {}}
    view = result_view(result, document, ctx.usecases, t)
    return view, None, 503 if result.ledger_unreachable else 200


@router.get("/verify/wallet/{request_id}")
def wallet_answer(request: Request, request_id: str, ctx: ContextDep, uow: UoWDep,
                  settings: SettingsDep, actor: OptionalActor, refresh: str = "") -> Response:
    """Until the wallet answered: the QR code (this browser only) and the same-device link,
    reloading itself; then the answer first, the ledger's checks and the disclosed claims."""
    del actor
    if not _REQUEST_ID.fullmatch(request_id):
        raise RecordNotFoundError(_GONE)
    found = oid4vc.result_of(uow, request_id)
    t = Translator(lang_of(request))
    usecase = ctx.usecases.get(found.usecase)
    title = _title(usecase, t)
    if not found.answered or found.result is None:
        uri = _kept_request_uri(request, request_id)
        auto = refresh != "off"
        return render(request, "wallet_check.html", headers=TOKEN_HEADERS, title=title,
                      request_id=request_id, waiting=True, auto=auto, uri=uri,
                      refresh=REFRESH_SECONDS if auto else None, expires_at=found.expires_at,
                      asked=asked_claims(usecase, t),
                      qr=qr_svg(uri, t("wallet_check.qr_title", title=title), "request-qr")
                      if uri else None)
    view, declined, status = _answer_view(found.result, ctx, t)
    response = render(request, "wallet_check.html", status=status, headers=TOKEN_HEADERS,
                      title=title, request_id=request_id, waiting=False, result=view,
                      declined=declined)
    response.delete_cookie(REQUEST_COOKIE, path=f"/verify/wallet/{request_id}", httponly=True,
                           samesite="lax", secure=secure_cookies(settings))
    return response

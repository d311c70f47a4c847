"""Pages anyone may open: start page, login and logout, and the verification pages."""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from govchain import services
from govchain.adapters.identity import IdentityProviderError
from govchain.domain import strictjson
from govchain.domain.security import normalize_link_code
from govchain.entrypoints.http.deps import (
    ContextDep,
    LoginThrottleDep,
    SettingsDep,
    TokenKeyDep,
    UoWDep,
    audit,
    end_session,
    limit_public,
)
from govchain.entrypoints.http.login import LoginRefused, log_in
from govchain.entrypoints.http.oidc_login import (
    ID_TOKEN_COOKIE,
    PENDING_COOKIE,
    PENDING_COOKIE_PATH,
    PENDING_MAX_AGE,
    finish_sign_in,
    oidc_client_of,
    seal_pending,
)
from govchain.entrypoints.http.ratelimit import retry_after_header
from govchain.entrypoints.http.tokens import (
    DEVICE_COOKIE,
    DEVICE_COOKIE_MAX_AGE,
    issue_device_cookie,
    known_device,
)
from govchain.entrypoints.http.web.i18n import Translator, lang_of
from govchain.entrypoints.http.web.presenting import result_view
from govchain.entrypoints.http.web.rendering import (
    PRIVATE_HEADERS,
    TOKEN_HEADERS,
    WebRoute,
    error_page,
    redirect,
    render,
)
from govchain.entrypoints.http.web.session import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    CheckedForm,
    OptionalActor,
    checked_form,
    secure_cookies,
    set_cookie,
)
from govchain.errors import InputError, PermissionDeniedError
from govchain.services.audit import AuditAction

router = APIRouter(route_class=WebRoute, include_in_schema=False)

HOME_OF_ROLE = {"clerk": "/documents", "landlord": "/landlord", "registrar": "/registry"}


@router.get("/")
def home(request: Request, actor: OptionalActor) -> Response:
    if actor is not None:
        return redirect(request, HOME_OF_ROLE[actor.role])
    return render(request, "home.html")


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: never a redirect to elsewhere after login."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return None
    return target


@router.get("/login")
def login_page(request: Request, actor: OptionalActor, next: str | None = None) -> Response:
    if actor is not None:
        return redirect(request, _safe_next(next) or HOME_OF_ROLE[actor.role])
    return render(request, "login.html", next=_safe_next(next) or "", username="", error=None,
                  oidc=oidc_client_of(request) is not None)


@router.post("/login")
def login(request: Request, form: CheckedForm, uow: UoWDep, settings: SettingsDep,
          key: TokenKeyDep, throttle: LoginThrottleDep) -> Response:
    """The API's login (same throttle, same password check), its token kept in a cookie."""
    t = Translator(lang_of(request))
    username = str(form.get("username") or "")
    password = str(form.get("password") or "")
    target = _safe_next(str(form.get("next") or ""))
    try:
        done = log_in(request, uow, settings, key, throttle, username, password)
    except LoginRefused as refused:
        code = 429 if refused.retry_after else 401
        return render(request, "login.html", status=code,
                      headers=retry_after_header(refused.retry_after) if refused.retry_after
                      else None,
                      next=target or "", username=username,
                      oidc=oidc_client_of(request) is not None,
                      error=t("login.throttled") if refused.retry_after else t("login.failed"))
    request.state.session_token = done.token
    user = done.user
    response = redirect(request, target or HOME_OF_ROLE[user.role])
    set_cookie(response, settings, SESSION_COOKIE, done.token, max_age=done.expires_in)
    if known_device(key, username, request.cookies.get(DEVICE_COOKIE)) is None:
        # From now on failed logins elsewhere for this user do not lock this browser out.
        set_cookie(response, settings, DEVICE_COOKIE, issue_device_cookie(key, username),
                   max_age=DEVICE_COOKIE_MAX_AGE)
    return response


@router.get("/login/oidc")
def login_oidc(request: Request, settings: SettingsDep, key: TokenKeyDep,
               next: str | None = None) -> Response:
    """To the identity provider; what its answer is checked against stays in a short cookie."""
    client = oidc_client_of(request)
    if client is None:
        raise HTTPException(404)
    try:
        started = client.begin()
    except IdentityProviderError as err:
        return error_page(request, 503, str(err))
    response = redirect(request, started.url, headers=PRIVATE_HEADERS)
    response.set_cookie(PENDING_COOKIE, seal_pending(key, started, _safe_next(next)),
                        max_age=PENDING_MAX_AGE, path=PENDING_COOKIE_PATH, httponly=True,
                        samesite="lax", secure=secure_cookies(settings))
    return response


@router.get("/login/oidc/callback")
def login_oidc_callback(request: Request, uow: UoWDep, settings: SettingsDep,
                        key: TokenKeyDep) -> Response:
    """The provider's answer: a session like a password login, or a refusal page (403). The
    pending cookie is spent either way."""
    client = oidc_client_of(request)
    if client is None:
        raise HTTPException(404)
    t = Translator(lang_of(request))
    try:
        if request.query_params.get("error"):
            response = error_page(request, 403, t("login.oidc_cancelled"))
        else:
            signed_in, target = finish_sign_in(request, uow, settings, key, client)
            done = signed_in.logged_in
            request.state.session_token = done.token
            response = redirect(request, target or HOME_OF_ROLE[done.user.role],
                                headers=PRIVATE_HEADERS)
            set_cookie(response, settings, SESSION_COOKIE, done.token, max_age=done.expires_in)
            set_cookie(response, settings, ID_TOKEN_COOKIE, signed_in.id_token,
                       max_age=done.expires_in)
    except IdentityProviderError as err:
        response = error_page(request, 503, str(err))
    except PermissionDeniedError as err:  # the refusals: state, code, ID token, claims, account
        response = error_page(request, 403, f"{t('login.oidc_refused')} {err}")
    response.delete_cookie(PENDING_COOKIE, path=PENDING_COOKIE_PATH, httponly=True,
                           samesite="lax", secure=secure_cookies(settings))
    return response


@router.post("/logout")
def logout(request: Request, form: CheckedForm, uow: UoWDep, settings: SettingsDep,
           key: TokenKeyDep) -> Response:
    """Ends the session's token on the server (a copy of the cookie no longer works) and drops
    the cookies; the device cookie stays, it is no session."""
    del form
    with contextlib.suppress(HTTPException):  # a session that had ended anyway
        user = end_session(uow, key, request.cookies.get(SESSION_COOKIE))
        audit(uow, request, user.id, AuditAction.AUTH_LOGOUT, f"user:{user.id}")
        uow.commit()
    response = redirect(request, "/login?logged_out=1")
    client = oidc_client_of(request)
    id_token = request.cookies.get(ID_TOKEN_COOKIE)
    if client is not None and id_token:  # signed in at the provider: end that too
        provider_logout = client.logout_url(id_token, f"{settings.base_url}/login?logged_out=1")
        if provider_logout:
            response = redirect(request, provider_logout)
    for name in (SESSION_COOKIE, CSRF_COOKIE, ID_TOKEN_COOKIE):
        response.delete_cookie(name, path="/", httponly=True, samesite="lax",
                               secure=secure_cookies(settings))
    return response


# -- verification ---------------------------------------------------------------------------------

def _verify_form(request: Request, *, status: int = 200, error: str | None = None,
                 error_field: str | None = None, pasted: str = "", code: str = "") -> Response:
    return render(request, "verify.html", status=status, error=error, error_field=error_field,
                  pasted=pasted, code=code)


@router.get("/verify")
def verify_page(request: Request, actor: OptionalActor, code: str | None = None) -> Response:
    """The form; with ``?code=`` (the printed code beside the QR code) straight to its link."""
    del actor  # signed-in users see their navigation here too
    if code is not None:
        try:
            token = normalize_link_code(code)
        except InputError as err:
            return _verify_form(request, status=400, error=str(err), error_field="code", code=code)
        return redirect(request, f"/v/{token}", headers=TOKEN_HEADERS)
    return _verify_form(request)


async def _document_from_form(request: Request, form: Any, limit: int) -> dict[str, Any]:
    t = Translator(lang_of(request))
    upload = form.get("document_file")
    text = ""
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise InputError(t("verify.too_large", limit=limit))
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(t("verify.not_json")) from None
    else:
        text = str(form.get("document_json") or "")
    if not text.strip():
        raise InputError(t("verify.nothing"))
    if len(text.encode("utf-8")) > limit:
        raise InputError(t("verify.too_large", limit=limit))
    try:
        document = strictjson.loads(text)
    except strictjson.JsonInputError as err:
        # Not JSON at all in the page's language; else what is wrong (too deep, a name twice, a
        # number outside RFC 8785), in German.
        raise InputError(t("verify.not_json") if err.malformed else str(err)) from None
    if not isinstance(document, dict):
        raise InputError(t("verify.not_object"))
    return document


@router.post("/verify", dependencies=[Depends(limit_public)])
async def verify_document(request: Request, ctx: ContextDep, settings: SettingsDep,
                          actor: OptionalActor) -> Response:
    """Verifies an uploaded or pasted document; UNVERIFIABLE answers 503 with the page."""
    del actor
    declared = request.headers.get("content-length", "")
    limit = settings.max_body_bytes
    t = Translator(lang_of(request))
    if declared.isdigit() and int(declared) > 2 * limit + 4096:
        return _verify_form(request, status=413, error=t("verify.too_large", limit=limit),
                            error_field="document_json")
    await request.form(max_part_size=2 * limit)  # parsed once with this limit, then cached
    form = await checked_form(request)
    try:
        document = await _document_from_form(request, form, limit)
    except InputError as err:
        pasted = str(form.get("document_json") or "")[:limit]
        return _verify_form(request, status=400, error=str(err), error_field="document_json",
                            pasted=pasted)
    result = await run_in_threadpool(services.verify, ctx, document)
    view = result_view(result, document, ctx.usecases, t)
    code = 503 if result.ledger_unreachable else 200
    return render(request, "result.html", status=code, headers=TOKEN_HEADERS,
                  result=view, source="upload")


@router.get("/v/{token}", dependencies=[Depends(limit_public)])
def verification_page(request: Request, token: str, ctx: ContextDep, uow: UoWDep,
                      actor: OptionalActor) -> Response:
    """What the QR code opens: the answer first, then issuer, checks and disclosed fields."""
    del actor
    checked = services.verify_link(ctx, uow, token)
    t = Translator(lang_of(request))
    view = result_view(checked.result, checked.document, ctx.usecases, t)
    code = 503 if checked.result.ledger_unreachable else 200
    return render(request, "result.html", status=code, headers=TOKEN_HEADERS, result=view,
                  source="link")

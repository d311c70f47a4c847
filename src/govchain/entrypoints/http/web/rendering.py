"""Turning templates into responses: the page context, security headers and the error pages.

Every page router uses `WebRoute`, so a govchain error, a refused permission or a bad CSRF token
becomes a page in the visitor's language instead of the API's JSON.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from fastapi import HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from govchain.entrypoints.http.errors import status_of
from govchain.entrypoints.http.routing import StrictJsonRoute
from govchain.entrypoints.http.web.i18n import (
    LANG_COOKIE,
    Translator,
    lang_of,
    requested_lang,
    when,
)
from govchain.entrypoints.http.web.session import (
    CSRF_COOKIE,
    CSRF_FIELD,
    CsrfError,
    LoginRequired,
    csrf_token,
    set_cookie,
)
from govchain.errors import GovchainError
from govchain.settings import Settings

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"

# Strict: nothing from elsewhere, no inline script or style, no framing, forms only to us.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
BASE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# A page whose address or content holds a capability token or personal data.
TOKEN_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
                 "X-Robots-Tag": "noindex"}
PRIVATE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


ENV = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=select_autoescape(default=True),
                  undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
ENV.filters["when"] = when
ENV.filters["day"] = lambda v: when(v, with_time=False)


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _csp(settings: Settings) -> str:
    """The policy; with sign-in through an identity provider, the logout form may end at the
    provider (browsers apply form-action to the redirect after a form too)."""
    if settings.oidc_issuer is None:
        return CSP
    parts = urlsplit(settings.oidc_issuer)
    return CSP.replace("form-action 'self'", f"form-action 'self' {parts.scheme}://{parts.netloc}")


def _finish(request: Request, response: Response, headers: Mapping[str, str] | None) -> Response:
    settings = settings_of(request)
    for name, value in {**BASE_HEADERS, "Content-Security-Policy": _csp(settings),
                        **(headers or {})}.items():
        response.headers[name] = value
    new_seed = getattr(request.state, "new_csrf_seed", None)
    if new_seed:
        set_cookie(response, settings, CSRF_COOKIE, new_seed)
    lang = requested_lang(request)
    if lang:
        set_cookie(response, settings, LANG_COOKIE, lang, max_age=365 * 24 * 3600)
    return response


def page_context(request: Request, **context: Any) -> dict[str, Any]:
    lang = lang_of(request)
    t = Translator(lang)
    actor = getattr(request.state, "actor", None)
    other = "en" if lang == "de" else "de"
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"] + [("lang", other)]
    return {
        "lang_url": f"{request.url.path}?{urlencode(query)}",
        "request": request, "lang": lang, "other_lang": "en" if lang == "de" else "de", "t": t,
        "actor": actor, "csrf_field": CSRF_FIELD, "csrf_token": csrf_token(request),
        "path": request.url.path, "refresh": None,
        "at": t.at, **context,
    }


def render(request: Request, template: str, *, status: int = 200,
           headers: Mapping[str, str] | None = None, **context: Any) -> Response:
    html = ENV.get_template(template).render(page_context(request, **context))
    return _finish(request, HTMLResponse(html, status_code=status), headers)


def redirect(request: Request, url: str, headers: Mapping[str, str] | None = None) -> Response:
    return _finish(request, RedirectResponse(url, status_code=303), headers)


def finish(request: Request, response: Response, headers: Mapping[str, str] | None = None
           ) -> Response:
    """A non-HTML response (file download) with the same security headers."""
    return _finish(request, response, headers)


def error_page(request: Request, status: int, message: str | None = None,
               headers: Mapping[str, str] | None = None) -> Response:
    t = Translator(lang_of(request))
    key = f"error.{status}"
    title = t(key) if t.has(key) else t("error.other")
    return render(request, "error.html", status=status, headers={**PRIVATE_HEADERS, **(headers or {})},
                  title=title, message=message, status_code=status)


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class WebRoute(StrictJsonRoute):
    """A page route: errors become pages, a missing login becomes a redirect to the login."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return redirect(request, "/login?next=" + quote(target, safe=""))
            except CsrfError:
                t = Translator(lang_of(request))
                return error_page(request, 403, t("error.csrf"))
            except HTTPException as err:
                t = Translator(lang_of(request))
                detail = err.detail if err.status_code == 429 else None
                return error_page(request, err.status_code, detail if isinstance(detail, str)
                                  else None, headers=err.headers)
            except RequestValidationError:
                return error_page(request, 400)
            except GovchainError as err:
                code = status_of(err)
                if code == 500:
                    log.error("govchain error on a page: %s", err)
                return error_page(request, code, None if code == 500 else str(err))

        return page_handler

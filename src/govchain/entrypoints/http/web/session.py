"""Sessions and CSRF protection of the pages.

The session cookie carries the same HMAC-signed login token as the API's bearer token
(``api.tokens``), so a session ends when that token expires and is rechecked against the user on
every request exactly like the API does. Every form carries a CSRF token: an HMAC, under a key
derived from the token key, over a random per-browser value kept in its own cookie and over the
session cookie (so a token from before a login is useless after it).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Response
from starlette.datastructures import FormData

from govchain.adapters.db import UnitOfWork
from govchain.entrypoints.http.deps import actor_of, get_current_user, get_uow, token_key_of
from govchain.services import Actor
from govchain.settings import Settings

SESSION_COOKIE = "gc_session"
CSRF_COOKIE = "gc_csrf"
CSRF_FIELD = "csrf_token"
_CSRF_INFO = b"govchain/web/csrf/v1"


class LoginRequired(Exception):
    """The page needs a signed-in user; the visitor is sent to the login page."""


class CsrfError(Exception):
    """A form arrived without a valid CSRF token."""


def secure_cookies(settings: Settings) -> bool:
    return settings.base_url.startswith("https://")


def set_cookie(response: Response, settings: Settings, name: str, value: str,
               max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="lax",
                        secure=secure_cookies(settings))


def csrf_seed(request: Request) -> str:
    """This browser's random CSRF value; a new one is made (and set by `render`) when missing."""
    seed = getattr(request.state, "csrf_seed", None) or request.cookies.get(CSRF_COOKIE)
    if not seed:
        seed = secrets.token_urlsafe(32)
        request.state.new_csrf_seed = seed
    request.state.csrf_seed = seed
    return str(seed)


def _csrf_key(token_key: bytes) -> bytes:
    return hmac.new(token_key, _CSRF_INFO, hashlib.sha256).digest()


def csrf_token(request: Request) -> str:
    key = _csrf_key(token_key_of(request))
    session = getattr(request.state, "session_token", None) or request.cookies.get(
        SESSION_COOKIE, "")
    message = f"{csrf_seed(request)}|{session}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


async def checked_form(request: Request) -> FormData:
    """The posted form, after checking its CSRF token against this browser's cookies."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    seed = request.cookies.get(CSRF_COOKIE)
    if not isinstance(sent, str) or not seed or not hmac.compare_digest(
            sent.encode(), csrf_token(request).encode()):
        raise CsrfError
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]


def optional_actor(request: Request, uow: Annotated[UnitOfWork, Depends(get_uow)]) -> Actor | None:
    """The signed-in user of the session cookie, checked like the API's bearer token."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        user = get_current_user(token, token_key_of(request), uow, request)
    except HTTPException:
        return None
    actor = actor_of(user, request)
    request.state.actor = actor
    return actor


OptionalActor = Annotated[Actor | None, Depends(optional_actor)]


async def required_actor(actor: OptionalActor) -> Actor:
    if actor is None:
        raise LoginRequired
    return actor


WebActor = Annotated[Actor, Depends(required_actor)]


def _role(*roles: str) -> object:
    async def check(actor: WebActor) -> Actor:
        if actor.role not in roles:
            raise HTTPException(403, "forbidden")
        return actor
    return Depends(check)


WebClerk = Annotated[Actor, _role("clerk")]
WebLandlord = Annotated[Actor, _role("landlord")]
WebRegistrar = Annotated[Actor, _role("registrar")]
WebPeople = Annotated[Actor, _role("clerk", "landlord")]

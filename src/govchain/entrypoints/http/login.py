"""Logging in with username and password, one way for the API and the pages: the throttle, the
password check (`services.authenticate`), a login token and its session (listed for the registrar,
who can end it; `open_session`, shared with the sign-in through an identity provider,
`oidc_login`). The API answers a refusal with 401/429, the pages show it on the login form."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import Request

from govchain import services
from govchain.adapters.db import UnitOfWork, UserRecord
from govchain.domain.timefmt import now
from govchain.entrypoints.http.deps import client_address
from govchain.entrypoints.http.ratelimit import Throttle
from govchain.entrypoints.http.tokens import DEVICE_COOKIE, issue_token, known_device, read_token
from govchain.settings import Settings


@dataclass(frozen=True)
class LoggedIn:
    user: UserRecord
    token: str
    expires_in: int  # seconds


class LoginRefused(Exception):
    """Wrong username or password (`retry_after` None), or too many failed tries (seconds)."""

    def __init__(self, retry_after: float | None = None) -> None:
        super().__init__("throttled" if retry_after else "failed")
        self.retry_after = retry_after


def log_in(request: Request, uow: UnitOfWork, settings: Settings, key: bytes,
           throttle: Throttle, username: str, password: str) -> LoggedIn:
    """Too many failures for a username or from one address refuse further tries for a while,
    whether the username exists or not; a browser that logged in as this user before (device
    cookie of the pages) is counted apart."""
    address = client_address(request)
    device = known_device(key, username, request.cookies.get(DEVICE_COOKIE))
    wait = throttle.retry_after(username, address, device)
    if wait:
        raise LoginRefused(retry_after=wait)
    user = services.authenticate(uow, username, password)
    if user is None:
        throttle.failed(username, address, device)
        raise LoginRefused()
    throttle.succeeded(username, device)
    return open_session(request, uow, settings, key, user)


def open_session(request: Request, uow: UnitOfWork, settings: Settings, key: bytes,
                 user: UserRecord) -> LoggedIn:
    """A login token for a user who proved who they are (password, identity provider), its
    session recorded and committed."""
    address = client_address(request)
    ttl = timedelta(minutes=settings.token_ttl_minutes)
    at = now()
    token = issue_token(key, user_id=user.id, role=user.role, at=at, ttl=ttl)
    claims = read_token(key, token, at=at)
    services.start_session(uow, user, claims.token_id, datetime.fromtimestamp(claims.expires, UTC),
                           address=address, user_agent=request.headers.get("user-agent"))
    uow.commit()
    return LoggedIn(user, token, int(ttl.total_seconds()))

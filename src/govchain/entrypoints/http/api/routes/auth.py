"""Login (OAuth2 password flow) and the logged-in user."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from govchain.adapters.db import UserRecord
from govchain.entrypoints.http.deps import (
    BearerToken,
    CurrentUser,
    LoginThrottleDep,
    SettingsDep,
    TokenKeyDep,
    UoWDep,
    audit,
    end_session,
    too_many_requests,
)
from govchain.entrypoints.http.login import LoginRefused, log_in
from govchain.entrypoints.http.routing import StrictJsonRoute
from govchain.services.audit import AuditAction

router = APIRouter(prefix="/auth", tags=["auth"], route_class=StrictJsonRoute)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class UserOut(BaseModel):
    id: int
    username: str
    role: str
    municipality: str | None
    displayName: str  # the API's JSON is camelCase

    @classmethod
    def of(cls, user: UserRecord) -> UserOut:
        return cls(id=user.id, username=user.username, role=user.role,
                   municipality=user.municipality_ags, displayName=user.display_name)


@router.post("/token", responses={401: {"description": "Benutzername oder Passwort falsch"},
                                   429: {"description": "Zu viele Fehlversuche (Retry-After)"}})
def login(form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request, uow: UoWDep,
          settings: SettingsDep, key: TokenKeyDep, throttle: LoginThrottleDep) -> TokenOut:
    """Exchanges username and password for a bearer token. Too many failures for a username or
    from one address refuse further tries for a while, whether the username exists or not; a
    browser that logged in as this user before (device cookie of the pages) is counted apart."""
    try:
        done = log_in(request, uow, settings, key, throttle, form.username, form.password)
    except LoginRefused as refused:
        if refused.retry_after:
            raise too_many_requests(refused.retry_after, "Zu viele fehlgeschlagene Anmeldungen; "
                                    "bitte später erneut versuchen") from None
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Benutzername oder Passwort falsch",
                            headers={"WWW-Authenticate": "Bearer"}) from None
    return TokenOut(access_token=done.token, expires_in=done.expires_in)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT,
             responses={401: {"description": "Nicht angemeldet oder Anmeldung abgelaufen"}})
def logout(token: BearerToken, request: Request, uow: UoWDep, key: TokenKeyDep) -> Response:
    """Ends this login token at once (other logins of the same user stay valid)."""
    user = end_session(uow, key, token)
    audit(uow, request, user.id, AuditAction.AUTH_LOGOUT, f"user:{user.id}")
    uow.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me")
def me(user: CurrentUser) -> UserOut:
    """The logged-in user."""
    return UserOut.of(user)

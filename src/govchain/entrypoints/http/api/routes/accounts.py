"""The registrar's administration of the service's own accounts: staff users (disable, enable,
new password, sessions) and the API keys of institutional verifiers (list, revoke).

Every route needs the registrar role (the service layer checks it too); every change is audited
by the service function that makes it, as the command line's `govchain users` and `govchain
apikeys` and the registrar's pages are.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import Field

from govchain import services
from govchain.adapters.db import ApiKeyRecord, SessionRecord, UserRecord
from govchain.domain.vocabulary import Role
from govchain.entrypoints.http.api.schemas import CamelModel
from govchain.entrypoints.http.deps import CurrentRegistrar, UoWDep, actor_of
from govchain.entrypoints.http.routing import StrictJsonRoute

router = APIRouter(tags=["administration"], route_class=StrictJsonRoute)

VIA = "api"
Responses = dict[int | str, dict[str, Any]]
_AUTH: Responses = {401: {"description": "Nicht angemeldet"},
                    403: {"description": "Nur für die Registrierungsstelle"}}
_USER: Responses = {**_AUTH, 404: {"description": "Kein Benutzer mit dieser ID"}}

UserId = Annotated[int, Path(ge=1, le=2 ** 31 - 1, description="ID des Benutzerkontos")]
ApiKeyId = Annotated[int, Path(ge=1, le=2 ** 31 - 1, description="ID des API-Schlüssels")]


class UserAdminOut(CamelModel):
    id: int
    username: str
    role: str
    municipality: str | None
    display_name: str
    active: bool
    created_at: datetime
    disabled_at: datetime | None
    sessions: int = Field(description="Offene (nicht abgelaufene) Anmeldungen")

    @classmethod
    def of(cls, user: UserRecord, sessions: int) -> UserAdminOut:
        return cls(id=user.id, username=user.username, role=user.role,
                   municipality=user.municipality_ags, display_name=user.display_name,
                   active=user.active, created_at=user.created_at,
                   disabled_at=user.disabled_at, sessions=sessions)


class SessionOut(CamelModel):
    id: int
    created_at: datetime
    expires_at: datetime
    last_seen_at: datetime
    address: str | None = Field(description="Adresse der letzten Anfrage")
    user_agent: str | None = Field(description="Browser oder Programm der Anmeldung")

    @classmethod
    def of(cls, session: SessionRecord) -> SessionOut:
        return cls(id=session.id, created_at=session.created_at, expires_at=session.expires_at,
                   last_seen_at=session.last_seen_at, address=session.address,
                   user_agent=session.user_agent)


class PasswordIn(CamelModel):
    password: str = Field(min_length=1, max_length=1024,
                          description=f"Das neue Passwort, mindestens "
                                      f"{services.MIN_PASSWORD_LENGTH} Zeichen")


class EndSessionsIn(CamelModel):
    session: int | None = Field(default=None, ge=1, le=2 ** 31 - 1,
                                description="Nur diese Sitzung beenden; ohne: alle")


class EndedOut(CamelModel):
    ended: list[int] = Field(description="Die IDs der beendeten Sitzungen")


class ApiKeyOut(CamelModel):
    id: int
    name: str
    prefix: str = Field(description="Die ersten Zeichen des Schlüssels, zum Wiedererkennen")
    active: bool
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, key: ApiKeyRecord) -> ApiKeyOut:
        return cls(id=key.id, name=key.name, prefix=key.prefix, active=key.active,
                   created_at=key.created_at, revoked_at=key.revoked_at,
                   last_used_at=key.last_used_at)


def _user_out(uow: UoWDep, user: UserRecord) -> UserAdminOut:
    return UserAdminOut.of(user, len(uow.login_sessions.for_user(user.id)))


@router.get("/users", responses=_AUTH)
def list_users(uow: UoWDep, registrar: CurrentRegistrar, request: Request,
               role: Role | None = None) -> list[UserAdminOut]:
    """Every staff account (of ``role``) by username, with its state and how many sessions it
    has open."""
    found = services.list_users(uow, actor_of(registrar, request), role=role)
    return [UserAdminOut.of(o.user, o.sessions) for o in found]


@router.post("/users/{user_id}/disable", responses=_USER)
def disable_user(user_id: UserId, uow: UoWDep, registrar: CurrentRegistrar,
                 request: Request) -> UserAdminOut:
    """Disables the account: no more logins, its tokens are refused at once and its sessions
    end (enabling it again brings none back). Not the registrar's own account (400)."""
    user = services.disable_user(uow, actor_of(registrar, request), user_id, via=VIA)
    uow.commit()
    return _user_out(uow, user)


@router.post("/users/{user_id}/enable", responses=_USER)
def enable_user(user_id: UserId, uow: UoWDep, registrar: CurrentRegistrar,
                request: Request) -> UserAdminOut:
    """Lets a disabled account log in again."""
    user = services.enable_user(uow, actor_of(registrar, request), user_id, via=VIA)
    uow.commit()
    return _user_out(uow, user)


@router.post("/users/{user_id}/password",
             responses={**_USER, 422: {"description": "Passwort zu kurz"}})
def reset_password(user_id: UserId, body: PasswordIn, uow: UoWDep, registrar: CurrentRegistrar,
                   request: Request) -> UserAdminOut:
    """Sets a new password for the account and ends all its sessions."""
    user = services.reset_password(uow, actor_of(registrar, request), user_id, body.password,
                                   via=VIA)
    uow.commit()
    return _user_out(uow, user)


@router.get("/users/{user_id}/sessions", responses=_USER)
def list_sessions(user_id: UserId, uow: UoWDep, registrar: CurrentRegistrar,
                  request: Request) -> list[SessionOut]:
    """The account's open sessions (logins to the API or the pages), oldest first."""
    found = services.list_sessions(uow, actor_of(registrar, request), user_id)
    return [SessionOut.of(s) for s in found]


@router.post("/users/{user_id}/sessions/end",
             responses={**_USER, 404: {"description": "Kein Benutzer oder keine solche Sitzung"}})
def end_sessions(user_id: UserId, uow: UoWDep, registrar: CurrentRegistrar, request: Request,
                 body: EndSessionsIn | None = None) -> EndedOut:
    """Ends one session of the account (``{"session": id}``) or, without a body, all of them;
    their tokens are refused from the next request on."""
    ended = services.end_sessions(uow, actor_of(registrar, request), user_id,
                                  body.session if body else None, via=VIA)
    uow.commit()
    return EndedOut(ended=ended)


@router.get("/api-keys", responses=_AUTH)
def list_api_keys(uow: UoWDep, registrar: CurrentRegistrar, request: Request
                  ) -> list[ApiKeyOut]:
    """Every API key, revoked ones included (never the key itself: only its prefix)."""
    return [ApiKeyOut.of(k) for k in services.list_api_keys(uow, actor_of(registrar, request))]


@router.post("/api-keys/{api_key_id}/revoke",
             responses={**_AUTH, 404: {"description": "Kein API-Schlüssel mit dieser ID"}})
def revoke_api_key(api_key_id: ApiKeyId, uow: UoWDep, registrar: CurrentRegistrar,
                   request: Request) -> ApiKeyOut:
    """Revokes the key for good: it is refused from the next request on."""
    key = services.revoke_api_key(uow, actor_of(registrar, request), api_key_id, via=VIA)
    uow.commit()
    return ApiKeyOut.of(key)

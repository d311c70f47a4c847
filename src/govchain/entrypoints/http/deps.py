"""Dependencies of the routes, as Annotated aliases (SettingsDep, ContextDep, UoWDep, CurrentUser...)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Security, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer
from sqlalchemy.engine import Engine

from govchain.adapters.context import Context
from govchain.adapters.db import ApiKeyRecord, UnitOfWork, UserRecord
from govchain.domain.security import api_key_hash, api_key_matches
from govchain.domain.timefmt import now
from govchain.entrypoints.http.ratelimit import Limiter, Throttle, retry_after_header
from govchain.entrypoints.http.tokens import InvalidTokenError, TokenClaims, read_token
from govchain.pipeline.anchoring import Anchoring
from govchain.services import Actor, end_token
from govchain.services.audit import AuditAction, Who, record
from govchain.settings import Settings

TOKEN_URL = "/api/v1/auth/token"
API_KEY_HEADER = "X-API-Key"


# The dependencies that only read app state are coroutines: FastAPI runs a plain function
# dependency in its thread pool, a hop that costs more than the whole of a verification.

async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_context(request: Request) -> Context:
    ctx: Context = request.app.state.context
    return ctx


async def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def token_key_of(request: Request) -> bytes:
    key: bytes = request.app.state.token_key
    return key


async def get_token_key(request: Request) -> bytes:
    return token_key_of(request)


async def get_anchoring(request: Request) -> Anchoring:
    anchoring: Anchoring = request.app.state.anchoring
    return anchoring


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
AnchoringDep = Annotated[Anchoring, Depends(get_anchoring)]
ContextDep = Annotated[Context, Depends(get_context)]
EngineDep = Annotated[Engine, Depends(get_engine)]
TokenKeyDep = Annotated[bytes, Depends(get_token_key)]


def get_uow(engine: EngineDep) -> Iterator[UnitOfWork]:
    """One transaction per request; what the route does not commit is rolled back."""
    with UnitOfWork(engine) as uow:
        yield uow


UoWDep = Annotated[UnitOfWork, Depends(get_uow)]

_bearer = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)
_api_key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False,
                               description="API-Schlüssel institutioneller Prüfer (optional)")


def _unauthorized(message: str = "Nicht angemeldet oder Anmeldung abgelaufen") -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, message,
                         headers={"WWW-Authenticate": "Bearer"})


BearerToken = Annotated[str | None, Depends(_bearer)]


def user_for_token(uow: UnitOfWork, key: bytes, token: str | None, *,
                   address: str | None = None) -> UserRecord:
    """The user a login token names; a token ended by logging out or by the registrar, or of a
    user disabled, removed or given another role since it was issued, no longer counts (401).
    The session's latest use is noted (with `address`), at most every few minutes, and then
    committed at once: the row is not held locked while the request goes on."""
    user, claims = _session_of(uow, key, token)
    if uow.login_sessions.touch(claims.token_id, address):
        uow.commit()
    return user


def _session_of(uow: UnitOfWork, key: bytes, token: str | None
                ) -> tuple[UserRecord, TokenClaims]:
    if not token:
        raise _unauthorized()
    try:
        claims = read_token(key, token, at=now())
    except InvalidTokenError:
        raise _unauthorized() from None
    user = uow.users.by_id(claims.user_id)
    if (user is None or not user.active or user.role != claims.role
            or uow.revoked_tokens.is_revoked(claims.token_id)):
        raise _unauthorized()
    return user, claims


def end_session(uow: UnitOfWork, key: bytes, token: str | None) -> UserRecord:
    """Logs out: the token counts no more, on any process of the service, until and after its
    expiry (the caller commits). Only this token: the user's other devices stay signed in.
    401 if the token does not count anyway."""
    user, claims = _session_of(uow, key, token)
    end_token(uow, claims.token_id, datetime.fromtimestamp(claims.expires, UTC))
    return user


def get_current_user(token: BearerToken, key: TokenKeyDep, uow: UoWDep,
                     request: Request) -> UserRecord:
    """The logged-in user (user_for_token)."""
    try:
        return user_for_token(uow, key, token, address=client_address(request))
    finally:
        # Ends the read so the connection goes back to the pool while the route calls the ledger.
        uow.rollback()


CurrentUser = Annotated[UserRecord, Depends(get_current_user)]


async def get_current_registrar(user: CurrentUser) -> UserRecord:
    if user.role != "registrar":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Nur für die Registrierungsstelle")
    return user


async def get_current_clerk(user: CurrentUser) -> UserRecord:
    if user.role != "clerk":
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            "Nur für Sachbearbeiterinnen und Sachbearbeiter einer Kommune")
    return user


CurrentRegistrar = Annotated[UserRecord, Depends(get_current_registrar)]
CurrentClerk = Annotated[UserRecord, Depends(get_current_clerk)]


def actor_of(user: UserRecord, request: Request) -> Actor:
    """The logged-in user as the service layer sees them (the service decides what each role
    may), with the address the request came from for the audit log."""
    return Actor(user_id=user.id, username=user.username, role=user.role,
                 ags=user.municipality_ags, address=client_address(request))


async def get_current_actor(user: CurrentUser, request: Request) -> Actor:
    return actor_of(user, request)


CurrentActor = Annotated[Actor, Depends(get_current_actor)]


def _known_api_key(uow: UnitOfWork, key: str) -> ApiKeyRecord | None:
    record = uow.api_keys.by_hash(api_key_hash(key))
    if record is None or not record.active or not api_key_matches(key, record.key_hash):
        return None
    return record


def _unknown_api_key() -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, "Unbekannter oder gesperrter API-Schlüssel")


def get_api_key(key: Annotated[str | None, Security(_api_key_header)],
                uow: UoWDep) -> ApiKeyRecord | None:
    """The presented institutional API key, None without one; 401 for an unknown or revoked key
    (a verifier who sends a key wants the check recorded, so it must not silently not be)."""
    if key is None:
        return None
    record = _known_api_key(uow, key)
    if record is None:
        raise _unknown_api_key()
    return record


OptionalApiKey = Annotated[ApiKeyRecord | None, Depends(get_api_key)]


def client_address(request: Request) -> str | None:
    """The caller's address for rate limits, login throttling and the audit log: the TCP peer,
    or what a proxy of `settings.trusted_proxies` forwarded (create_app); no other header counts.
    Every place that needs the caller's address asks here."""
    return request.client.host if request.client else None


def too_many_requests(seconds: float, message: str) -> HTTPException:
    return HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, message,
                         headers=retry_after_header(seconds))


async def limit_public(request: Request, key: Annotated[str | None, Security(_api_key_header)],
                       engine: EngineDep) -> ApiKeyRecord | None:
    """Like OptionalApiKey, after taking a token from the caller's bucket: the API key's when it
    is valid (a much higher limit), else the client address's. An invalid key is charged to the
    address before its 401, so guessing keys is limited too.

    Async, and the database is asked only when a key is presented: the public endpoints answer
    from the status index without a thread hop or a connection."""
    record = None
    if key is not None:
        def lookup() -> ApiKeyRecord | None:
            with UnitOfWork(engine) as uow:
                return _known_api_key(uow, key)
        record = await run_in_threadpool(lookup)
    state = request.app.state
    limiter: Limiter = state.api_key_limiter if record else state.public_limiter
    bucket = f"key:{record.id}" if record else f"addr:{client_address(request)}"
    # A limiter shared through Redis waits on the network: in a thread, off the event loop.
    wait = (await run_in_threadpool(limiter.acquire, bucket) if limiter.blocking
            else limiter.acquire(bucket))
    if wait:
        raise too_many_requests(wait, "Zu viele Anfragen; bitte später erneut versuchen")
    if key is not None and record is None:
        raise _unknown_api_key()
    return record


RateLimitedApiKey = Annotated[ApiKeyRecord | None, Depends(limit_public)]


async def get_login_throttle(request: Request) -> Throttle:
    throttle: Throttle = request.app.state.login_throttle
    return throttle


LoginThrottleDep = Annotated[Throttle, Depends(get_login_throttle)]


def audit(uow: UnitOfWork, request: Request, actor_id: int, action: AuditAction, target: str,
          detail: dict[str, Any] | None = None) -> None:
    """Records a registry change or a logout of a signed-in user (what the service functions
    do not record themselves), with the address the request came from."""
    record(uow, Who.user(actor_id, client_address(request)), action, target, detail)

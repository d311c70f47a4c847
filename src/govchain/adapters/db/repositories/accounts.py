"""Staff accounts, API keys, login sessions and ended login tokens."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

import sqlalchemy as sa

from govchain.adapters.db.models import ApiKey, LoginSession, RevokedToken, User
from govchain.adapters.db.repositories._base import _one_of, _Repository
from govchain.domain.text import check_shown_text
from govchain.domain.timefmt import now
from govchain.domain.vocabulary import ROLES, Role, is_ags
from govchain.errors import InputError, RecordNotFoundError


@dataclass(frozen=True)
class UserRecord:
    id: int
    username: str
    password_hash: str = field(repr=False)
    role: Role
    municipality_ags: str | None
    display_name: str
    created_at: datetime
    disabled_at: datetime | None

    @property
    def active(self) -> bool:
        return self.disabled_at is None


@dataclass(frozen=True)
class ApiKeyRecord:
    id: int
    name: str
    prefix: str
    key_hash: str = field(repr=False)
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class SessionRecord:
    """A login token as issued: its id stays out of the repr (it names the token)."""

    id: int
    token_id: str = field(repr=False)
    user_id: int
    created_at: datetime
    expires_at: datetime
    last_seen_at: datetime
    address: str | None
    user_agent: str | None


def _user(row: User) -> UserRecord:
    return UserRecord(row.id, row.username, row.password_hash, cast(Role, row.role),
                      row.municipality_ags, row.display_name, row.created_at, row.disabled_at)


def _api_key(row: ApiKey) -> ApiKeyRecord:
    return ApiKeyRecord(row.id, row.name, row.prefix, row.key_hash, row.created_at,
                        row.revoked_at, row.last_used_at)


def _login_session(row: LoginSession) -> SessionRecord:
    return SessionRecord(row.id, row.token_id, row.user_id, row.created_at, row.expires_at,
                         row.last_seen_at, row.address, row.user_agent)


def normalize_username(username: str) -> str:
    """Usernames are compared without case and surrounding blanks."""
    return username.strip().lower()


class UserRepository(_Repository):
    def add(self, *, username: str, password_hash: str, role: Role, display_name: str,
            municipality_ags: str | None = None, at: datetime | None = None) -> UserRecord:
        """A new user; a clerk belongs to exactly one municipality, the others to none."""
        name = normalize_username(username)
        if not 1 <= len(name) <= 64 or any(c.isspace() for c in name):
            raise InputError("Benutzername: 1 bis 64 Zeichen ohne Leerzeichen")
        check_shown_text("/username", "Benutzername", username)
        check_shown_text("/displayName", "Angezeigter Name", display_name)
        _one_of(role, ROLES, "Rolle")
        if role == "clerk":
            if municipality_ags is None or not is_ags(municipality_ags):
                raise InputError(
                    "Sachbearbeiter brauchen einen 8-stelligen Gemeindeschlüssel (AGS)")
        elif municipality_ags is not None:
            raise InputError(f"Die Rolle {role!r} gehört zu keiner Gemeinde")
        row = User(username=name, password_hash=password_hash, role=role,
                   municipality_ags=municipality_ags, display_name=display_name,
                   created_at=at or now(), disabled_at=None)
        self._session.add(row)
        self._flush()
        return _user(row)

    def by_id(self, user_id: int) -> UserRecord | None:
        row = self._session.get(User, user_id)
        return _user(row) if row else None

    def by_username(self, username: str) -> UserRecord | None:
        row = self._session.scalar(
            sa.select(User).where(User.username == normalize_username(username)))
        return _user(row) if row else None

    def list(self, *, role: Role | None = None, municipality_ags: str | None = None,
             include_disabled: bool = True) -> list[UserRecord]:
        query = sa.select(User).order_by(User.username)
        if role is not None:
            query = query.where(User.role == role)
        if municipality_ags is not None:
            query = query.where(User.municipality_ags == municipality_ags)
        if not include_disabled:
            query = query.where(User.disabled_at.is_(None))
        return [_user(r) for r in self._session.scalars(query)]

    def _row(self, user_id: int) -> User:
        row = self._session.get(User, user_id)
        if row is None:
            raise RecordNotFoundError(f"Keinen Benutzer mit der ID {user_id}")
        return row

    def disable(self, user_id: int, at: datetime | None = None) -> UserRecord:
        """Disables the user (from then on no login); a second call keeps the first time."""
        row = self._row(user_id)
        if row.disabled_at is None:
            row.disabled_at = at or now()
            self._flush()
        return _user(row)

    def enable(self, user_id: int) -> UserRecord:
        """Lets a disabled user log in again (an active one stays as they are)."""
        row = self._row(user_id)
        if row.disabled_at is not None:
            row.disabled_at = None
            self._flush()
        return _user(row)

    def set_password_hash(self, user_id: int, password_hash: str) -> UserRecord:
        """Stores a new hash: a changed password, or the same one rehashed with current costs."""
        row = self._row(user_id)
        row.password_hash = password_hash
        self._flush()
        return _user(row)


class ApiKeyRepository(_Repository):
    def add(self, *, name: str, prefix: str, key_hash: str,
            at: datetime | None = None) -> ApiKeyRecord:
        row = ApiKey(name=name, prefix=prefix, key_hash=key_hash, created_at=at or now(),
                     revoked_at=None, last_used_at=None)
        self._session.add(row)
        self._flush()
        return _api_key(row)

    def by_id(self, api_key_id: int) -> ApiKeyRecord | None:
        row = self._session.get(ApiKey, api_key_id)
        return _api_key(row) if row else None

    def by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        """The key with this hash, revoked or not (the caller checks ``active``)."""
        row = self._session.scalar(sa.select(ApiKey).where(ApiKey.key_hash == key_hash))
        return _api_key(row) if row else None

    def list(self) -> list[ApiKeyRecord]:
        return [_api_key(r) for r in self._session.scalars(sa.select(ApiKey).order_by(ApiKey.id))]

    def _row(self, api_key_id: int) -> ApiKey:
        row = self._session.get(ApiKey, api_key_id)
        if row is None:
            raise RecordNotFoundError(f"Keinen API-Schlüssel mit der ID {api_key_id}")
        return row

    def revoke(self, api_key_id: int, at: datetime | None = None) -> ApiKeyRecord:
        """Revokes the key for good; a second call keeps the first time."""
        row = self._row(api_key_id)
        if row.revoked_at is None:
            row.revoked_at = at or now()
            self._flush()
        return _api_key(row)

    def touch(self, api_key_id: int, at: datetime | None = None,
              resolution: timedelta = timedelta(minutes=1)) -> None:
        """Records a use; writes only when the last recorded use is older than `resolution`."""
        row = self._row(api_key_id)
        when = at or now()
        if row.last_used_at is None or when - row.last_used_at >= resolution:
            row.last_used_at = when
            self._flush()


class RevokedTokenRepository(_Repository):
    """Login tokens ended before their expiry (logout), by the token's id."""

    def revoke(self, token_id: str, expires_at: datetime, *, at: datetime | None = None) -> None:
        """Ends the token (again: no change); rows of tokens expired by `at` are dropped, so the
        table holds at most the tokens of one token lifetime."""
        self._session.execute(sa.delete(RevokedToken).where(RevokedToken.expires_at <= (at or now())))
        if not self.is_revoked(token_id):
            self._session.add(RevokedToken(token_id=token_id, expires_at=expires_at))
            self._flush()

    def is_revoked(self, token_id: str) -> bool:
        return self._session.scalar(
            sa.select(RevokedToken.token_id).where(RevokedToken.token_id == token_id)) is not None


USER_AGENT_LENGTH = 200
ADDRESS_LENGTH = 64


class LoginSessionRepository(_Repository):
    """The login tokens issued, by user, until they expire or are ended."""

    def start(self, *, token_id: str, user_id: int, expires_at: datetime,
              address: str | None, user_agent: str | None,
              at: datetime | None = None) -> SessionRecord:
        """Records a new login; rows of sessions expired by `at` are dropped on the way, so the
        table holds at most the logins of one token lifetime."""
        when = at or now()
        self._session.execute(sa.delete(LoginSession).where(LoginSession.expires_at <= when))
        row = LoginSession(token_id=token_id, user_id=user_id, created_at=when,
                           expires_at=expires_at, last_seen_at=when,
                           address=address[:ADDRESS_LENGTH] if address else None,
                           user_agent=user_agent[:USER_AGENT_LENGTH] if user_agent else None)
        self._session.add(row)
        self._flush()
        return _login_session(row)

    def by_id(self, session_id: int) -> SessionRecord | None:
        row = self._session.get(LoginSession, session_id)
        return _login_session(row) if row else None

    def for_user(self, user_id: int, *, at: datetime | None = None) -> list[SessionRecord]:
        """The user's sessions that have not expired by `at`, oldest first."""
        query = (sa.select(LoginSession)
                 .where(LoginSession.user_id == user_id, LoginSession.expires_at > (at or now()))
                 .order_by(LoginSession.id))
        return [_login_session(r) for r in self._session.scalars(query)]

    def count_by_user(self, *, at: datetime | None = None) -> dict[int, int]:
        """How many unexpired sessions each user has (users without one are left out)."""
        query = (sa.select(LoginSession.user_id, sa.func.count())
                 .where(LoginSession.expires_at > (at or now()))
                 .group_by(LoginSession.user_id))
        return {user_id: count for user_id, count in self._session.execute(query).tuples()}

    def touch(self, token_id: str, address: str | None, *, at: datetime | None = None,
              resolution: timedelta = timedelta(minutes=5)) -> bool:
        """Records a use of the token: writes only when the address changed or the last recorded
        use is older than `resolution` (a token unknown here, issued before sessions were
        recorded, is left alone). True if it wrote."""
        when = at or now()
        address = address[:ADDRESS_LENGTH] if address else None
        row = self._session.scalar(sa.select(LoginSession).where(LoginSession.token_id == token_id))
        if row is None or (row.address == address and when - row.last_seen_at < resolution):
            return False
        row.last_seen_at = when
        row.address = address
        self._flush()
        return True

    def delete_token(self, token_id: str) -> None:
        self._session.execute(sa.delete(LoginSession).where(LoginSession.token_id == token_id))

"""Who acts and what they may see: the actor (registrar, clerk of a municipality, landlord) and the
documents visible to them; staff accounts, their login sessions and API keys, and their
administration (for the command line, the API and the registrar's pages alike, each change
audited)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from govchain.adapters.db import ApiKeyRecord, SessionRecord, UnitOfWork, UserRecord
from govchain.adapters.db.repositories import DocumentRecord, Page
from govchain.domain.security import (
    api_key_prefix,
    hash_password,
    needs_rehash,
    new_api_key,
    verify_password,
)
from govchain.domain.timefmt import now
from govchain.domain.vocabulary import Role, is_ags
from govchain.errors import (
    InputError,
    PermissionDeniedError,
    RecordNotFoundError,
    ValidationError,
)
from govchain.services import audit
from govchain.services.audit import AuditAction, Who


@dataclass(frozen=True)
class Actor:
    """Who is acting: a signed-in user of the service."""

    user_id: int
    username: str
    role: Role
    ags: str | None  # clerks only
    address: str | None = None  # where the request came from, for the audit log

    @property
    def who(self) -> Who:
        return Who.user(self.user_id, self.address)


def require_role(actor: Actor, *roles: Role) -> None:
    if actor.role not in roles:
        raise PermissionDeniedError(
            f"Diese Aktion ist für die Rolle „{actor.role}“ nicht erlaubt")


def _visible(actor: Actor, record: DocumentRecord) -> bool:
    if actor.role == "clerk":
        return record.ags == actor.ags
    if actor.role == "landlord":
        return record.created_by == actor.user_id
    return False


def get_document_for(uow: UnitOfWork, actor: Actor, document_id: str) -> DocumentRecord:
    """The document if the actor may see it; otherwise 'not found' (its existence stays hidden)."""
    require_role(actor, "clerk", "landlord")
    record = uow.documents.get(document_id)
    if record is None or not _visible(actor, record):
        raise RecordNotFoundError(f"Kein Dokument {document_id}")
    return record


def list_documents_for(uow: UnitOfWork, actor: Actor, *, usecase: str | None = None,
                       state: str | None = None, ledger_status: str | None = None,
                       search: str | None = None, offset: int = 0, limit: int = 50
                       ) -> Page[DocumentRecord]:
    require_role(actor, "clerk", "landlord")
    return uow.documents.list(
        ags=actor.ags if actor.role == "clerk" else None,
        created_by=actor.user_id if actor.role == "landlord" else None,
        usecase=usecase, state=state, ledger_status=ledger_status,  # type: ignore[arg-type]
        search=search, offset=offset, limit=limit)


def authenticate(uow: UnitOfWork, username: str, password: str) -> UserRecord | None:
    """The active user with this username and password, else None. An unknown user costs as
    much time as a known one; a hash made with older parameters is renewed on the way."""
    user = uow.users.by_username(username)
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.active:
        return None
    if needs_rehash(user.password_hash):
        uow.users.set_password_hash(user.id, hash_password(password))
        uow.commit()
    return user


@dataclass(frozen=True)
class StaffClaims:
    """Which claims of an identity provider's ID token say who a staff member is (settings
    `oidc_*`): the username, the role (a value or a list of values, e.g. groups, of which those
    in `roles` count) and a clerk's municipality (AGS)."""

    username: str = "preferred_username"
    role: str = "govchain_role"
    roles: Mapping[str, Role] = field(
        default_factory=lambda: {"registrar": "registrar", "clerk": "clerk"})
    ags: str = "govchain_ags"


def staff_from_claims(uow: UnitOfWork, claims: Mapping[str, Any], names: StaffClaims
                      ) -> UserRecord:
    """The active govchain account the provider's claims describe; PermissionDeniedError (in
    German, for the refusal page) unless the account exists with the same username, role and,
    for a clerk, the same AGS. Accounts are never made from claims: the registrar admits staff
    (audited), so a wrong group at the provider grants nothing in govchain by itself."""
    username = claims.get(names.username)
    if not isinstance(username, str) or not username.strip():
        raise PermissionDeniedError(
            f"Ihr Dienstkonto nennt keinen Benutzernamen (Angabe „{names.username}“).")
    values = claims.get(names.role)
    values = values if isinstance(values, list) else [values]
    roles = {names.roles[v] for v in values if isinstance(v, str) and v in names.roles}
    if not roles:
        raise PermissionDeniedError(
            f"Ihr Dienstkonto hat keine Rolle für govchain (Angabe „{names.role}“).")
    if len(roles) > 1:
        raise PermissionDeniedError(
            "Ihr Dienstkonto hat mehrere Rollen für govchain "
            f"({', '.join(sorted(roles))}); es darf nur eine sein.")
    (role,) = roles
    user = uow.users.by_username(username)
    if user is None or not user.active:
        raise PermissionDeniedError(
            f"Das Dienstkonto „{username}“ ist in govchain nicht freigeschaltet. Die Registratur "
            "muss ein Benutzerkonto mit diesem Namen anlegen (oder entsperren).")
    if user.role != role:
        raise PermissionDeniedError(
            f"Ihr Dienstkonto hat die Rolle {role}, in govchain ist für „{user.username}“ die "
            f"Rolle {user.role} eingetragen.")
    if role == "clerk" and claims.get(names.ags) != user.municipality_ags:
        raise PermissionDeniedError(
            f"Ihr Dienstkonto nennt eine andere Kommune (Angabe „{names.ags}“) als govchain für "
            f"„{user.username}“.")
    return user


MIN_PASSWORD_LENGTH = 12


def password_problems(password: str) -> list[tuple[str, str]]:
    """What is wrong with a new password, as (field, message); empty if nothing."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return [("password", f"Das Passwort muss mindestens {MIN_PASSWORD_LENGTH} Zeichen "
                             "lang sein")]
    return []


@dataclass(frozen=True)
class NewUser:
    username: str
    password: str = field(repr=False)
    role: Role
    municipality: str | None = None  # the AGS: clerks only, and always for them
    display_name: str | None = None  # default: the username


def new_user_problems(new: NewUser) -> list[tuple[str, str]]:
    """What is wrong with a new account, as (field, message); empty if nothing."""
    problems = []
    if new.role == "clerk" and (new.municipality is None or not is_ags(new.municipality)):
        problems.append(("municipality", "Sachbearbeitende brauchen den 8-stelligen "
                                         "Gemeindeschlüssel (AGS) ihrer Kommune, z. B. 05334002"))
    if new.role != "clerk" and new.municipality is not None:
        problems.append(("municipality", f"gilt nur für die Rolle clerk, nicht für {new.role}"))
    problems.extend(password_problems(new.password))
    return problems


def add_user(uow: UnitOfWork, who: Who, new: NewUser, *, via: str) -> UserRecord:
    """Adds a staff account (the password stored as an argon2id hash), audited; ValidationError
    naming the fields if the account breaks a rule (`new_user_problems`)."""
    problems = new_user_problems(new)
    if problems:
        raise ValidationError("Das Benutzerkonto kann so nicht angelegt werden", problems)
    user = uow.users.add(username=new.username, password_hash=hash_password(new.password),
                         role=new.role, municipality_ags=new.municipality,
                         display_name=(new.display_name or new.username).strip())
    audit.record(uow, who, AuditAction.USER_ADD, f"user:{user.id}",
                 {"username": user.username, "role": new.role, "municipality": new.municipality,
                  "via": via})
    return user


def create_api_key(uow: UnitOfWork, who: Who, name: str, *, via: str) -> tuple[ApiKeyRecord, str]:
    """A new API key for an institutional verifier: (its record, the key itself, to be shown
    once; only its hash is stored), audited."""
    if not name.strip():
        raise InputError("Der Name des Schlüssels darf nicht leer sein")
    key, key_hash = new_api_key()
    record = uow.api_keys.add(name=name.strip(), prefix=api_key_prefix(key), key_hash=key_hash)
    audit.record(uow, who, AuditAction.APIKEY_CREATE, f"api_key:{record.id}",
                 {"name": record.name, "prefix": record.prefix, "via": via})
    return record, key


# -- login sessions ----------------------------------------------------------------------------

def start_session(uow: UnitOfWork, user: UserRecord, token_id: str, expires_at: datetime, *,
                  address: str | None, user_agent: str | None) -> SessionRecord:
    """Records a login token just issued, so that it can be listed and ended (the caller
    commits)."""
    return uow.login_sessions.start(token_id=token_id, user_id=user.id, expires_at=expires_at,
                                    address=address, user_agent=user_agent)


def end_token(uow: UnitOfWork, token_id: str, expires_at: datetime) -> None:
    """Ends one login token at once, in every process of the service: its id is refused until
    its expiry (`revoked_tokens`), and its session is no longer listed."""
    uow.revoked_tokens.revoke(token_id, expires_at)
    uow.login_sessions.delete_token(token_id)


def _end_all(uow: UnitOfWork, user_id: int) -> list[int]:
    ended = []
    for session in uow.login_sessions.for_user(user_id):
        end_token(uow, session.token_id, session.expires_at)
        ended.append(session.id)
    return ended


# -- administration: the registrar (API, pages) or the operator (command line) -----------------

def _admin(by: Actor | Who) -> Who:
    """Who the audit log names; a signed-in user must be the registrar. The operator at the
    command line is trusted (they hold the service's home)."""
    if isinstance(by, Actor):
        require_role(by, "registrar")
        return by.who
    return by


def _user(uow: UnitOfWork, user_id: int) -> UserRecord:
    user = uow.users.by_id(user_id)
    if user is None:
        raise RecordNotFoundError(f"Keinen Benutzer mit der ID {user_id}")
    return user


@dataclass(frozen=True)
class UserOverview:
    """A staff account as the registrar sees it: the account and its open sessions."""

    user: UserRecord
    sessions: int


def list_users(uow: UnitOfWork, by: Actor | Who, *, role: Role | None = None
               ) -> list[UserOverview]:
    """Every staff account (of `role`), by username, with how many unexpired sessions it has."""
    _admin(by)
    counts = uow.login_sessions.count_by_user()
    return [UserOverview(u, counts.get(u.id, 0)) for u in uow.users.list(role=role)]


def get_user(uow: UnitOfWork, by: Actor | Who, user_id: int) -> UserRecord:
    _admin(by)
    return _user(uow, user_id)


def find_user(uow: UnitOfWork, by: Actor | Who, username: str) -> UserRecord:
    """The account with this username (without regard to case); RecordNotFoundError if none."""
    _admin(by)
    user = uow.users.by_username(username)
    if user is None:
        raise RecordNotFoundError(f"Keinen Benutzer {username.strip()!r}")
    return user


def disable_user(uow: UnitOfWork, by: Actor | Who, user_id: int, *, via: str) -> UserRecord:
    """Disables the account: no more logins, and every token of it is refused at once (the
    user's state is checked on every request). Its sessions are ended too, so that enabling it
    again does not bring old tokens back. The registrar cannot lock themselves out."""
    who = _admin(by)
    if isinstance(by, Actor) and by.user_id == user_id:
        raise InputError("Das eigene Benutzerkonto kann nicht gesperrt werden")
    before = _user(uow, user_id)
    user = uow.users.disable(user_id)
    ended = _end_all(uow, user_id)
    audit.record(uow, who, AuditAction.USER_DISABLE, f"user:{user_id}",
                 {"username": user.username, "changed": before.active, "sessionsEnded": ended,
                  "via": via})
    return user


def enable_user(uow: UnitOfWork, by: Actor | Who, user_id: int, *, via: str) -> UserRecord:
    """Lets a disabled account log in again (with a new login: its old sessions stay ended)."""
    who = _admin(by)
    before = _user(uow, user_id)
    user = uow.users.enable(user_id)
    audit.record(uow, who, AuditAction.USER_ENABLE, f"user:{user_id}",
                 {"username": user.username, "changed": not before.active, "via": via})
    return user


def reset_password(uow: UnitOfWork, by: Actor | Who, user_id: int, password: str, *,
                   via: str) -> UserRecord:
    """Sets a new password (stored as an argon2id hash) and ends every session of the account,
    so that whoever knew the old one is out at once; ValidationError if the password breaks a
    rule (`password_problems`)."""
    who = _admin(by)
    _user(uow, user_id)
    problems = password_problems(password)
    if problems:
        raise ValidationError("Das Passwort kann so nicht gesetzt werden", problems)
    user = uow.users.set_password_hash(user_id, hash_password(password))
    ended = _end_all(uow, user_id)
    audit.record(uow, who, AuditAction.USER_RESET_PASSWORD, f"user:{user_id}",
                 {"username": user.username, "sessionsEnded": ended, "via": via})
    return user


def list_sessions(uow: UnitOfWork, by: Actor | Who, user_id: int) -> list[SessionRecord]:
    """The account's unexpired sessions (logins), oldest first."""
    _admin(by)
    _user(uow, user_id)
    return uow.login_sessions.for_user(user_id)


def end_sessions(uow: UnitOfWork, by: Actor | Who, user_id: int, session_id: int | None = None,
                 *, via: str) -> list[int]:
    """Ends one session of the account (`session_id`) or all of them, at once; returns the ids
    of the sessions ended. A session of another account is "not found"."""
    who = _admin(by)
    user = _user(uow, user_id)
    if session_id is None:
        ended = _end_all(uow, user_id)
    else:
        session = uow.login_sessions.by_id(session_id)
        if session is None or session.user_id != user_id or session.expires_at <= now():
            raise RecordNotFoundError(f"Keine Sitzung {session_id} von {user.username}")
        end_token(uow, session.token_id, session.expires_at)
        ended = [session.id]
    audit.record(uow, who, AuditAction.USER_END_SESSIONS, f"user:{user_id}",
                 {"username": user.username, "sessionsEnded": ended, "via": via})
    return ended


def list_api_keys(uow: UnitOfWork, by: Actor | Who) -> list[ApiKeyRecord]:
    """Every API key, revoked ones included, in the order created (never the key itself)."""
    _admin(by)
    return uow.api_keys.list()


def get_api_key(uow: UnitOfWork, by: Actor | Who, api_key_id: int) -> ApiKeyRecord:
    _admin(by)
    record = uow.api_keys.by_id(api_key_id)
    if record is None:
        raise RecordNotFoundError(f"Keinen API-Schlüssel mit der ID {api_key_id}")
    return record


def revoke_api_key(uow: UnitOfWork, by: Actor | Who, api_key_id: int, *,
                   via: str) -> ApiKeyRecord:
    """Revokes the key for good: it is refused from the next request on, in every process."""
    who = _admin(by)
    before = uow.api_keys.by_id(api_key_id)
    record = uow.api_keys.revoke(api_key_id)
    audit.record(uow, who, AuditAction.APIKEY_REVOKE, f"api_key:{api_key_id}",
                 {"name": record.name, "prefix": record.prefix,
                  "changed": before is not None and before.active, "via": via})
    return record

"""Who acts and what they may see: the actor (registrar, clerk of a municipality, landlord) and the
documents visible to them."""

from __future__ import annotations

from dataclasses import dataclass, field

from govchain.adapters.db import ApiKeyRecord, UnitOfWork, UserRecord
from govchain.adapters.db.repositories import DocumentRecord, Page
from govchain.domain.security import (
    api_key_prefix,
    hash_password,
    needs_rehash,
    new_api_key,
    verify_password,
)
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


MIN_PASSWORD_LENGTH = 12


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
    if len(new.password) < MIN_PASSWORD_LENGTH:
        problems.append(("password", f"Das Passwort muss mindestens {MIN_PASSWORD_LENGTH} Zeichen "
                                     "lang sein"))
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

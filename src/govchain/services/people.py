"""Who acts and what they may see: the actor (registrar, clerk of a municipality, landlord) and the
documents visible to them."""

from __future__ import annotations

from dataclasses import dataclass

from govchain.adapters.db import UnitOfWork, UserRecord
from govchain.adapters.db.repositories import DocumentRecord, Page
from govchain.domain.security import hash_password, needs_rehash, verify_password
from govchain.domain.vocabulary import Role
from govchain.errors import (
    PermissionDeniedError,
    RecordNotFoundError,
)


@dataclass(frozen=True)
class Actor:
    """Who is acting: a signed-in user of the service."""

    user_id: int
    username: str
    role: Role
    ags: str | None  # clerks only


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

"""Repositories and the unit of work: the only code that reads or writes the service's tables.

Repositories hand out frozen records, never ORM objects, so that nothing outside this module can
change a row by accident or touch it after its session has closed. A unit of work is one
transaction: what is not committed when its ``with`` block ends is rolled back, and database errors
leave it as govchain errors (ConflictError, StorageError).

Secrets and personal data stay out of the records' repr (password and key hashes, link lookups and
ciphertexts, subjects and documents, landlord codes), so logging a record leaks neither.
"""

from __future__ import annotations

import builtins
import dataclasses
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Generic, NamedTuple, Self, TypeVar, cast

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, object_session

from govchain.adapters.db.engine import json_text
from govchain.adapters.db.models import (
    ACTOR_KINDS,
    BATCH_STATES,
    LEDGER_STATUSES,
    ROLES,
    STATUS_ACTIONS,
    ActorKind,
    ApiKey,
    AuditEntry,
    Base,
    Batch,
    BatchState,
    Document,
    DocumentState,
    LedgerStatus,
    Link,
    RevokedToken,
    Role,
    StatusAction,
    StatusEvent,
    User,
    UTCDateTime,
    VerificationEntry,
)
from govchain.domain.documents import AnchorRef, SaltedDocument, issued_document, iter_leaves
from govchain.domain.hashing import Hash32, from_hex32, to_hex
from govchain.domain.merkle import StoredTree
from govchain.domain.text import check_shown_text
from govchain.domain.timefmt import now
from govchain.errors import ConflictError, InputError, RecordNotFoundError, StorageError

T = TypeVar("T")

MAX_PAGE = 500
_AGS = re.compile(r"\d{8}")


class Page(NamedTuple, Generic[T]):
    """One page of a listing and the number of all matching records."""

    items: list[T]
    total: int


# -- records ----------------------------------------------------------------------------------

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
class DocumentRecord:
    """A municipality's document. ``salted`` is set while pending (or failed), ``document`` once
    anchored."""

    id: str
    ags: str
    usecase: str
    state: DocumentState
    ledger_status: LedgerStatus
    subject: dict[str, Any] = field(repr=False)
    document: dict[str, Any] | None = field(repr=False)
    salted: SaltedDocument | None = field(repr=False)
    target_hash: str
    merkle_root: str | None
    anchor_tx: str | None
    anchor_block: int | None
    anchored_at: datetime | None
    created_by: int | None
    created_at: datetime
    landlord_code: str | None = field(repr=False)
    valid_from: datetime
    valid_until: datetime | None
    account: str | None = None  # the issuer account named in the document
    batch_id: int | None = None  # the anchor batch, once the worker took the document


@dataclass(frozen=True)
class StatusEventRecord:
    id: int
    document_id: str
    action: StatusAction
    reason: int | None
    actor: int | None
    at: datetime
    tx_hash: str | None


@dataclass(frozen=True)
class LinkRecord:
    id: str
    document_id: str
    token_lookup: str = field(repr=False)
    ciphertext: bytes = field(repr=False)
    hidden_paths: tuple[str, ...]
    created_by: int | None
    created_at: datetime
    expires_at: datetime | None
    withdrawn_at: datetime | None

    def usable_at(self, at: datetime) -> bool:
        """Neither withdrawn nor expired at `at`."""
        return self.withdrawn_at is None and (self.expires_at is None or at < self.expires_at)


@dataclass(frozen=True)
class AuditRecord:
    id: int
    at: datetime
    actor: str
    actor_kind: ActorKind
    action: str
    target: str | None
    remote_addr: str | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class VerificationRecord:
    id: int
    api_key_id: int
    at: datetime
    document_id: str | None
    link_id: str | None
    result: str


def _user(row: User) -> UserRecord:
    return UserRecord(row.id, row.username, row.password_hash, cast(Role, row.role),
                      row.municipality_ags, row.display_name, row.created_at, row.disabled_at)


def _api_key(row: ApiKey) -> ApiKeyRecord:
    return ApiKeyRecord(row.id, row.name, row.prefix, row.key_hash, row.created_at,
                        row.revoked_at, row.last_used_at)


def _chunks(items: Sequence[str], size: int = 500) -> Iterator[Sequence[str]]:
    # IN lists stay below SQLite's and PostgreSQL's parameter limits
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _salted_to_json(salted: SaltedDocument) -> dict[str, Any]:
    return {"document": salted.document, "salts": salted.salts,
            "targetHash": to_hex(salted.target_hash)}


def _salted_from_json(value: Mapping[str, Any]) -> SaltedDocument:
    return SaltedDocument(dict(value["document"]), dict(value["salts"]),
                          from_hex32(value["targetHash"]))


def _document(row: Document) -> DocumentRecord:
    salted = _salted_from_json(row.salted) if row.salted is not None else None
    document = row.document
    if document is None and row.state == "anchored" and salted is not None:
        document = _issued_from_batch(row, salted)
    return DocumentRecord(
        id=row.id, ags=row.ags, usecase=row.usecase, state=cast(DocumentState, row.state),
        ledger_status=cast(LedgerStatus, row.ledger_status), subject=row.subject,
        document=document, salted=salted,
        target_hash=row.target_hash, merkle_root=row.merkle_root, anchor_tx=row.anchor_tx,
        anchor_block=row.anchor_block, anchored_at=row.anchored_at, created_by=row.created_by,
        created_at=row.created_at, landlord_code=row.landlord_code, valid_from=row.valid_from,
        valid_until=row.valid_until, account=row.account, batch_id=row.batch_id,
    )


# Trees of anchored batches never change: kept by Merkle root (unique across databases too).
_TREES: OrderedDict[str, StoredTree] = OrderedDict()
_TREES_LOCK = threading.Lock()
_TREES_KEPT = 256


def _stored_tree(session: Session, batch_id: int, merkle_root: str) -> StoredTree:
    with _TREES_LOCK:
        tree = _TREES.get(merkle_root)
        if tree is not None:
            _TREES.move_to_end(merkle_root)
            return tree
    data = session.scalar(sa.select(Batch.tree).where(Batch.id == batch_id))
    if data is None:
        raise StorageError(f"Anker-Stapel {batch_id} hat keinen gespeicherten Merkle-Baum")
    tree = StoredTree(bytes(data))
    if to_hex(tree.root) != merkle_root:
        raise StorageError(f"Der Merkle-Baum von Anker-Stapel {batch_id} passt nicht zur Wurzel")
    with _TREES_LOCK:
        _TREES[merkle_root] = tree
        while len(_TREES) > _TREES_KEPT:
            _TREES.popitem(last=False)
    return tree


def _issued_from_batch(row: Document, salted: SaltedDocument) -> dict[str, Any]:
    """The issued document of one anchored with its batch: salted form + proof from the tree."""
    session = object_session(row)
    if session is None or row.batch_id is None or row.merkle_root is None \
            or row.anchor_tx is None or row.anchor_block is None or row.anchored_at is None:
        raise StorageError(f"Dokument {row.id}: verankert, aber ohne Stapel oder Anker")
    tree = _stored_tree(session, row.batch_id, row.merkle_root)
    issuer = salted.document["issuer"]
    anchor = AnchorRef(int(issuer["chainId"]), str(issuer["registry"]), row.anchor_tx,
                       row.anchor_block, int(row.anchored_at.timestamp()))
    path = tree.proof(tree.index_of(salted.target_hash))
    return issued_document(salted, tree.root, path, anchor)


def _status_event(row: StatusEvent) -> StatusEventRecord:
    return StatusEventRecord(row.id, row.document_id, cast(StatusAction, row.action), row.reason,
                             row.actor, row.at, row.tx_hash)


def _link(row: Link) -> LinkRecord:
    return LinkRecord(row.id, row.document_id, row.token_lookup, bytes(row.ciphertext),
                      tuple(row.hidden_paths), row.created_by, row.created_at, row.expires_at,
                      row.withdrawn_at)


def _audit(row: AuditEntry) -> AuditRecord:
    return AuditRecord(row.id, row.at, row.actor, cast(ActorKind, row.actor_kind), row.action,
                       row.target, row.remote_addr, row.detail)


def _verification(row: VerificationEntry) -> VerificationRecord:
    return VerificationRecord(row.id, row.api_key_id, row.at, row.document_id, row.link_id,
                              row.result)


# -- helpers ----------------------------------------------------------------------------------

# What a unique or foreign key violation means, by the (table, column) in the driver's message:
# SQLite names "table.column", PostgreSQL the constraint (uq_table_column, pk_table).
_UNIQUE_MESSAGES = {
    ("users", "username"): "Der Benutzername ist schon vergeben",
    ("api_keys", "key_hash"): "Diesen API-Schlüssel gibt es schon",
    ("documents", "id"): "Ein Dokument mit dieser ID ist schon gespeichert",
    ("documents", "landlord_code"): "Das Zuordnungsmerkmal ist schon vergeben",
    ("links", "id"): "Einen Prüflink mit dieser ID gibt es schon",
    ("links", "token_lookup"): "Einen Prüflink mit diesem Token gibt es schon",
}


def _conflict(err: IntegrityError) -> ConflictError:
    # The driver's text may quote stored values; only the constraint's meaning goes into ours.
    text = str(err.orig)
    for (table, column), message in _UNIQUE_MESSAGES.items():
        names = (f"{table}.{column}", f"uq_{table}_{column}")
        if any(n in text for n in names) or (column == "id" and f'"pk_{table}"' in text):
            return ConflictError(message)
    if "foreign key" in text.lower():
        return ConflictError("Der Eintrag verweist auf einen Datensatz, den es nicht gibt")
    return ConflictError("Der Eintrag widerspricht den gespeicherten Daten")


COPY_FROM = 20  # rows from which an insert into PostgreSQL goes through COPY


def _insert_many(session: Session, model: type[Base], rows: Sequence[Mapping[str, Any]]) -> None:
    """Inserts many rows in one go: PostgreSQL's COPY (several times faster than an INSERT per
    row for bulk issuance), else one executemany INSERT. ConflictError on a unique key."""
    if not rows:
        return
    conn = session.connection()
    if conn.dialect.name != "postgresql" or len(rows) < COPY_FROM:
        try:
            session.execute(sa.insert(model), list(rows))
        except IntegrityError as err:
            raise _conflict(err) from err
        return
    table = cast(sa.Table, model.__table__)
    columns = list(rows[0])
    as_json = {c.name for c in table.columns if isinstance(c.type, sa.JSON)}
    driver = conn.connection.driver_connection
    assert driver is not None
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([json_text(row[c]) if c in as_json and row[c] is not None
                                else row[c] for c in columns])
    except psycopg.errors.IntegrityError as err:
        raise _conflict(IntegrityError(statement, None, err)) from err


# PostgreSQL notifications on commit: the anchoring process hears of new documents, and the
# processes waiting for anchors hear of finished batches, at once instead of by polling (see
# govchain.pipeline.anchoring.Listener). pg_notify inside the transaction is delivered only on commit.
# Channels are per database, so each name carries a tag of the schema: services sharing a
# database in schemas of their own do not wake each other.
PENDING_CHANNEL = "govchain_pending"
ANCHORED_CHANNEL = "govchain_anchored"
SCHEMA_TAG_SQL = "left(md5(current_schema()), 12)"


def _notify(session: Session, channel: str) -> None:
    if session.connection().dialect.name == "postgresql":
        session.execute(sa.text(f"SELECT pg_notify(:channel || '_' || {SCHEMA_TAG_SQL}, '')"),
                        {"channel": channel})


def _hex32(value: bytes | str, what: str) -> str:
    """A 32-byte value (root, hash, transaction) as stored: lower-case 0x-hex."""
    try:
        raw = from_hex32(value.lower()) if isinstance(value, str) else bytes(value)
    except ValueError as err:
        raise InputError(f"{what} ist kein 32-Byte-Hexwert") from err
    if len(raw) != 32:
        raise InputError(f"{what} ist kein 32-Byte-Wert")
    return to_hex(raw)


def _page(offset: int, limit: int) -> tuple[int, int]:
    if offset < 0 or not 1 <= limit <= MAX_PAGE:
        raise InputError(f"Seite außerhalb des Bereichs: offset ≥ 0, 1 ≤ limit ≤ {MAX_PAGE}")
    return offset, limit


def _one_of(value: str, allowed: Sequence[str], what: str) -> None:
    if value not in allowed:
        raise InputError(f"Unbekannte(r) {what} {value!r}: erlaubt sind {', '.join(allowed)}")


def search_text_of(subject: Mapping[str, Any]) -> str:
    """The subject's leaf values, case-folded and joined by newlines: what a search matches."""
    values = [str(v) for _, v in iter_leaves(subject)
              if isinstance(v, str | int | float) and not isinstance(v, bool)]
    return "\n".join(values).casefold()


def _parse_document_time(value: Any, what: str) -> datetime:
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as err:
        raise InputError(f"{what} ist keine Zeitangabe: {value!r}") from err
    if dt.tzinfo is None:
        raise InputError(f"{what} hat keine Zeitzone: {value!r}")
    return dt


class _Repository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def _flush(self) -> None:
        try:
            self._session.flush()
        except IntegrityError as err:
            raise _conflict(err) from err

    def _count(self, model: type[Any], conditions: Sequence[sa.ColumnElement[bool]]) -> int:
        return self._session.scalar(
            sa.select(sa.func.count()).select_from(model).where(*conditions)) or 0


# -- repositories -----------------------------------------------------------------------------

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
            if municipality_ags is None or not _AGS.fullmatch(municipality_ags):
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


def _pending_row(salted: SaltedDocument, created_by: int | None, landlord_code: str | None,
                 at: datetime) -> dict[str, Any]:
    doc = salted.document
    try:
        doc_id = str(doc["id"])
        ags = str(doc["issuer"]["ags"])
        account = doc["issuer"].get("account")
        usecase = str(doc["credentialStatus"]["usecase"])
        subject = dict(doc["credentialSubject"])
    except (KeyError, TypeError, AttributeError) as err:
        raise InputError(f"Das Dokument ist unvollständig: {err}") from err
    if not _AGS.fullmatch(ags):
        raise InputError(f"Ungültiger Gemeindeschlüssel {ags!r}")
    valid_until = doc.get("validUntil")
    return {
        "id": doc_id, "ags": ags, "usecase": usecase, "state": "pending", "ledger_status": "none",
        "subject": subject, "search_text": search_text_of(subject), "document": None,
        "salted": _salted_to_json(salted), "target_hash": to_hex(salted.target_hash),
        "merkle_root": None, "anchor_tx": None, "anchor_block": None, "anchored_at": None,
        "created_by": created_by, "created_at": at, "landlord_code": landlord_code,
        "valid_from": _parse_document_time(doc.get("validFrom"), "validFrom"),
        "valid_until": (_parse_document_time(valid_until, "validUntil")
                        if valid_until is not None else None),
        "account": str(account) if account else None, "batch_id": None,
    }


_RECORD_FIELDS = tuple(f.name for f in dataclasses.fields(DocumentRecord) if f.name != "salted")


class QueuedDocument(NamedTuple):
    """What the anchoring worker needs of a waiting document to build its batch."""

    id: str
    usecase: str
    target_hash: str
    created_at: datetime


class DocumentRepository(_Repository):
    def add_pending(self, salted: SaltedDocument, *, created_by: int | None,
                    landlord_code: str | None = None, at: datetime | None = None
                    ) -> DocumentRecord:
        """Stores a salted document that waits for its anchor.

        Id, municipality (issuer.ags), issuer account, use case (credentialStatus.usecase),
        subject and validity are taken from the document itself. `landlord_code` must be in
        canonical form (security.normalize_landlord_code).
        """
        row = Document(**_pending_row(salted, created_by, landlord_code, at or now()))
        self._session.add(row)
        self._flush()
        _notify(self._session, PENDING_CHANNEL)
        return _document(row)

    def add_pending_many(self, items: Sequence[tuple[SaltedDocument, str | None]], *,
                         created_by: int | None, at: datetime | None = None
                         ) -> builtins.list[DocumentRecord]:
        """add_pending for many (salted document, landlord code) at once, in one statement;
        returns the records as stored (no second read)."""
        if not items:
            return []
        at = at or now()
        rows = [_pending_row(salted, created_by, code, at) for salted, code in items]
        _insert_many(self._session, Document, rows)
        _notify(self._session, PENDING_CHANNEL)
        return [DocumentRecord(**{k: row[k] for k in _RECORD_FIELDS}, salted=salted)
                for row, (salted, _) in zip(rows, items, strict=True)]

    def _row(self, document_id: str) -> Document:
        row = self._session.get(Document, document_id)
        if row is None:
            raise RecordNotFoundError(f"Kein Dokument {document_id}")
        return row

    def mark_anchored(self, document_id: str, *, document: Mapping[str, Any],
                      merkle_root: bytes | str, tx_hash: bytes | str, block: int,
                      at: datetime) -> DocumentRecord:
        """Stores the issued document (with its proof) and its anchor; clears the salts kept for
        anchoring, which the proof now carries."""
        row = self._row(document_id)
        if row.state == "anchored":
            raise ConflictError(f"Das Dokument {document_id} ist schon verankert")
        proof = document.get("proof")
        if document.get("id") != document_id or not isinstance(proof, dict) \
                or proof.get("targetHash") != row.target_hash:
            raise ConflictError(f"Das ausgestellte Dokument passt nicht zu {document_id}")
        row.state = "anchored"
        row.document = dict(document)
        row.salted = None
        row.merkle_root = _hex32(merkle_root, "merkleRoot")
        row.anchor_tx = _hex32(tx_hash, "Transaktion")
        row.anchor_block = block
        row.anchored_at = at
        self._flush()
        _notify(self._session, ANCHORED_CHANNEL)
        return _document(row)

    def mark_failed(self, document_id: str) -> DocumentRecord:
        """A pending document that could not be anchored; its salts stay for a later attempt."""
        row = self._row(document_id)
        if row.state != "pending":
            raise ConflictError(f"Das Dokument {document_id} wartet nicht auf die Verankerung")
        row.state = "failed"
        self._flush()
        _notify(self._session, ANCHORED_CHANNEL)
        return _document(row)

    def pending_for(self, *, ags: str | None = None, usecase: str | None = None,
                    limit: int = 100) -> list[DocumentRecord]:
        """Pending documents, oldest first: the anchoring worker's next batch."""
        _page(0, limit)
        query = sa.select(Document).where(Document.state == "pending")
        if ags is not None:
            query = query.where(Document.ags == ags)
        if usecase is not None:
            query = query.where(Document.usecase == usecase)
        query = query.order_by(Document.created_at, Document.id).limit(limit)
        return [_document(r) for r in self._session.scalars(query)]

    def pending_groups(self) -> list[tuple[str, str, int]]:
        """(ags, usecase, count) of everything pending: which batches the worker has to anchor."""
        query = (sa.select(Document.ags, Document.usecase, sa.func.count())
                 .where(Document.state == "pending")
                 .group_by(Document.ags, Document.usecase)
                 .order_by(Document.ags, Document.usecase))
        return [(a, u, n) for a, u, n in self._session.execute(query)]

    # -- the anchoring worker's queue -------------------------------------------------------

    def waiting_accounts(self) -> builtins.list[str]:
        """Accounts with documents waiting for a batch."""
        query = (sa.select(Document.account).distinct()
                 .where(Document.state == "pending", Document.batch_id.is_(None),
                        Document.account.is_not(None)))
        return [a for a in self._session.scalars(query) if a]

    def queue_head(self, account: str, limit: int) -> tuple[int, datetime | None]:
        """How many documents of `account` wait for a batch (counted up to `limit`) and when the
        oldest was stored: what the worker needs to know whether to open a batch yet."""
        first = (sa.select(Document.created_at)
                 .where(Document.state == "pending", Document.account == account,
                        Document.batch_id.is_(None))
                 .order_by(Document.created_at).limit(limit).subquery())
        count, oldest = self._session.execute(
            sa.select(sa.func.count(), sa.func.min(first.c.created_at))).one()
        return int(count), oldest

    def queue_of(self, account: str, limit: int) -> builtins.list[QueuedDocument]:
        """The oldest documents of `account` waiting for a batch (at most `limit`)."""
        query = (sa.select(Document.id, Document.usecase, Document.target_hash,
                           Document.created_at)
                 .where(Document.state == "pending", Document.account == account,
                        Document.batch_id.is_(None))
                 .order_by(Document.created_at, Document.id).limit(limit))
        return [QueuedDocument(*r) for r in self._session.execute(query)]

    def ags_of(self, target_hash: bytes | str) -> str | None:
        """The municipality of the document with `target_hash` (a batch's: one account, one
        municipality)."""
        query = sa.select(Document.ags).where(
            Document.target_hash == _hex32(target_hash, "targetHash")).limit(1)
        return self._session.scalar(query)

    def target_hashes_of_batch(self, batch_id: int) -> builtins.list[str]:
        """The targetHashes of the documents still waiting for the batch's anchor that know their
        batch: those of batches opened before their members were recorded (migration 0005)."""
        query = sa.select(Document.target_hash).where(Document.batch_id == batch_id,
                                                      Document.state == "pending")
        return list(self._session.scalars(query))

    def _update_members(self, target_hashes: Sequence[bytes | str], values: dict[str, Any]
                        ) -> int:
        """Updates the pending documents with these targetHashes; returns how many."""
        hexes = [_hex32(h, "targetHash") for h in target_hashes]
        pending = Document.state == "pending"
        if self._session.connection().dialect.name == "postgresql":
            # one statement with an array (IN lists of thousands cost more to plan)
            array = sa.bindparam("hashes", hexes, type_=postgresql.ARRAY(sa.String))
            result = self._session.execute(sa.update(Document).where(
                Document.target_hash == sa.any_(array), pending).values(**values))
            return int(getattr(result, "rowcount", 0) or 0)
        changed = 0
        for chunk in _chunks(hexes):
            result = self._session.execute(sa.update(Document).where(
                Document.target_hash.in_(chunk), pending).values(**values))
            changed += int(getattr(result, "rowcount", 0) or 0)
        return changed

    def mark_batch_anchored(self, batch_id: int, target_hashes: Sequence[bytes | str], *,
                            merkle_root: bytes | str, tx_hash: bytes | str, block: int,
                            at: datetime) -> int:
        """Marks the batch's waiting members anchored (and in the batch), in one statement; each
        keeps its salted form and its proof is read from the batch's tree
        (BatchRepository.mark_anchored). Returns how many were waiting."""
        changed = self._update_members(target_hashes, {
            "state": "anchored", "batch_id": batch_id,
            "merkle_root": _hex32(merkle_root, "merkleRoot"),
            "anchor_tx": _hex32(tx_hash, "Transaktion"), "anchor_block": block,
            "anchored_at": at})
        _notify(self._session, ANCHORED_CHANNEL)
        return changed

    def mark_batch_failed(self, batch_id: int, target_hashes: Sequence[bytes | str]) -> int:
        """The batch's members could not be anchored; their salts stay for a later attempt."""
        changed = self._update_members(target_hashes, {"state": "failed", "batch_id": batch_id})
        _notify(self._session, ANCHORED_CHANNEL)
        return changed

    def states_of(self, document_ids: Sequence[str]) -> dict[str, DocumentState]:
        found: dict[str, DocumentState] = {}
        for chunk in _chunks(document_ids):
            query = sa.select(Document.id, Document.state).where(Document.id.in_(chunk))
            found.update({i: cast(DocumentState, s) for i, s in self._session.execute(query)})
        return found

    def count(self, *, state: DocumentState | None = None) -> int:
        return self._count(Document, [Document.state == state] if state else [])

    def get(self, document_id: str) -> DocumentRecord | None:
        row = self._session.get(Document, document_id)
        return _document(row) if row else None

    def list(self, *, ags: str | None = None, usecase: str | None = None,
             state: DocumentState | None = None, ledger_status: LedgerStatus | None = None,
             search: str | None = None, created_by: int | None = None, offset: int = 0,
             limit: int = 50) -> Page[DocumentRecord]:
        """Newest first. `search` matches documents whose subject values contain every word of
        it, without regard to case."""
        offset, limit = _page(offset, limit)
        conditions: list[sa.ColumnElement[bool]] = []
        if ags is not None:
            conditions.append(Document.ags == ags)
        if usecase is not None:
            conditions.append(Document.usecase == usecase)
        if created_by is not None:
            conditions.append(Document.created_by == created_by)
        if state is not None:
            conditions.append(Document.state == state)
        if ledger_status is not None:
            conditions.append(Document.ledger_status == ledger_status)
        for word in (search or "").casefold().split():
            conditions.append(Document.search_text.contains(word, autoescape=True))
        query = (sa.select(Document).where(*conditions)
                 .order_by(Document.created_at.desc(), Document.id.desc())
                 .offset(offset).limit(limit))
        items = [_document(r) for r in self._session.scalars(query)]
        return Page(items, self._count(Document, conditions))

    def by_landlord_code(self, code: str) -> DocumentRecord | None:
        """The landlord confirmation with this Zuordnungsmerkmal (canonical form)."""
        row = self._session.scalar(sa.select(Document).where(Document.landlord_code == code))
        return _document(row) if row else None

    def by_merkle_root(self, merkle_root: bytes | str) -> builtins.list[DocumentRecord]:
        """The documents anchored under one root (one batch)."""
        query = (sa.select(Document)
                 .where(Document.merkle_root == _hex32(merkle_root, "merkleRoot"))
                 .order_by(Document.id))
        return [_document(r) for r in self._session.scalars(query)]

    def by_target_hash(self, target_hash: bytes | str) -> DocumentRecord | None:
        row = self._session.scalars(
            sa.select(Document).where(Document.target_hash == _hex32(target_hash, "targetHash"))
        ).first()
        return _document(row) if row else None

    def set_ledger_status(self, document_id: str, status: LedgerStatus) -> DocumentRecord:
        """Caches what the ledger answered about the document's status."""
        _one_of(status, LEDGER_STATUSES, "Status")
        row = self._row(document_id)
        row.ledger_status = status
        self._flush()
        return _document(row)


class StatusEventRepository(_Repository):
    def add(self, document_id: str, action: StatusAction, *, actor: int | None = None,
            reason: int | None = None, tx_hash: bytes | str | None = None,
            at: datetime | None = None) -> StatusEventRecord:
        _one_of(action, STATUS_ACTIONS, "Aktion")
        row = StatusEvent(document_id=document_id, action=action, reason=reason, actor=actor,
                          at=at or now(),
                          tx_hash=_hex32(tx_hash, "Transaktion") if tx_hash is not None else None)
        self._session.add(row)
        self._flush()
        return _status_event(row)

    def add_many(self, document_ids: Sequence[str], action: StatusAction, *,
                 actor: int | None = None, tx_hash: bytes | str | None = None,
                 at: datetime | None = None) -> None:
        """The same event for many documents, in one statement."""
        _one_of(action, STATUS_ACTIONS, "Aktion")
        tx = _hex32(tx_hash, "Transaktion") if tx_hash is not None else None
        at = at or now()
        rows = [{"document_id": d, "action": action, "reason": None, "actor": actor, "at": at,
                 "tx_hash": tx} for d in document_ids]
        _insert_many(self._session, StatusEvent, rows)

    def add_for_batch(self, batch_id: int, action: StatusAction, *,
                      tx_hash: bytes | str | None = None, at: datetime | None = None) -> None:
        """The same event for every document anchored in the batch, in one statement (after
        DocumentRepository.mark_batch_anchored)."""
        _one_of(action, STATUS_ACTIONS, "Aktion")
        tx = _hex32(tx_hash, "Transaktion") if tx_hash is not None else None
        chosen = sa.select(Document.id, sa.literal(action, sa.String()),
                           sa.cast(sa.null(), sa.Integer()), sa.cast(sa.null(), sa.Integer()),
                           sa.literal(at or now(), UTCDateTime()),
                           sa.literal(tx, sa.String()) if tx else sa.cast(sa.null(), sa.String())) \
            .where(Document.batch_id == batch_id, Document.state == "anchored")
        self._session.execute(sa.insert(StatusEvent).from_select(
            ["document_id", "action", "reason", "actor", "at", "tx_hash"], chosen))

    def for_document(self, document_id: str) -> list[StatusEventRecord]:
        """The document's history, oldest first."""
        query = (sa.select(StatusEvent).where(StatusEvent.document_id == document_id)
                 .order_by(StatusEvent.at, StatusEvent.id))
        return [_status_event(r) for r in self._session.scalars(query)]


@dataclass(frozen=True)
class BatchRecord:
    id: int
    account: str
    usecase: str
    state: BatchState
    size: int
    merkle_root: str
    nonce: int | None
    gas_price: int | None
    tx_hash: str | None
    raw_tx: bytes | None = field(repr=False)
    anchor_block: int | None
    anchored_at: datetime | None
    error: str | None
    created_at: datetime
    sent_at: datetime | None


def _batch(row: Batch) -> BatchRecord:
    return BatchRecord(row.id, row.account, row.usecase, cast(BatchState, row.state), row.size,
                       row.merkle_root, row.nonce,
                       int(row.gas_price) if row.gas_price is not None else None, row.tx_hash,
                       bytes(row.raw_tx) if row.raw_tx is not None else None, row.anchor_block,
                       row.anchored_at, row.error, row.created_at, row.sent_at)


class FailedBatches(NamedTuple):
    batches: int
    documents: int
    last_error: str | None
    last_at: datetime | None


class BatchRepository(_Repository):
    """Anchor batches: written with the signed transaction before it is sent."""

    def add(self, *, account: str, usecase: str, merkle_root: bytes | str, size: int,
            nonce: int | None = None, gas_price: int | None = None,
            tx_hash: bytes | str | None = None, raw_tx: bytes | None = None,
            state: BatchState = "sending", error: str | None = None,
            members: Sequence[bytes] | None = None, at: datetime | None = None) -> BatchRecord:
        """`members`: the targetHashes of the batch's documents (which stay unchanged until
        the anchor is recorded)."""
        _one_of(state, BATCH_STATES, "Zustand")
        if members is not None and any(len(m) != 32 for m in members):
            raise InputError("Ein targetHash hat 32 Bytes")
        row = Batch(account=account, usecase=usecase, state=state, size=size,
                    merkle_root=_hex32(merkle_root, "merkleRoot"), nonce=nonce,
                    gas_price=gas_price,
                    tx_hash=_hex32(tx_hash, "Transaktion") if tx_hash is not None else None,
                    raw_tx=raw_tx, anchor_block=None, anchored_at=None, error=error,
                    created_at=at or now(), sent_at=None,
                    members=b"".join(members) if members is not None else None)
        self._session.add(row)
        self._flush()
        return _batch(row)

    def _get_row(self, batch_id: int) -> Batch:
        row = self._session.get(Batch, batch_id)
        if row is None:
            raise RecordNotFoundError(f"Kein Anker-Stapel {batch_id}")
        return row

    def get(self, batch_id: int) -> BatchRecord | None:
        row = self._session.get(Batch, batch_id)
        return _batch(row) if row else None

    def members_of(self, batch_id: int) -> builtins.list[Hash32] | None:
        """The targetHashes the batch was opened with; None for a batch opened before they were
        recorded (its documents know their batch: DocumentRepository.target_hashes_of_batch)."""
        data = self._session.scalar(sa.select(Batch.members).where(Batch.id == batch_id))
        if data is None:
            return None
        data = bytes(data)
        return [Hash32(data[i:i + 32]) for i in range(0, len(data), 32)]

    def sending_for(self, account: str) -> builtins.list[BatchRecord]:
        """The account's batches whose transaction is not known to be mined, oldest first."""
        query = (sa.select(Batch).where(Batch.account == account, Batch.state == "sending")
                 .order_by(Batch.id))
        return [_batch(r) for r in self._session.scalars(query)]

    def accounts_sending(self) -> builtins.list[str]:
        query = sa.select(Batch.account).distinct().where(Batch.state == "sending")
        return list(self._session.scalars(query))

    def replace_tx(self, batch_id: int, *, raw_tx: bytes, tx_hash: bytes | str,
                   gas_price: int) -> None:
        """A new signed transaction for the same nonce (a replacement at a higher price)."""
        row = self._get_row(batch_id)
        row.raw_tx, row.gas_price = raw_tx, gas_price
        row.tx_hash = _hex32(tx_hash, "Transaktion")
        self._flush()

    def mark_sent(self, batch_id: int, at: datetime | None = None) -> None:
        self._get_row(batch_id).sent_at = at or now()
        self._flush()

    def mark_anchored(self, batch_id: int, *, tx_hash: bytes | str, block: int,
                      at: datetime, tree: bytes | None = None) -> None:
        """`tree`: every node of the batch's Merkle tree (MerkleTree.to_bytes), where its
        documents' proofs are read from."""
        row = self._get_row(batch_id)
        row.state, row.anchor_block, row.anchored_at = "anchored", block, at
        row.tx_hash = _hex32(tx_hash, "Transaktion")
        row.raw_tx = None
        if tree is not None:
            row.tree = tree
        self._flush()

    def mark_failed(self, batch_id: int, error: str) -> None:
        row = self._get_row(batch_id)
        row.state, row.error, row.raw_tx = "failed", error[:2000], None
        self._flush()

    def failed_since(self, since: datetime) -> FailedBatches:
        """Batches opened since `since` that failed: how many, their documents, the last error."""
        batches, documents = self._session.execute(
            sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(Batch.size), 0))
            .where(Batch.state == "failed", Batch.created_at >= since)).one()
        last = self._session.execute(
            sa.select(Batch.error, Batch.created_at)
            .where(Batch.state == "failed", Batch.created_at >= since)
            .order_by(Batch.id.desc()).limit(1)).first()
        return FailedBatches(int(batches), int(documents), last[0] if last else None,
                             last[1] if last else None)

    def list(self, *, state: BatchState | None = None, limit: int = 100) -> builtins.list[BatchRecord]:
        query = sa.select(Batch).order_by(Batch.id.desc()).limit(limit)
        if state is not None:
            query = query.where(Batch.state == state)
        return [_batch(r) for r in self._session.scalars(query)]


class LinkRepository(_Repository):
    def add(self, *, link_id: str, document_id: str, token_lookup: str, ciphertext: bytes,
            hidden_paths: Sequence[str] = (), created_by: int | None = None,
            expires_at: datetime | None = None, at: datetime | None = None) -> LinkRecord:
        """Stores a link made with security.link_lookup and security.seal_link (never the token)."""
        row = Link(id=link_id, document_id=document_id, token_lookup=token_lookup,
                   ciphertext=ciphertext, hidden_paths=list(hidden_paths), created_by=created_by,
                   created_at=at or now(), expires_at=expires_at, withdrawn_at=None)
        self._session.add(row)
        self._flush()
        return _link(row)

    def by_id(self, link_id: str) -> LinkRecord | None:
        row = self._session.get(Link, link_id)
        return _link(row) if row else None

    def by_lookup(self, token_lookup: str) -> LinkRecord | None:
        row = self._session.scalar(sa.select(Link).where(Link.token_lookup == token_lookup))
        return _link(row) if row else None

    def withdraw(self, link_id: str, at: datetime | None = None) -> LinkRecord:
        """Withdraws the link for good; a second call keeps the first time."""
        row = self._session.get(Link, link_id)
        if row is None:
            raise RecordNotFoundError(f"Keinen Prüflink {link_id}")
        if row.withdrawn_at is None:
            row.withdrawn_at = at or now()
            self._flush()
        return _link(row)

    def for_document(self, document_id: str) -> list[LinkRecord]:
        query = (sa.select(Link).where(Link.document_id == document_id)
                 .order_by(Link.created_at, Link.id))
        return [_link(r) for r in self._session.scalars(query)]


# Keys that must never reach the audit log's detail, at any depth.
_SECRET_KEY = re.compile(r"pass(word)?|secret|token|ciphertext|api_?key$|key_hash", re.I)


def _check_no_secrets(value: Any, path: str = "detail") -> None:
    if isinstance(value, Mapping):
        for key, child in value.items():
            if _SECRET_KEY.search(str(key)):
                raise ValueError(f"{path}.{key}: no secrets in the audit log")
            _check_no_secrets(child, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for i, child in enumerate(value):
            _check_no_secrets(child, f"{path}[{i}]")


class AuditRepository(_Repository):
    """Append and read only: the database refuses to change or delete an entry."""

    def append(self, *, actor: str, actor_kind: ActorKind, action: str, target: str | None = None,
               remote_addr: str | None = None, detail: Mapping[str, Any] | None = None,
               at: datetime | None = None) -> AuditRecord:
        _one_of(actor_kind, ACTOR_KINDS, "Akteursart")
        _check_no_secrets(detail or {})
        row = AuditEntry(at=at or now(), actor=actor, actor_kind=actor_kind, action=action,
                         target=target, remote_addr=remote_addr, detail=dict(detail or {}))
        self._session.add(row)
        self._flush()
        return _audit(row)

    def list(self, *, actor: str | None = None, actor_kind: ActorKind | None = None,
             action: str | None = None, target: str | None = None,
             since: datetime | None = None, until: datetime | None = None,
             offset: int = 0, limit: int = 100) -> Page[AuditRecord]:
        """Newest first; `since` inclusive, `until` exclusive."""
        offset, limit = _page(offset, limit)
        conditions: list[sa.ColumnElement[bool]] = []
        if actor is not None:
            conditions.append(AuditEntry.actor == actor)
        if actor_kind is not None:
            conditions.append(AuditEntry.actor_kind == actor_kind)
        if action is not None:
            conditions.append(AuditEntry.action == action)
        if target is not None:
            conditions.append(AuditEntry.target == target)
        if since is not None:
            conditions.append(AuditEntry.at >= since)
        if until is not None:
            conditions.append(AuditEntry.at < until)
        query = (sa.select(AuditEntry).where(*conditions)
                 .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                 .offset(offset).limit(limit))
        items = [_audit(r) for r in self._session.scalars(query)]
        return Page(items, self._count(AuditEntry, conditions))


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


class VerificationLogRepository(_Repository):
    """The trail of institutional checks; append and read only, like the audit log."""

    def append(self, *, api_key_id: int, result: str, document_id: str | None = None,
               link_id: str | None = None, at: datetime | None = None) -> VerificationRecord:
        if document_id is None and link_id is None:
            raise InputError("Eine Prüfung betrifft ein Dokument oder einen Prüflink")
        row = VerificationEntry(api_key_id=api_key_id, at=at or now(), document_id=document_id,
                                link_id=link_id, result=result)
        self._session.add(row)
        self._flush()
        return _verification(row)

    def list(self, *, api_key_id: int | None = None, since: datetime | None = None,
             until: datetime | None = None, offset: int = 0, limit: int = 100
             ) -> Page[VerificationRecord]:
        """Newest first; `since` inclusive, `until` exclusive."""
        offset, limit = _page(offset, limit)
        conditions: list[sa.ColumnElement[bool]] = []
        if api_key_id is not None:
            conditions.append(VerificationEntry.api_key_id == api_key_id)
        if since is not None:
            conditions.append(VerificationEntry.at >= since)
        if until is not None:
            conditions.append(VerificationEntry.at < until)
        query = (sa.select(VerificationEntry).where(*conditions)
                 .order_by(VerificationEntry.at.desc(), VerificationEntry.id.desc())
                 .offset(offset).limit(limit))
        items = [_verification(r) for r in self._session.scalars(query)]
        return Page(items, self._count(VerificationEntry, conditions))


# -- unit of work -----------------------------------------------------------------------------

class UnitOfWork:
    """One transaction over all repositories.

        with UnitOfWork(engine) as uow:
            user = uow.users.add(...)
            uow.audit.append(...)
            uow.commit()

    Leaving the block without commit() rolls everything back, an exception included. A
    ConflictError (unique value taken, missing reference) spoils the transaction: leave the block.
    Database errors leave the block as StorageError.
    """

    users: UserRepository
    api_keys: ApiKeyRepository
    documents: DocumentRepository
    status_events: StatusEventRepository
    links: LinkRepository
    audit: AuditRepository
    verification_log: VerificationLogRepository
    revoked_tokens: RevokedTokenRepository

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._session: Session | None = None

    def __enter__(self) -> Self:
        if self._session is not None:
            raise RuntimeError("this unit of work is already open")
        session = Session(self._engine, expire_on_commit=False, autoflush=True)
        self._session = session
        self.users = UserRepository(session)
        self.api_keys = ApiKeyRepository(session)
        self.documents = DocumentRepository(session)
        self.batches = BatchRepository(session)
        self.status_events = StatusEventRepository(session)
        self.links = LinkRepository(session)
        self.audit = AuditRepository(session)
        self.verification_log = VerificationLogRepository(session)
        self.revoked_tokens = RevokedTokenRepository(session)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        session, self._session = self._session, None
        assert session is not None
        try:
            session.rollback()
        except SQLAlchemyError as err:
            if exc is None:
                raise StorageError(f"Datenbankfehler: {type(err).__name__}") from err
        finally:
            session.close()
        if isinstance(exc, IntegrityError):
            raise _conflict(exc) from exc
        if isinstance(exc, SQLAlchemyError):
            raise StorageError(f"Datenbankfehler: {type(exc).__name__}") from exc

    def _open_session(self) -> Session:
        if self._session is None:
            raise RuntimeError("the unit of work is not open")
        return self._session

    def commit(self) -> None:
        try:
            self._open_session().commit()
        except IntegrityError as err:
            raise _conflict(err) from err

    def rollback(self) -> None:
        self._open_session().rollback()

"""The service's tables as SQLAlchemy models; the schema itself is made by the Alembic migrations.

Only ``documents`` holds personal data in clear. A verification link is stored as a lookup value
derived from its token and the disclosed document sealed under a key derived from the same token
(see govchain.domain.security), so the database alone opens no link. Every point in time is stored as UTC
and read back timezone-aware.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from govchain.domain.vocabulary import (
    ACTOR_KINDS,
    DOCUMENT_STATES,
    LEDGER_STATUSES,
    ROLES,
    STATUS_ACTIONS,
)

# Tables that only ever grow: a database trigger refuses UPDATE and DELETE (see migrations).
APPEND_ONLY_TABLES = ("audit_log", "verification_log")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def in_list(column: str, values: tuple[str, ...]) -> str:
    """SQL text of a CHECK that `column` holds one of `values` (shared with the migrations)."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware point in time, stored as UTC on every database.

    SQLite has no time zone type: the value is stored as naive UTC and read back with tzinfo=UTC.
    A naive datetime is refused, since its meaning would be a guess.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: govchain stores only timezone-aware times")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSON null is stored as SQL NULL, so "IS NULL" means "absent" in queries and CHECKs.
JSONValue = sa.JSON(none_as_null=True)
# 64-bit ids for the tables that grow with every request; SQLite needs INTEGER for its rowid alias.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

HEX32 = 66  # "0x" + 64 hex digits: roots, target hashes, transaction hashes
DOCUMENT_ID = 80  # "urn:uuid:" + 36


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime, dict[str, Any]: JSONValue,
    }


class User(Base):
    """A person who logs in: the registrar, a municipal clerk or a landlord."""

    __tablename__ = "users"
    __table_args__ = (
        sa.CheckConstraint(in_list("role", ROLES), name="role"),
        sa.CheckConstraint(
            "(role = 'clerk' AND municipality_ags IS NOT NULL AND length(municipality_ags) = 8)"
            " OR (role <> 'clerk' AND municipality_ags IS NULL)",
            name="municipality_of_clerk",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(16))
    municipality_ags: Mapped[str | None] = mapped_column(sa.String(8))
    display_name: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]


class ApiKey(Base):
    """An institutional verifier's key (police, Ordnungsamt); only its SHA-256 is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    prefix: Mapped[str] = mapped_column(sa.String(16))
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


# An anchored document is either stored whole (document) or as its salted form in a batch whose
# stored tree gives the proof (the group-commit worker's way: one UPDATE per batch).
ANCHOR_COMPLETE = (
    "(state = 'anchored' AND merkle_root IS NOT NULL AND anchor_tx IS NOT NULL"
    " AND anchor_block IS NOT NULL AND anchored_at IS NOT NULL"
    " AND (document IS NOT NULL OR (salted IS NOT NULL AND batch_id IS NOT NULL)))"
    " OR (state <> 'anchored' AND salted IS NOT NULL AND document IS NULL"
    " AND merkle_root IS NULL)"
)


class Document(Base):
    """A document the municipality issued or is issuing: the only table with personal data.

    While pending, ``salted`` holds what the anchoring worker needs (unsigned document, salts,
    targetHash). Once anchored by the worker, ``salted`` stays and the proof comes from the
    batch's stored tree (see ANCHOR_COMPLETE); a document anchored on its own keeps the issued
    document with its proof in ``document`` and ``salted`` is cleared.
    """

    __tablename__ = "documents"
    __table_args__ = (
        sa.CheckConstraint(in_list("state", DOCUMENT_STATES), name="state"),
        sa.CheckConstraint(in_list("ledger_status", LEDGER_STATUSES), name="ledger_status"),
        sa.CheckConstraint(ANCHOR_COMPLETE, name="anchor_complete"),
        sa.Index("ix_documents_listing", "ags", "usecase", "state", "created_at"),
        sa.Index("ix_documents_merkle_root", "merkle_root"),
        sa.Index("ix_documents_target_hash", "target_hash"),
        sa.Index("ix_documents_queue", "state", "account", "batch_id", "created_at"),
        sa.Index("ix_documents_batch", "batch_id"),
        sa.Index("ix_documents_leaf", "leaf"),
    )

    id: Mapped[str] = mapped_column(sa.String(DOCUMENT_ID), primary_key=True)
    ags: Mapped[str] = mapped_column(sa.String(8))
    usecase: Mapped[str] = mapped_column(sa.String(64))
    state: Mapped[str] = mapped_column(sa.String(16))
    ledger_status: Mapped[str] = mapped_column(sa.String(16))
    subject: Mapped[dict[str, Any]]
    # The subject's values, case-folded and joined: what a clerk's search matches against.
    search_text: Mapped[str] = mapped_column(sa.Text)
    document: Mapped[dict[str, Any] | None]
    salted: Mapped[dict[str, Any] | None]
    target_hash: Mapped[str] = mapped_column(sa.String(HEX32))
    merkle_root: Mapped[str | None] = mapped_column(sa.String(HEX32))
    anchor_tx: Mapped[str | None] = mapped_column(sa.String(HEX32))
    anchor_block: Mapped[int | None] = mapped_column(sa.BigInteger)
    anchored_at: Mapped[datetime | None]
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime]
    landlord_code: Mapped[str | None] = mapped_column(sa.String(14), unique=True)
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime | None]
    # The issuer account named in the document: the anchoring worker's queue key.
    account: Mapped[str | None] = mapped_column(sa.String(42))
    batch_id: Mapped[int | None] = mapped_column(BigId, sa.ForeignKey("batches.id"))
    # Its place in the municipality's Bitstring Status Lists (domain.status_lists) and its
    # ledger leaf (keccak(0x00 ‖ targetHash), what status events name), for setting the bits;
    # NULL for documents issued before status lists.
    status_list: Mapped[int | None] = mapped_column(sa.Integer)
    status_index: Mapped[int | None] = mapped_column(sa.Integer)
    leaf: Mapped[str | None] = mapped_column(sa.String(HEX32))
    # The Data Integrity proof (ecdsa-rdfc-2019), made when the credential is first asked for
    di_proof: Mapped[dict[str, Any] | None]


class StatusListCounter(Base):
    """Per municipality: how many status list positions it has handed out, and the key of the
    permutation that turns that count into a position (domain.status_lists.position)."""

    __tablename__ = "status_list_counters"

    ags: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    permutation_key: Mapped[str] = mapped_column(sa.String(64))
    allocated: Mapped[int] = mapped_column(sa.BigInteger)


BatchState = Literal["sending", "anchored", "failed"]
BATCH_STATES: tuple[BatchState, ...] = ("sending", "anchored", "failed")


class Batch(Base):
    """Documents of one account and use case under one Merkle root: one anchor transaction.

    Written with its signed transaction before that is sent, so that after a crash the same bytes
    are sent again (same nonce, same hash) instead of a second anchor.
    """

    __tablename__ = "batches"
    __table_args__ = (
        sa.CheckConstraint(in_list("state", BATCH_STATES), name="state"),
        sa.Index("ix_batches_account_state", "account", "state"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account: Mapped[str] = mapped_column(sa.String(42))
    usecase: Mapped[str] = mapped_column(sa.String(64))
    state: Mapped[str] = mapped_column(sa.String(16))
    size: Mapped[int]
    merkle_root: Mapped[str] = mapped_column(sa.String(HEX32), unique=True)
    nonce: Mapped[int | None] = mapped_column(sa.BigInteger)
    gas_price: Mapped[int | None] = mapped_column(sa.Numeric(78, 0))
    tx_hash: Mapped[str | None] = mapped_column(sa.String(HEX32))
    raw_tx: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    anchor_block: Mapped[int | None] = mapped_column(sa.BigInteger)
    anchored_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    # Once anchored: every node of the batch's Merkle tree (merkle.MerkleTree.to_bytes), from
    # which each document's proof is read.
    tree: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    # The members' targetHashes (32 bytes each, in tree order), written when the batch is opened:
    # the documents themselves are written only when the anchor is recorded. Read only then.
    members: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)


class StatusEvent(Base):
    """One step in a document's life: issued, anchored, suspended, reinstated, revoked."""

    __tablename__ = "status_events"
    __table_args__ = (
        sa.CheckConstraint(in_list("action", STATUS_ACTIONS), name="action"),
        sa.Index("ix_status_events_document", "document_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    document_id: Mapped[str] = mapped_column(sa.ForeignKey("documents.id"))
    action: Mapped[str] = mapped_column(sa.String(16))
    reason: Mapped[int | None] = mapped_column(sa.Integer)
    actor: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    at: Mapped[datetime]
    tx_hash: Mapped[str | None] = mapped_column(sa.String(HEX32))


class Link(Base):
    """A verification link: the disclosed document sealed under a key only the token yields."""

    __tablename__ = "links"
    __table_args__ = (sa.Index("ix_links_document", "document_id"),)

    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    document_id: Mapped[str] = mapped_column(sa.ForeignKey("documents.id"))
    token_lookup: Mapped[str] = mapped_column(sa.String(64), unique=True)
    ciphertext: Mapped[bytes] = mapped_column(sa.LargeBinary)
    hidden_paths: Mapped[list[str]] = mapped_column(sa.JSON)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]


class AuditEntry(Base):
    """Who did what, when, from where. Append-only, enforced by the database."""

    __tablename__ = "audit_log"
    __table_args__ = (
        sa.CheckConstraint(in_list("actor_kind", ACTOR_KINDS), name="actor_kind"),
        sa.Index("ix_audit_log_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(sa.String(64))
    actor_kind: Mapped[str] = mapped_column(sa.String(16))
    action: Mapped[str] = mapped_column(sa.String(64))
    target: Mapped[str | None] = mapped_column(sa.String(200))
    remote_addr: Mapped[str | None] = mapped_column(sa.String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    # the HTTP request that made the change (its X-Request-ID, also in the service's log lines)
    request_id: Mapped[str | None] = mapped_column(sa.String(64))


class VerificationEntry(Base):
    """An institutional check made with an API key. Append-only, enforced by the database."""

    __tablename__ = "verification_log"
    __table_args__ = (
        sa.CheckConstraint("document_id IS NOT NULL OR link_id IS NOT NULL", name="subject"),
        sa.Index("ix_verification_log_api_key", "api_key_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    api_key_id: Mapped[int] = mapped_column(sa.ForeignKey("api_keys.id"))
    at: Mapped[datetime]
    # No foreign keys: a police check may concern a document another municipality issued.
    document_id: Mapped[str | None] = mapped_column(sa.String(DOCUMENT_ID))
    link_id: Mapped[str | None] = mapped_column(sa.String(64))
    result: Mapped[str] = mapped_column(sa.String(32))


class RevokedToken(Base):
    """A login token ended by logging out before it expired; kept only until it would have
    expired anyway (then a token is refused for its age alone)."""

    __tablename__ = "revoked_tokens"
    __table_args__ = (sa.Index("ix_revoked_tokens_expires_at", "expires_at"),)

    token_id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    expires_at: Mapped[datetime]


class LoginSession(Base):
    """A login token as issued (API or pages), so that the registrar can see a user's sessions
    and end them. Whether a token counts is still decided by the token, the user and
    ``revoked_tokens``; a row is deleted when its session is ended and once it has expired."""

    __tablename__ = "login_sessions"
    __table_args__ = (sa.Index("ix_login_sessions_user_id", "user_id"),
                      sa.Index("ix_login_sessions_expires_at", "expires_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[str] = mapped_column(sa.String(32), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    address: Mapped[str | None] = mapped_column(sa.String(64))  # of the last request seen
    user_agent: Mapped[str | None] = mapped_column(sa.String(200))  # of the login


WalletOfferState = Literal["offered", "token", "issued", "locked", "withdrawn"]
WALLET_OFFER_STATES: tuple[WalletOfferState, ...] = ("offered", "token", "issued", "locked",
                                                     "withdrawn")


class WalletOffer(Base):
    """An OpenID4VCI credential offer (pre-authorized code flow) for one document. Only lookup
    values of the pre-authorized code and the access token are kept, and the transaction code
    (PIN) only as a hash keyed by the pre-authorized code: the database alone redeems nothing."""

    __tablename__ = "wallet_offers"
    __table_args__ = (
        sa.CheckConstraint(in_list("state", WALLET_OFFER_STATES), name="state"),
        sa.Index("ix_wallet_offers_document", "document_id"),
    )

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    document_id: Mapped[str] = mapped_column(sa.ForeignKey("documents.id"))
    code_lookup: Mapped[str] = mapped_column(sa.String(64), unique=True)
    pin_hash: Mapped[str] = mapped_column(sa.String(64))
    state: Mapped[str] = mapped_column(sa.String(16))
    failed_attempts: Mapped[int] = mapped_column(sa.Integer)
    token_lookup: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    token_expires_at: Mapped[datetime | None]
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    issued_at: Mapped[datetime | None]
    holder_key: Mapped[str | None] = mapped_column(sa.String(64))  # JWK thumbprint, once issued


class PresentationRequest(Base):
    """An OpenID4VP request of a checker and, once a wallet answered, the verification result
    (the disclosed claims included) until the request expires."""

    __tablename__ = "presentation_requests"
    __table_args__ = (sa.Index("ix_presentation_requests_expires_at", "expires_at"),)

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    usecase: Mapped[str] = mapped_column(sa.String(64))
    nonce: Mapped[str] = mapped_column(sa.String(64))
    state_lookup: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    result: Mapped[dict[str, Any] | None]

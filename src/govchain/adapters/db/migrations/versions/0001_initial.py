"""Initial schema: users, API keys, documents, status events, links, audit and verification logs.

Revision ID: 0001
Revises:
Create Date: 2026-11-01

Written out in full rather than imported from the models, so that this revision stays what it was
when the models change. audit_log and verification_log get triggers that refuse UPDATE and DELETE.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("audit_log", "verification_log")


def _time(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _big_id() -> sa.Column[int]:
    return sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("municipality_ags", sa.String(8), nullable=True),
        sa.Column("display_name", sa.String(200), nullable=False),
        _time("created_at"),
        _time("disabled_at", nullable=True),
        sa.CheckConstraint("role IN ('registrar', 'clerk', 'landlord')",
                           name=op.f("ck_users_role")),
        sa.CheckConstraint(
            "(role = 'clerk' AND municipality_ags IS NOT NULL AND length(municipality_ags) = 8)"
            " OR (role <> 'clerk' AND municipality_ags IS NULL)",
            name=op.f("ck_users_municipality_of_clerk"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        _time("created_at"),
        _time("revoked_at", nullable=True),
        _time("last_used_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_table(
        "documents",
        sa.Column("id", sa.String(80), nullable=False),
        sa.Column("ags", sa.String(8), nullable=False),
        sa.Column("usecase", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("ledger_status", sa.String(16), nullable=False),
        sa.Column("subject", sa.JSON(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=True),
        sa.Column("salted", sa.JSON(), nullable=True),
        sa.Column("target_hash", sa.String(66), nullable=False),
        sa.Column("merkle_root", sa.String(66), nullable=True),
        sa.Column("anchor_tx", sa.String(66), nullable=True),
        sa.Column("anchor_block", sa.BigInteger(), nullable=True),
        _time("anchored_at", nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        _time("created_at"),
        sa.Column("landlord_code", sa.String(14), nullable=True),
        _time("valid_from"),
        _time("valid_until", nullable=True),
        sa.CheckConstraint("state IN ('pending', 'anchored', 'failed')",
                           name=op.f("ck_documents_state")),
        sa.CheckConstraint("ledger_status IN ('none', 'suspended', 'revoked')",
                           name=op.f("ck_documents_ledger_status")),
        sa.CheckConstraint(
            "(state = 'anchored' AND document IS NOT NULL AND merkle_root IS NOT NULL"
            " AND anchor_tx IS NOT NULL AND anchor_block IS NOT NULL AND anchored_at IS NOT NULL)"
            " OR (state <> 'anchored' AND salted IS NOT NULL AND document IS NULL"
            " AND merkle_root IS NULL)",
            name=op.f("ck_documents_anchor_complete"),
        ),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"],
                                name=op.f("fk_documents_created_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
        sa.UniqueConstraint("landlord_code", name=op.f("uq_documents_landlord_code")),
    )
    op.create_index("ix_documents_listing", "documents", ["ags", "usecase", "state", "created_at"])
    op.create_index("ix_documents_merkle_root", "documents", ["merkle_root"])
    op.create_index("ix_documents_target_hash", "documents", ["target_hash"])
    op.create_table(
        "status_events",
        _big_id(),
        sa.Column("document_id", sa.String(80), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("reason", sa.Integer(), nullable=True),
        sa.Column("actor", sa.Integer(), nullable=True),
        _time("at"),
        sa.Column("tx_hash", sa.String(66), nullable=True),
        sa.CheckConstraint(
            "action IN ('issued', 'anchored', 'suspended', 'reinstated', 'revoked')",
            name=op.f("ck_status_events_action"),
        ),
        sa.ForeignKeyConstraint(["actor"], ["users.id"], name=op.f("fk_status_events_actor_users")),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"],
                                name=op.f("fk_status_events_document_id_documents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_events")),
    )
    op.create_index("ix_status_events_document", "status_events", ["document_id", "at"])
    op.create_table(
        "links",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("document_id", sa.String(80), nullable=False),
        sa.Column("token_lookup", sa.String(64), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("hidden_paths", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        _time("created_at"),
        _time("expires_at", nullable=True),
        _time("withdrawn_at", nullable=True),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"],
                                name=op.f("fk_links_created_by_users")),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"],
                                name=op.f("fk_links_document_id_documents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_links")),
        sa.UniqueConstraint("token_lookup", name=op.f("uq_links_token_lookup")),
    )
    op.create_index("ix_links_document", "links", ["document_id"])
    op.create_table(
        "audit_log",
        _big_id(),
        _time("at"),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("actor_kind", sa.String(16), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(200), nullable=True),
        sa.Column("remote_addr", sa.String(64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.CheckConstraint("actor_kind IN ('user', 'api_key', 'anonymous')",
                           name=op.f("ck_audit_log_actor_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "verification_log",
        _big_id(),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        _time("at"),
        sa.Column("document_id", sa.String(80), nullable=True),
        sa.Column("link_id", sa.String(64), nullable=True),
        sa.Column("result", sa.String(32), nullable=False),
        sa.CheckConstraint("document_id IS NOT NULL OR link_id IS NOT NULL",
                           name=op.f("ck_verification_log_subject")),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_keys.id"],
                                name=op.f("fk_verification_log_api_key_id_api_keys")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_log")),
    )
    op.create_index("ix_verification_log_api_key", "verification_log", ["api_key_id", "at"])
    _create_append_only_triggers()


def _create_append_only_triggers() -> None:
    dialect = op.get_context().dialect.name
    if dialect == "postgresql":
        op.execute(
            "CREATE FUNCTION govchain_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'govchain: % is append-only', TG_TABLE_NAME "
            "USING ERRCODE = 'restrict_violation'; END $$"
        )
        for table in APPEND_ONLY:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION govchain_append_only()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION govchain_append_only()")
    elif dialect == "sqlite":
        for table in APPEND_ONLY:
            for event in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                           f"BEGIN SELECT RAISE(ABORT, 'govchain: {table} is append-only'); END")
    else:
        raise NotImplementedError(f"govchain supports SQLite and PostgreSQL, not {dialect}")


def downgrade() -> None:
    dialect = op.get_context().dialect.name
    for table in APPEND_ONLY:
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS govchain_append_only()")
    for table in ("verification_log", "audit_log", "links", "status_events", "documents",
                  "api_keys", "users"):
        op.drop_table(table)

"""Group-commit anchoring: batches (one anchor transaction each) and the issuer account per document.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27

A batch row is written, with its signed transaction, before the transaction is sent: after a crash
the worker finds it and re-broadcasts the same bytes (same nonce, same hash) or reads the anchor
from the chain, so a document is never anchored twice and no nonce is lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account", sa.String(42), nullable=False),
        sa.Column("usecase", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("merkle_root", sa.String(66), nullable=False),
        sa.Column("nonce", sa.BigInteger(), nullable=True),
        sa.Column("gas_price", sa.Numeric(78, 0), nullable=True),
        sa.Column("tx_hash", sa.String(66), nullable=True),
        sa.Column("raw_tx", sa.LargeBinary(), nullable=True),
        sa.Column("anchor_block", sa.BigInteger(), nullable=True),
        _time("anchored_at", nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _time("created_at"),
        _time("sent_at", nullable=True),
        sa.CheckConstraint("state IN ('sending', 'anchored', 'failed')",
                           name=op.f("ck_batches_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
        sa.UniqueConstraint("merkle_root", name=op.f("uq_batches_merkle_root")),
    )
    op.create_index("ix_batches_account_state", "batches", ["account", "state"])
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("account", sa.String(42), nullable=True))
        batch.add_column(sa.Column("batch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                                   nullable=True))
        batch.create_foreign_key(op.f("fk_documents_batch_id_batches"), "batches",
                                 ["batch_id"], ["id"])
    documents = sa.table("documents", sa.column("id", sa.String()),
                         sa.column("salted", sa.JSON()), sa.column("document", sa.JSON()),
                         sa.column("account", sa.String()))
    conn = op.get_bind()
    for doc_id, salted, document in conn.execute(
            sa.select(documents.c.id, documents.c.salted, documents.c.document)).all():
        issued = document or (salted or {}).get("document") or {}
        account = (issued.get("issuer") or {}).get("account")
        if account:
            conn.execute(documents.update().where(documents.c.id == doc_id).values(account=account))
    op.create_index("ix_documents_queue", "documents", ["state", "account", "batch_id", "created_at"])
    op.create_index("ix_documents_batch", "documents", ["batch_id"])


def downgrade() -> None:
    op.drop_index("ix_documents_batch", "documents")
    op.drop_index("ix_documents_queue", "documents")
    with op.batch_alter_table("documents") as batch:
        batch.drop_constraint(op.f("fk_documents_batch_id_batches"), type_="foreignkey")
        batch.drop_column("batch_id")
        batch.drop_column("account")
    op.drop_index("ix_batches_account_state", "batches")
    op.drop_table("batches")

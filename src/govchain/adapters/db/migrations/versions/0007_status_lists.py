"""Open standards: each document's place in its municipality's Bitstring Status Lists, its
ledger leaf, its Data Integrity proof once made, and the per-municipality position counter.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29

Documents issued before keep NULL in the new columns: they have no status list entries.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("status_list", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("status_index", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("leaf", sa.String(66), nullable=True))
        batch.add_column(sa.Column("di_proof", sa.JSON(none_as_null=True), nullable=True))
    op.create_index("ix_documents_leaf", "documents", ["leaf"])
    op.create_table(
        "status_list_counters",
        sa.Column("ags", sa.String(8), nullable=False),
        sa.Column("permutation_key", sa.String(64), nullable=False),
        sa.Column("allocated", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("ags", name=op.f("pk_status_list_counters")),
    )


def downgrade() -> None:
    op.drop_table("status_list_counters")
    op.drop_index("ix_documents_leaf", table_name="documents")
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("di_proof")
        batch.drop_column("leaf")
        batch.drop_column("status_index")
        batch.drop_column("status_list")

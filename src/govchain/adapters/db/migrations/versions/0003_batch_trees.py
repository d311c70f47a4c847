"""Proofs from the batch's stored Merkle tree: anchoring a batch is one UPDATE, not one per document.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

The group-commit worker used to write every document again with its proof. Now the batch keeps
its tree (every node, 32 bytes each) and a document anchored in a batch keeps its salted form; its
proof is read from the tree. Documents anchored before stay as they are (``document`` holds them).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_RULE = (
    "(state = 'anchored' AND document IS NOT NULL AND merkle_root IS NOT NULL"
    " AND anchor_tx IS NOT NULL AND anchor_block IS NOT NULL AND anchored_at IS NOT NULL)"
    " OR (state <> 'anchored' AND salted IS NOT NULL AND document IS NULL"
    " AND merkle_root IS NULL)"
)
NEW_RULE = (
    "(state = 'anchored' AND merkle_root IS NOT NULL AND anchor_tx IS NOT NULL"
    " AND anchor_block IS NOT NULL AND anchored_at IS NOT NULL"
    " AND (document IS NOT NULL OR (salted IS NOT NULL AND batch_id IS NOT NULL)))"
    " OR (state <> 'anchored' AND salted IS NOT NULL AND document IS NULL"
    " AND merkle_root IS NULL)"
)


def _rule(text: str) -> None:
    with op.batch_alter_table("documents") as batch:
        batch.drop_constraint(op.f("ck_documents_anchor_complete"), type_="check")
        batch.create_check_constraint(op.f("ck_documents_anchor_complete"), sa.text(text))


def upgrade() -> None:
    with op.batch_alter_table("batches") as batch:
        batch.add_column(sa.Column("tree", sa.LargeBinary(), nullable=True))
    _rule(NEW_RULE)


def downgrade() -> None:
    # Documents anchored with a batch tree have no stored issued document: refuse rather than
    # lose their proofs.
    conn = op.get_bind()
    waiting = conn.execute(sa.text(
        "SELECT count(*) FROM documents WHERE state = 'anchored' AND document IS NULL")).scalar()
    if waiting:
        raise RuntimeError(f"{waiting} Dokumente haben ihren Nachweis nur im Stapel-Baum; "
                           "ein Downgrade würde ihn verlieren")
    _rule(OLD_RULE)
    with op.batch_alter_table("batches") as batch:
        batch.drop_column("tree")

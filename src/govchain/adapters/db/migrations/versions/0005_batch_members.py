"""A batch records its members (their targetHashes) itself: opening a batch writes no document.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27

Opening a batch used to write every member document once more (``batch_id``) before the anchor
was sent, and finishing it a second time; now the batch row keeps its members' targetHashes
(32 bytes each) and the documents are written once, when the anchor is recorded. Batches opened
before keep finding their documents by ``batch_id``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("batches") as batch:
        batch.add_column(sa.Column("members", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    # A batch still sending knows its documents only by this column: refuse rather than lose them.
    conn = op.get_bind()
    open_ = conn.execute(sa.text(
        "SELECT count(*) FROM batches WHERE state = 'sending' AND members IS NOT NULL")).scalar()
    if open_:
        raise RuntimeError(f"{open_} Anker-Stapel warten noch auf ihre Verankerung; "
                           "ein Downgrade würde ihre Dokumente verlieren")
    with op.batch_alter_table("batches") as batch:
        batch.drop_column("members")

"""The HTTP request behind each audit entry (its X-Request-ID), to find its log lines.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29

A plain ADD COLUMN (no table rebuild), so the append-only triggers of audit_log stay; older
entries keep NULL.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("request_id", sa.String(64), nullable=True))


def downgrade() -> None:
    # a plain DROP COLUMN on both (SQLite ≥ 3.35): a batch rebuild would lose the triggers
    op.execute("ALTER TABLE audit_log DROP COLUMN request_id")

"""The citizen's wallet: OpenID4VCI credential offers and OpenID4VP presentation requests.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from govchain.adapters.db.models import WALLET_OFFER_STATES, in_list

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "wallet_offers",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("document_id", sa.String(80), nullable=False),
        sa.Column("code_lookup", sa.String(64), nullable=False),
        sa.Column("pin_hash", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("token_lookup", sa.String(64), nullable=True),
        sa.Column("token_expires_at", _TIME, nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.Column("issued_at", _TIME, nullable=True),
        sa.Column("holder_key", sa.String(64), nullable=True),
        sa.CheckConstraint(in_list("state", WALLET_OFFER_STATES),
                           name=op.f("ck_wallet_offers_state")),
        sa.ForeignKeyConstraint(["document_id"], ["documents.id"],
                                name=op.f("fk_wallet_offers_document_id_documents")),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"],
                                name=op.f("fk_wallet_offers_created_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_offers")),
        sa.UniqueConstraint("code_lookup", name=op.f("uq_wallet_offers_code_lookup")),
        sa.UniqueConstraint("token_lookup", name=op.f("uq_wallet_offers_token_lookup")),
    )
    op.create_index("ix_wallet_offers_document", "wallet_offers", ["document_id"])
    op.create_table(
        "presentation_requests",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("usecase", sa.String(64), nullable=False),
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("state_lookup", sa.String(64), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.Column("answered_at", _TIME, nullable=True),
        sa.Column("result", sa.JSON(none_as_null=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_presentation_requests")),
        sa.UniqueConstraint("state_lookup", name=op.f("uq_presentation_requests_state_lookup")),
    )
    op.create_index("ix_presentation_requests_expires_at", "presentation_requests",
                    ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_presentation_requests_expires_at", table_name="presentation_requests")
    op.drop_table("presentation_requests")
    op.drop_index("ix_wallet_offers_document", table_name="wallet_offers")
    op.drop_table("wallet_offers")

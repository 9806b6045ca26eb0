"""Nudge state of networks.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = storage.types.UTCDateTime()
BIGINT_ID = storage.types.BigIntId


def upgrade() -> None:
    op.create_table(
        "nudges",
        sa.Column("network_id", BIGINT_ID, sa.ForeignKey("networks.id", ondelete="CASCADE"), nullable=False),
        sa.Column("cause", sa.String(32), nullable=True),
        sa.Column("last_sent_at", UTC_DATETIME, nullable=True),
        sa.Column("unanswered", sa.Integer(), nullable=False),
        sa.Column("snoozed_until", UTC_DATETIME, nullable=True),
        sa.Column("answered_at", UTC_DATETIME, nullable=True),
        sa.PrimaryKeyConstraint("network_id", name="pk_nudges"),
    )


def downgrade() -> None:
    op.drop_table("nudges")

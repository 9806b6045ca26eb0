"""Feedback polls: settings per network, polls, anonymous votes and comments.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = storage.types.UTCDateTime()
JSON = storage.types.JSONType
BIGINT_ID = storage.types.BigIntId


def upgrade() -> None:
    op.create_table(
        "poll_settings",
        sa.Column("network_id", BIGINT_ID, sa.ForeignKey("networks.id", ondelete="CASCADE"), nullable=False),
        sa.Column("questions", JSON, nullable=False),
        sa.Column("comments", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("network_id", name="pk_poll_settings"),
    )
    op.create_table(
        "polls",
        sa.Column("id", BIGINT_ID, primary_key=True, autoincrement=True),
        sa.Column("session_id", BIGINT_ID, sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("network_id", BIGINT_ID, sa.ForeignKey("networks.id", ondelete="CASCADE"), nullable=False),
        sa.Column("questions", JSON, nullable=False),
        sa.Column("comments", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("opened_at", UTC_DATETIME, nullable=False),
        sa.Column("closes_at", UTC_DATETIME, nullable=False),
        sa.Column("closed_at", UTC_DATETIME, nullable=True),
        sa.Column("secret", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_polls"),
        sa.UniqueConstraint("session_id", name="uq_polls_session_id"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "votes",
        sa.Column("poll_id", BIGINT_ID, sa.ForeignKey("polls.id", ondelete="CASCADE"), nullable=False),
        sa.Column("question", sa.String(32), nullable=False),
        sa.Column("voter_key", sa.String(64), nullable=False),
        sa.Column("option", sa.Integer(), nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("poll_id", "question", "voter_key", name="pk_votes"),
    )
    op.create_table(
        "poll_comments",
        sa.Column("poll_id", BIGINT_ID, sa.ForeignKey("polls.id", ondelete="CASCADE"), nullable=False),
        sa.Column("voter_key", sa.String(64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("poll_id", "voter_key", name="pk_poll_comments"),
    )


def downgrade() -> None:
    for table in ("poll_comments", "votes", "polls", "poll_settings"):
        op.drop_table(table)

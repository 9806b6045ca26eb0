"""The participation ledger, meeting events, and a session's real times.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = storage.types.UTCDateTime()
JSON = storage.types.JSONType
BIGINT_ID = storage.types.BigIntId


def upgrade() -> None:
    op.create_table(
        "participations",
        sa.Column("session_id", BIGINT_ID, sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("participant_key", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=True),
        sa.Column("display_name", sa.String(), nullable=False),
        sa.Column("tenant_id", sa.String(), nullable=True),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("sources", sa.Integer(), nullable=False),
        sa.Column("first_seen", UTC_DATETIME, nullable=False),
        sa.Column("last_seen", UTC_DATETIME, nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("session_id", "participant_key", name="pk_participations"),
    )
    op.create_table(
        "meeting_events",
        sa.Column("id", BIGINT_ID, primary_key=True, autoincrement=True),
        sa.Column("event_key", sa.String(), nullable=False),
        sa.Column("conversation_id", sa.String(), nullable=False),
        sa.Column("meeting_id", sa.String(), nullable=True),
        sa.Column("join_url", sa.String(), nullable=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.Column("session_id", BIGINT_ID, sa.ForeignKey("sessions.id", ondelete="SET NULL"), nullable=True),
        sa.Column("payload", JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_meeting_events"),
        sa.UniqueConstraint("event_key", name="uq_meeting_events_event_key"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_meeting_events_conversation_id", "meeting_events", ["conversation_id"])
    with op.batch_alter_table("sessions") as batch:
        batch.add_column(sa.Column("held_from", UTC_DATETIME, nullable=True))
        batch.add_column(sa.Column("held_until", UTC_DATETIME, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sessions") as batch:
        batch.drop_column("held_until")
        batch.drop_column("held_from")
    op.drop_table("meeting_events")
    op.drop_table("participations")

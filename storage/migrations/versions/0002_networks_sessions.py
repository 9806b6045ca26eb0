"""Networks, coordinators, drafts, series, sessions, RSVPs and followers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = storage.types.UTCDateTime()
JSON = storage.types.JSONType
BIGINT_ID = storage.types.BigIntId


def _network_fk() -> sa.ForeignKey:
    return sa.ForeignKey("networks.id", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "networks",
        sa.Column("id", BIGINT_ID, primary_key=True, autoincrement=True),
        sa.Column("slug", sa.String(80), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("name_key", sa.String(80), nullable=False),
        sa.Column("lang", sa.String(2), nullable=False),
        sa.Column("cadence", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("home_conversation_id", sa.String(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("join_text", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_networks"),
        sa.UniqueConstraint("slug", name="uq_networks_slug"),
        sa.UniqueConstraint("name_key", name="uq_networks_name_key"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "coordinators",
        sa.Column("network_id", BIGINT_ID, _network_fk(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("aad_id", sa.String(), nullable=True),
        sa.Column("added_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("network_id", "user_id", name="pk_coordinators"),
    )
    op.create_table(
        "drafts",
        sa.Column("id", BIGINT_ID, primary_key=True, autoincrement=True),
        sa.Column("network_id", BIGINT_ID, _network_fk(), nullable=False),
        sa.Column("requested_by", sa.String(), nullable=False),
        sa.Column("starts_at", UTC_DATETIME, nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("join_url", sa.Text(), nullable=True),
        sa.Column("rrule", sa.String(200), nullable=True),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("warnings", JSON, nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_drafts"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "series",
        sa.Column("id", BIGINT_ID, primary_key=True, autoincrement=True),
        sa.Column("network_id", BIGINT_ID, _network_fk(), nullable=False),
        sa.Column("draft_id", sa.Integer(), nullable=False),
        sa.Column("rrule", sa.String(200), nullable=False),
        sa.Column("first_start", UTC_DATETIME, nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("join_url", sa.Text(), nullable=True),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_series"),
        sa.UniqueConstraint("draft_id", name="uq_series_draft_id"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "sessions",
        sa.Column("id", BIGINT_ID, primary_key=True, autoincrement=True),
        sa.Column("network_id", BIGINT_ID, _network_fk(), nullable=False),
        sa.Column("series_id", BIGINT_ID, sa.ForeignKey("series.id", ondelete="CASCADE"), nullable=True),
        sa.Column("occurrence", UTC_DATETIME, nullable=True),
        sa.Column("draft_id", sa.Integer(), nullable=True),
        sa.Column("starts_at", UTC_DATETIME, nullable=False),
        sa.Column("ends_at", UTC_DATETIME, nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("join_url", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("meeting_id", sa.String(), nullable=True),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sessions"),
        sa.UniqueConstraint("draft_id", name="uq_sessions_draft_id"),
        sa.UniqueConstraint("series_id", "occurrence", name="uq_sessions_series_id_occurrence"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_sessions_network_id", "sessions", ["network_id"])
    op.create_index("ix_sessions_starts_at", "sessions", ["starts_at"])
    op.create_table(
        "rsvps",
        sa.Column("session_id", BIGINT_ID, sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("aad_id", sa.String(), nullable=True),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("session_id", "user_id", name="pk_rsvps"),
    )
    op.create_table(
        "followers",
        sa.Column("network_id", BIGINT_ID, _network_fk(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("aad_id", sa.String(), nullable=True),
        sa.Column("since", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("network_id", "user_id", name="pk_followers"),
    )


def downgrade() -> None:
    for table in ("followers", "rsvps", "sessions", "series", "drafts", "coordinators", "networks"):
        op.drop_table(table)

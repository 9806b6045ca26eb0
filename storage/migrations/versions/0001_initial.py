"""Initial schema: jobs (outbox), conversation references, audit log, inbound ledger, sent messages.

Revision ID: 0001
Revises:
Create Date: 2026-01-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = storage.types.UTCDateTime()
JSON = storage.types.JSONType
BIGINT_ID = storage.types.BigIntId


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", BIGINT_ID, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("due_at", UTC_DATETIME, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", UTC_DATETIME, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("dedupe_key", sa.String(255), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("finished_at", UTC_DATETIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_jobs_dedupe_key")),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'done', 'failed', 'dead')", name=op.f("ck_jobs_status")
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_jobs_status_due_at"), "jobs", ["status", "due_at"])
    op.create_index(
        "ix_jobs_ready_due_at",
        "jobs",
        ["due_at"],
        postgresql_where=sa.text("status IN ('pending', 'failed')"),
        sqlite_where=sa.text("status IN ('pending', 'failed')"),
    )

    op.create_table(
        "conversation_refs",
        sa.Column("conversation_id", sa.String(), nullable=False),
        sa.Column("service_url", sa.String(), nullable=False),
        sa.Column("channel_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=True),
        sa.Column("bot_id", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=True),
        sa.Column("user_aad_id", sa.String(64), nullable=True),
        sa.Column("locale", sa.String(35), nullable=True),
        sa.Column("reference", JSON, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_conversation_refs")),
    )

    op.create_table(
        "audit_log",
        sa.Column("id", BIGINT_ID, primary_key=True, autoincrement=True),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.Column("actor_id", sa.String(), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(), nullable=False),
        sa.Column("details", JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_audit_log_subject"), "audit_log", ["subject"])

    op.create_table(
        "inbound_activities",
        sa.Column("activity_key", sa.String(), nullable=False),
        sa.Column("received_at", UTC_DATETIME, nullable=False),
        sa.Column("finished", sa.Boolean(), nullable=False),
        sa.Column("response", JSON, nullable=True),
        sa.PrimaryKeyConstraint("activity_key", name=op.f("pk_inbound_activities")),
    )
    op.create_index(op.f("ix_inbound_activities_received_at"), "inbound_activities", ["received_at"])

    op.create_table(
        "sent_messages",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("conversation_id", sa.String(), nullable=False),
        sa.Column("activity_id", sa.String(), nullable=True),
        sa.Column("sent_at", UTC_DATETIME, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sent_messages")),
    )


def downgrade() -> None:
    op.drop_table("sent_messages")
    op.drop_index(op.f("ix_inbound_activities_received_at"), table_name="inbound_activities")
    op.drop_table("inbound_activities")
    op.drop_index(op.f("ix_audit_log_subject"), table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("conversation_refs")
    op.drop_index(op.f("ix_jobs_ready_due_at"), table_name="jobs")
    op.drop_index(op.f("ix_jobs_status_due_at"), table_name="jobs")
    op.drop_table("jobs")

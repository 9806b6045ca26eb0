"""Tables, as SQLAlchemy 2 declarative models. The schema itself is made by the migrations."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import CheckConstraint, Index, MetaData, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.types import BigIntId, JSONType, UTCDateTime

# Stable constraint names, so that later migrations can refer to them on both backends.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JOB_STATUSES = ("pending", "running", "done", "failed", "dead")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSONType}


class JobRow(Base):
    """The outbox: every deferred action is a row here until it is done or dead."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'running', 'done', 'failed', 'dead')", name="status"),
        Index("ix_jobs_status_due_at", "status", "due_at"),
        # What a claim scans: only jobs waiting to run, already in due order. The predicate is
        # written with literals, and the claim query repeats it with literals, because neither
        # planner uses a partial index for a bound parameter.
        Index(
            "ix_jobs_ready_due_at",
            "due_at",
            postgresql_where=text("status IN ('pending', 'failed')"),
            sqlite_where=text("status IN ('pending', 'failed')"),
        ),
        # Never reuse the id of a deleted (cancelled, purged) job: logs and workers name jobs by id.
        {"sqlite_autoincrement": True},
    )


class ConversationRefRow(Base):
    """Where the bot can speak first: one serialised ConversationReference per conversation."""

    __tablename__ = "conversation_refs"

    conversation_id: Mapped[str] = mapped_column(String, primary_key=True)
    service_url: Mapped[str] = mapped_column(String)
    channel_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    tenant_id: Mapped[str | None] = mapped_column(String(64))
    bot_id: Mapped[str] = mapped_column(String)
    user_id: Mapped[str | None] = mapped_column(String)
    user_aad_id: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str | None] = mapped_column(String(35))
    reference: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class AuditRow(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor_id: Mapped[str] = mapped_column(String)
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String, index=True)
    details: Mapped[dict[str, Any] | None]

    __table_args__ = ({"sqlite_autoincrement": True},)


class InboundActivityRow(Base):
    """Activity ids already taken in; a redelivery finds its row and has no second effect."""

    __tablename__ = "inbound_activities"

    activity_key: Mapped[str] = mapped_column(String, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
    finished: Mapped[bool] = mapped_column(default=False)
    response: Mapped[dict[str, Any] | None]


class SentMessageRow(Base):
    __tablename__ = "sent_messages"

    key: Mapped[str] = mapped_column(String, primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String)
    activity_id: Mapped[str | None] = mapped_column(String)
    sent_at: Mapped[datetime]
    error: Mapped[str | None] = mapped_column(Text)

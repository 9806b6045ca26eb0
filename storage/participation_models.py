"""Tables of the participation ledger (migration 0003)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base
from storage.types import BigIntId, JSONType


class ParticipationRow(Base):
    """One person in one session, merged from every source."""

    __tablename__ = "participations"

    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True)
    participant_key: Mapped[str] = mapped_column(String, primary_key=True)
    user_id: Mapped[str | None] = mapped_column(String)
    display_name: Mapped[str] = mapped_column(String, default="")
    tenant_id: Mapped[str | None] = mapped_column(String)
    email: Mapped[str | None] = mapped_column(String)
    sources: Mapped[int] = mapped_column(Integer)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    minutes: Mapped[int] = mapped_column(Integer, default=0)
    removed: Mapped[bool] = mapped_column(default=False)  # a coordinator took it out: sources don't re-add


class MeetingEventRow(Base):
    """A Teams meeting event, matched to a session or kept for a coordinator to attach."""

    __tablename__ = "meeting_events"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    event_key: Mapped[str] = mapped_column(String, unique=True)  # activity id: a redelivery is one row
    conversation_id: Mapped[str] = mapped_column(String, index=True)
    meeting_id: Mapped[str | None] = mapped_column(String)
    join_url: Mapped[str | None] = mapped_column(String)
    name: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime]
    session_id: Mapped[int | None] = mapped_column(ForeignKey("sessions.id", ondelete="SET NULL"))
    payload: Mapped[Any] = mapped_column(JSONType, nullable=True)

"""Tables of networks and their sessions (migration 0002; networks.public_counts 0006)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base
from storage.types import BigIntId, JSONType


class NetworkRow(Base):
    __tablename__ = "networks"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    name_key: Mapped[str] = mapped_column(String(80), unique=True)  # folded: case and accents ignored
    lang: Mapped[str] = mapped_column(String(2))
    cadence: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    timezone: Mapped[str] = mapped_column(String(64))
    home_conversation_id: Mapped[str | None] = mapped_column(String)
    ends_on: Mapped[date | None] = mapped_column(Date)
    description: Mapped[str] = mapped_column(Text, default="")
    join_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    # Migration 0006: the public page shows participant counts only when this is on.
    public_counts: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class CoordinatorRow(Base):
    __tablename__ = "coordinators"

    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String, primary_key=True)
    name: Mapped[str] = mapped_column(String, default="")
    aad_id: Mapped[str | None] = mapped_column(String)
    added_at: Mapped[datetime]


class DraftRow(Base):
    __tablename__ = "drafts"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"))
    requested_by: Mapped[str] = mapped_column(String)
    starts_at: Mapped[datetime]
    duration_minutes: Mapped[int] = mapped_column(Integer)
    topic: Mapped[str] = mapped_column(Text, default="")
    join_url: Mapped[str | None] = mapped_column(Text)
    rrule: Mapped[str | None] = mapped_column(String(200))
    until: Mapped[date | None] = mapped_column(Date)
    count: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    warnings: Mapped[Any] = mapped_column(JSONType, nullable=True)
    created_at: Mapped[datetime]


class SeriesRow(Base):
    __tablename__ = "series"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"))
    draft_id: Mapped[int] = mapped_column(Integer, unique=True)
    rrule: Mapped[str] = mapped_column(String(200))
    first_start: Mapped[datetime]
    duration_minutes: Mapped[int] = mapped_column(Integer)
    topic: Mapped[str] = mapped_column(Text, default="")
    join_url: Mapped[str | None] = mapped_column(Text)
    until: Mapped[date | None] = mapped_column(Date)
    count: Mapped[int | None] = mapped_column(Integer)
    timezone: Mapped[str] = mapped_column(String(64))
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)


class SessionRow(Base):
    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"), index=True)
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"))
    occurrence: Mapped[datetime | None]  # a series' original start: moving a session keeps it
    draft_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime]
    topic: Mapped[str] = mapped_column(Text, default="")
    join_url: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    meeting_id: Mapped[str | None] = mapped_column(String)
    created_at: Mapped[datetime]
    held_from: Mapped[datetime | None]  # the real start and end, from Teams meeting events
    held_until: Mapped[datetime | None]

    __table_args__ = (UniqueConstraint("series_id", "occurrence"),)


class RsvpRow(Base):
    __tablename__ = "rsvps"

    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String, primary_key=True)
    name: Mapped[str] = mapped_column(String, default="")
    aad_id: Mapped[str | None] = mapped_column(String)
    at: Mapped[datetime]


class FollowerRow(Base):
    __tablename__ = "followers"

    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(String, primary_key=True)
    name: Mapped[str] = mapped_column(String, default="")
    aad_id: Mapped[str | None] = mapped_column(String)
    since: Mapped[datetime]

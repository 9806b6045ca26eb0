"""Tables of feedback polls (migration 0004). No table here holds a user id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base
from storage.types import BigIntId, JSONType


class PollSettingsRow(Base):
    __tablename__ = "poll_settings"

    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"), primary_key=True)
    questions: Mapped[Any] = mapped_column(JSONType)
    comments: Mapped[bool] = mapped_column(Boolean, default=False)


class PollRow(Base):
    __tablename__ = "polls"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), unique=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"))
    questions: Mapped[Any] = mapped_column(JSONType)
    comments: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16))
    opened_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    secret: Mapped[bytes | None] = mapped_column(LargeBinary)  # deleted when the poll closes


class VoteRow(Base):
    __tablename__ = "votes"

    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"), primary_key=True)
    question: Mapped[str] = mapped_column(String(32), primary_key=True)
    voter_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    option: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]


class PollCommentRow(Base):
    __tablename__ = "poll_comments"

    poll_id: Mapped[int] = mapped_column(ForeignKey("polls.id", ondelete="CASCADE"), primary_key=True)
    voter_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]

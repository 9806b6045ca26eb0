"""Nudge state and lifecycle notices of networks (migration 0005)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base


class NudgeRow(Base):
    """Where a network's coordinators are in being reminded of its cadence."""

    __tablename__ = "nudges"

    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"), primary_key=True)
    cause: Mapped[str | None] = mapped_column(String(32))
    last_sent_at: Mapped[datetime | None]
    unanswered: Mapped[int] = mapped_column(Integer, default=0)
    snoozed_until: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]

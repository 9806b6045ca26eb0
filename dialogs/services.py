"""The application services a dialog may use, built by the composition root (bot/app.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from domain.participation import Ledger
from domain.planning import Planning
from domain.polls import Feedback
from domain.ports import AuditLog, ConversationRefs, JobStore, Notifier, SessionStore


class Links(Protocol):
    """Signed, expiring links to the web part (reports, downloads)."""

    hours: int

    def report(self, network_id: int, start: datetime, end: datetime, lang: str = "") -> str: ...

    def export(
        self, network_id: int, start: datetime, end: datetime, fmt: str, user_id: str, lang: str = ""
    ) -> str: ...


@dataclass(frozen=True, slots=True)
class Services:
    refs: ConversationRefs
    audit: AuditLog
    jobs: JobStore
    planning: Planning
    sessions: SessionStore
    notifier: Notifier
    ledger: Ledger
    feedback: Feedback
    public_url: str
    timezone: str
    links: Links | None = None
    strong_share: float = 0.5
    recent_sessions: int = 10
    poll_live_counts: bool = False
    cache: dict[Any, Any] = field(default_factory=dict)  # short-lived lookups of hot paths

"""The application services a dialog may use, built by the composition root (bot/app.py)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.planning import Planning
from domain.ports import AuditLog, ConversationRefs, JobStore, Notifier, SessionStore


@dataclass(frozen=True, slots=True)
class Services:
    refs: ConversationRefs
    audit: AuditLog
    jobs: JobStore
    planning: Planning
    sessions: SessionStore
    notifier: Notifier
    public_url: str
    timezone: str

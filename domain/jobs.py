"""Durable jobs: what the outbox holds and how a failure is retried."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # failed at least once, will be retried
    DEAD = "dead"  # out of attempts


@dataclass(frozen=True, slots=True)
class NewJob:
    kind: str
    payload: dict[str, Any]
    due_at: datetime
    dedupe_key: str


@dataclass(slots=True)
class Job:
    id: int
    kind: str
    payload: dict[str, Any]
    due_at: datetime
    status: JobStatus
    attempts: int
    dedupe_key: str
    lease_until: datetime | None = None
    last_error: str | None = None
    created_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter, dead after ``max_attempts``."""

    max_attempts: int = 6
    base: timedelta = timedelta(seconds=10)
    cap: timedelta = timedelta(hours=1)
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def next_due(self, now: datetime, attempts: int) -> datetime | None:
        """When to try again after ``attempts`` failed tries, or None when the job is dead."""
        if attempts >= self.max_attempts:
            return None
        ceiling: timedelta = min(self.cap, self.base * (2 ** max(attempts - 1, 0)))
        # Half fixed, half random: never retry at once, never all at the same moment.
        delay: timedelta = ceiling / 2 + ceiling / 2 * self.rng.random()
        return now + delay

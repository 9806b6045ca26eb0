"""The ports through which the domain reaches the world. storage/ implements them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from domain.conversations import ConversationRef
from domain.jobs import Job, NewJob


class ConversationRefs(Protocol):
    async def upsert(self, ref: ConversationRef) -> None:
        """Insert or replace the reference of ``ref.conversation_id``."""
        ...

    async def get(self, conversation_id: str) -> ConversationRef | None: ...

    async def remove(self, conversation_id: str) -> bool:
        """Forget a conversation (the app was uninstalled there). True if it was known."""
        ...

    async def count(self) -> int: ...


class AuditLog(Protocol):
    async def record(
        self,
        *,
        actor_id: str,
        action: str,
        subject: str,
        details: dict[str, Any] | None = None,
        at: datetime,
    ) -> None: ...

    async def entries(self, subject: str) -> Sequence[dict[str, Any]]: ...


class InboundLedger(Protocol):
    """Activity ids already taken in, so that a redelivered activity has no second effect."""

    async def claim(self, activity_key: str, at: datetime) -> bool:
        """True if this is the first delivery of ``activity_key``; False for a redelivery."""
        ...

    async def finish(self, activity_key: str, response: dict[str, Any] | None) -> None:
        """Store the answer given, so that a redelivery can be answered alike."""
        ...

    async def release(self, activity_key: str) -> None:
        """The turn failed: let a redelivery try again."""
        ...

    async def response(self, activity_key: str) -> dict[str, Any] | None: ...

    async def purge(self, before: datetime) -> int: ...


class JobStore(Protocol):
    async def enqueue(self, job: NewJob) -> int:
        """Add a job; a job with the same dedupe key already there is kept. Returns its id."""
        ...

    async def claim_due(self, now: datetime, limit: int, lease_until: datetime) -> Sequence[Job]:
        """Take up to ``limit`` due jobs (pending, failed, or running with an expired lease)."""
        ...

    async def complete(self, job_id: int, at: datetime) -> None: ...

    async def fail(self, job_id: int, error: str, retry_at: datetime | None) -> None:
        """Record a failure; ``retry_at`` None makes the job dead."""
        ...

    async def get(self, job_id: int) -> Job | None: ...

    async def by_dedupe_key(self, dedupe_key: str) -> Job | None: ...

    async def counts(self) -> dict[str, int]:
        """Number of jobs per status."""
        ...

    async def cancel(self, dedupe_prefix: str) -> int:
        """Drop pending jobs whose dedupe key starts with ``dedupe_prefix``."""
        ...


class SentMessages(Protocol):
    """What the bot has posted, by a key of ours, so that a card can be updated in place later."""

    async def record(self, *, key: str, conversation_id: str, activity_id: str | None, at: datetime) -> None:
        """Remember the activity id of the message sent under ``key`` (first one wins)."""
        ...

    async def activity_id(self, key: str) -> str | None: ...

    async def record_failure(self, *, key: str, conversation_id: str, error: str, at: datetime) -> None:
        """A send that failed for good is kept, not lost silently."""
        ...

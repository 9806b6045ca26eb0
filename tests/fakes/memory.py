"""In-memory implementations of the ports in :mod:`domain.ports`, with the SQL ones' semantics.

The shared contract tests (tests/integration/test_storage_contract.py) run against these and the
SQL repositories alike, so a test that passes on a fake means the same on a database. Values are
copied in and out, as a database would, so that a caller cannot change stored state by accident.
Each method does its work without awaiting in between, which makes it atomic under asyncio.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from domain.clock import Clock, SystemClock
from domain.conversations import ConversationRef
from domain.jobs import Job, JobStatus, NewJob
from storage.repositories import STALE_CLAIM

MAX_ERROR_LENGTH = 4000


def _utc(value: datetime) -> datetime:
    """The database's rule: aware datetimes only, kept in UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: storage takes timezone-aware datetimes only")
    return value.astimezone(UTC)


class MemoryConversationRefs:
    def __init__(self) -> None:
        self._refs: dict[str, ConversationRef] = {}

    async def upsert(self, ref: ConversationRef) -> None:
        self._refs[ref.conversation_id] = dataclasses.replace(
            ref, reference=copy.deepcopy(ref.reference), updated_at=_utc(ref.updated_at)
        )

    async def get(self, conversation_id: str) -> ConversationRef | None:
        ref = self._refs.get(conversation_id)
        return None if ref is None else dataclasses.replace(ref, reference=copy.deepcopy(ref.reference))

    async def remove(self, conversation_id: str) -> bool:
        return self._refs.pop(conversation_id, None) is not None

    async def count(self) -> int:
        return len(self._refs)


class MemoryAuditLog:
    def __init__(self) -> None:
        self._entries: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    async def record(
        self,
        *,
        actor_id: str,
        action: str,
        subject: str,
        details: dict[str, Any] | None = None,
        at: datetime,
    ) -> None:
        self._entries.append(
            {
                "id": next(self._ids),
                "at": _utc(at),
                "actor_id": actor_id,
                "action": action,
                "subject": subject,
                "details": copy.deepcopy(details),
            }
        )

    async def entries(self, subject: str) -> Sequence[dict[str, Any]]:
        found = [copy.deepcopy(e) for e in self._entries if e["subject"] == subject]
        return sorted(found, key=lambda e: (e["at"], e["id"]))

    async def purge(self, before: datetime) -> int:
        before = _utc(before)
        kept = [e for e in self._entries if e["at"] >= before]
        purged = len(self._entries) - len(kept)
        self._entries = kept
        return purged


@dataclass
class _Inbound:
    received_at: datetime
    finished: bool = False
    response: dict[str, Any] | None = None


class MemoryInboundLedger:
    def __init__(self, refs: MemoryConversationRefs | None = None) -> None:
        self._seen: dict[str, _Inbound] = {}
        self.refs = refs or MemoryConversationRefs()  # where begin() records conversations

    async def claim(self, activity_key: str, at: datetime) -> bool:
        entry = self._seen.get(activity_key)
        if entry is not None and (entry.finished or entry.received_at >= _utc(at) - STALE_CLAIM):
            return False
        self._seen[activity_key] = _Inbound(received_at=_utc(at))
        return True

    async def begin(self, activity_key: str | None, ref: ConversationRef) -> bool:
        if activity_key is not None and not await self.claim(activity_key, ref.updated_at):
            return False
        await self.refs.upsert(ref)
        return True

    async def finish_many(self, items: Sequence[tuple[str, dict[str, Any] | None]]) -> None:
        for activity_key, response in items:
            await self.finish(activity_key, response)

    async def finish(self, activity_key: str, response: dict[str, Any] | None) -> None:
        entry = self._seen.get(activity_key)
        if entry is not None:
            entry.finished = True
            entry.response = copy.deepcopy(response)

    async def release(self, activity_key: str) -> None:
        self._seen.pop(activity_key, None)

    async def response(self, activity_key: str) -> dict[str, Any] | None:
        entry = self._seen.get(activity_key)
        if entry is None or not entry.finished:
            return None
        return copy.deepcopy(entry.response)

    async def outcome(self, activity_key: str) -> tuple[bool, dict[str, Any] | None] | None:
        entry = self._seen.get(activity_key)
        if entry is None:
            return None
        return entry.finished, copy.deepcopy(entry.response)

    async def purge(self, before: datetime) -> int:
        before = _utc(before)
        old = [key for key, entry in self._seen.items() if entry.received_at < before]
        for key in old:
            del self._seen[key]
        return len(old)


class MemoryJobStore:
    """The outbox in memory; claims, leases and dedupe keys behave as in SqlJobStore."""

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self._jobs: dict[int, Job] = {}
        self._by_key: dict[str, int] = {}
        self._ids = itertools.count(1)

    @staticmethod
    def _copy(job: Job) -> Job:
        return dataclasses.replace(job, payload=copy.deepcopy(job.payload))

    async def enqueue(self, job: NewJob) -> int:
        existing = self._by_key.get(job.dedupe_key)
        if existing is not None:
            return existing
        job_id = next(self._ids)
        self._jobs[job_id] = Job(
            id=job_id,
            kind=job.kind,
            payload=copy.deepcopy(job.payload),
            due_at=_utc(job.due_at),
            status=JobStatus.PENDING,
            attempts=0,
            dedupe_key=job.dedupe_key,
            created_at=self._clock.now(),
        )
        self._by_key[job.dedupe_key] = job_id
        return job_id

    async def claim_due(self, now: datetime, limit: int, lease_until: datetime) -> Sequence[Job]:
        now, lease_until = _utc(now), _utc(lease_until)
        if limit <= 0:
            return []
        expired = sorted(
            (
                job
                for job in self._jobs.values()
                if job.status is JobStatus.RUNNING and job.lease_until is not None and job.lease_until < now
            ),
            key=lambda job: (job.lease_until or now, job.id),
        )[:limit]
        ready = sorted(
            (
                job
                for job in self._jobs.values()
                if job.status in (JobStatus.PENDING, JobStatus.FAILED) and job.due_at <= now
            ),
            key=lambda job: (job.due_at, job.id),
        )[: limit - len(expired)]
        claimed = expired + ready
        for job in claimed:
            job.status = JobStatus.RUNNING
            job.attempts += 1
            job.lease_until = lease_until
        return sorted((self._copy(job) for job in claimed), key=lambda job: (job.due_at, job.id))

    def _claimed(self, job_id: int, attempt: int | None) -> Job | None:
        job = self._jobs.get(job_id)
        if job is None or job.status is not JobStatus.RUNNING:
            return None
        if attempt is not None and job.attempts != attempt:
            return None  # another worker has claimed it since
        return job

    async def complete(self, job_id: int, at: datetime, attempt: int | None = None) -> bool:
        job = self._claimed(job_id, attempt)
        if job is None:
            return False
        job.status, job.finished_at = JobStatus.DONE, _utc(at)
        job.lease_until = job.last_error = None
        return True

    async def fail(
        self, job_id: int, error: str, retry_at: datetime | None, attempt: int | None = None
    ) -> bool:
        job = self._claimed(job_id, attempt)
        if job is None:
            return False
        job.last_error, job.lease_until = error[:MAX_ERROR_LENGTH], None
        if retry_at is None:
            job.status, job.finished_at = JobStatus.DEAD, self._clock.now()
        else:
            job.status, job.due_at = JobStatus.FAILED, _utc(retry_at)
        return True

    async def renew(self, job_id: int, attempt: int, lease_until: datetime) -> bool:
        job = self._claimed(job_id, attempt)
        if job is None:
            return False
        job.lease_until = _utc(lease_until)
        return True

    async def get(self, job_id: int) -> Job | None:
        job = self._jobs.get(job_id)
        return None if job is None else self._copy(job)

    async def by_dedupe_key(self, dedupe_key: str) -> Job | None:
        job_id = self._by_key.get(dedupe_key)
        return None if job_id is None else await self.get(job_id)

    async def counts(self) -> dict[str, int]:
        counts = {status.value: 0 for status in JobStatus}
        for job in self._jobs.values():
            counts[job.status.value] += 1
        return counts

    async def cancel(self, dedupe_prefix: str) -> int:
        if not dedupe_prefix:
            raise ValueError("an empty prefix would cancel every job")
        waiting = (JobStatus.PENDING, JobStatus.FAILED)
        doomed = [
            job
            for job in self._jobs.values()
            if job.status in waiting and job.dedupe_key.startswith(dedupe_prefix)
        ]
        for job in doomed:
            del self._jobs[job.id]
            del self._by_key[job.dedupe_key]
        return len(doomed)

    async def purge_finished(self, before: datetime) -> int:
        before = _utc(before)
        old = [
            job
            for job in self._jobs.values()
            if job.status is JobStatus.DONE and job.finished_at is not None and job.finished_at < before
        ]
        for job in old:
            del self._jobs[job.id]
            del self._by_key[job.dedupe_key]
        return len(old)


@dataclass
class _Sent:
    conversation_id: str
    activity_id: str | None
    sent_at: datetime
    error: str | None = None


class MemorySentMessages:
    def __init__(self) -> None:
        self._sent: dict[str, _Sent] = {}

    async def record(self, *, key: str, conversation_id: str, activity_id: str | None, at: datetime) -> None:
        existing = self._sent.get(key)
        if existing is None or existing.activity_id is None:
            self._sent[key] = _Sent(conversation_id, activity_id, _utc(at))

    async def activity_id(self, key: str) -> str | None:
        sent = self._sent.get(key)
        return None if sent is None else sent.activity_id

    async def record_failure(self, *, key: str, conversation_id: str, error: str, at: datetime) -> None:
        existing = self._sent.get(key)
        if existing is None:
            self._sent[key] = _Sent(conversation_id, None, _utc(at), error[:MAX_ERROR_LENGTH])
        elif existing.activity_id is None:
            existing.error, existing.sent_at = error[:MAX_ERROR_LENGTH], _utc(at)

    async def failure(self, key: str) -> str | None:
        sent = self._sent.get(key)
        return None if sent is None else sent.error


@dataclass
class MemoryStores:
    """Every in-memory store, shaped like storage.repositories.Repositories."""

    clock: Clock = field(default_factory=SystemClock)
    conversations: MemoryConversationRefs = field(default_factory=MemoryConversationRefs)
    audit: MemoryAuditLog = field(default_factory=MemoryAuditLog)
    inbound: MemoryInboundLedger = field(init=False)
    jobs: MemoryJobStore = field(init=False)
    sent: MemorySentMessages = field(default_factory=MemorySentMessages)

    def __post_init__(self) -> None:
        self.jobs = MemoryJobStore(self.clock)
        self.inbound = MemoryInboundLedger(self.conversations)

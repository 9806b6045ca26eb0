"""The job worker: claims due jobs from the outbox and runs the handler registered for each kind.

Delivery is at least once. A job whose worker dies is claimed again when its lease runs out, so a
handler must tolerate running twice for the same payload (use the ids in it and idempotent writes).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

from domain.clock import Clock
from domain.jobs import Job, JobStatus, RetryPolicy
from domain.ports import JobStore

log = logging.getLogger(__name__)

JobHandler = Callable[[dict[str, Any]], Awaitable[None]]
"""A job's work: an async function of the job's payload (a dict of ids, never ORM objects)."""


LANE_KEYS = ("session_id", "poll_id", "network_id")


def lane_of(job: Job) -> str:
    """Which jobs must not overlap with this one: those about the same session, poll or network."""
    for key in LANE_KEYS:
        if key in job.payload:
            return f"{key}={job.payload[key]}"
    return f"job={job.id}"


class JobRunner:
    """Runs due jobs: claim a batch, run each job's handler, record done, failed (retry) or dead."""

    def __init__(
        self,
        store: JobStore,
        clock: Clock,
        handlers: Mapping[str, JobHandler] | None = None,
        *,
        retry: RetryPolicy | None = None,
        batch_size: int = 50,
        lease: timedelta = timedelta(minutes=2),
        concurrency: int = 1,
    ) -> None:
        if batch_size < 1 or concurrency < 1:
            raise ValueError("batch_size and concurrency must be at least 1")
        self._store = store
        self._clock = clock
        self._handlers: dict[str, JobHandler] = dict(handlers or {})
        self.retry = retry or RetryPolicy()
        self.batch_size = batch_size
        self.lease = lease
        self._concurrency = concurrency

    def register(self, kind: str, handler: JobHandler) -> None:
        """Run ``handler`` for jobs of ``kind``. A kind has one handler."""
        if kind in self._handlers:
            raise ValueError(f"a handler for job kind {kind!r} is already registered")
        self._handlers[kind] = handler

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(self._handlers)

    async def run_due(self) -> int:
        """Claim one batch of due jobs and run them. Returns how many were claimed."""
        now = self._clock.now()
        jobs = await self._store.claim_due(now, self.batch_size, now + self.lease)
        if not jobs:
            return 0
        # Jobs of one session, poll or network run in due order (an announcement before the update
        # of its card); different ones run side by side, so that a broadcast's sends overlap.
        lanes: dict[str, list[Job]] = {}
        for job in jobs:
            lanes.setdefault(lane_of(job), []).append(job)
        gate = asyncio.Semaphore(self._concurrency)

        async def run_lane(lane: list[Job]) -> None:
            async with gate:
                for job in lane:
                    if await self._still_ours(job):
                        await self._run(job)

        await asyncio.gather(*(run_lane(lane) for lane in lanes.values()))
        return len(jobs)

    async def run_until_idle(self, max_batches: int = 10) -> int:
        """Run batches while they come back full, at most ``max_batches``. Returns jobs claimed."""
        total = 0
        for _ in range(max_batches):
            claimed = await self.run_due()
            total += claimed
            if claimed < self.batch_size:
                break
        return total

    async def counts(self) -> dict[str, int]:
        """Jobs per status, for /healthz."""
        return await self._store.counts()

    async def dead_count(self) -> int:
        """Jobs out of attempts, waiting for a person to look at them."""
        return (await self._store.counts()).get(JobStatus.DEAD.value, 0)

    async def _still_ours(self, job: Job) -> bool:
        """Before a job of the batch starts: renew its lease if half of it is gone.

        The jobs of a batch run one after another under one lease, and a job before this one
        may have taken long (a send waiting out a Retry-After). Once the lease has run out,
        another worker may have claimed the job and be running it; then this worker leaves it.
        """
        now = self._clock.now()
        if job.lease_until is not None and now < job.lease_until - self.lease / 2:
            return True
        lease_until = now + self.lease
        if await self._store.renew(job.id, job.attempts, lease_until):
            job.lease_until = lease_until
            return True
        log.warning(
            "job claimed again by another worker while its batch waited; left to it",
            extra={"job_id": job.id, "job_kind": job.kind, "attempt": job.attempts},
        )
        return False

    async def _run(self, job: Job) -> None:
        fields = {"job_id": job.id, "job_kind": job.kind, "attempt": job.attempts}
        handler = self._handlers.get(job.kind)
        if handler is None:
            log.error("no handler for job kind %r; job is dead", job.kind, extra=fields)
            await self._store.fail(job.id, f"no handler for job kind {job.kind!r}", None, job.attempts)
            return
        if job.attempts > self.retry.max_attempts:
            # Only reached when the job's lease kept running out: it has been killing its worker.
            log.error("job lease expired %d times; job is dead", job.attempts, extra=fields)
            await self._store.fail(job.id, f"lease expired {job.attempts} times", None, job.attempts)
            return
        started = self._clock.now()
        try:
            await handler(job.payload)
        except asyncio.CancelledError:
            # Shutting down: leave the job running; it is claimed again when its lease expires.
            log.warning("job interrupted by shutdown", extra=fields)
            raise
        except Exception as error:
            retry_at = self.retry.next_due(self._clock.now(), job.attempts)
            message = f"{type(error).__name__}: {error}"
            if retry_at is None:
                log.exception("job failed for good: %s", message, extra=fields)
            else:
                log.warning(
                    "job failed, retry at %s: %s", retry_at.isoformat(), message, exc_info=True, extra=fields
                )
            if not await self._store.fail(job.id, message, retry_at, job.attempts):
                log.warning("failure not recorded: another worker has claimed the job since", extra=fields)
            return
        finished = self._clock.now()
        if finished - started > self.lease:
            log.warning("job outlasted its lease; it may have run twice", extra=fields)
        if await self._store.complete(job.id, finished, job.attempts):
            log.debug("job done", extra=fields)
        else:
            log.warning("job done, but another worker has claimed it since", extra=fields)

"""The job worker, driven by a FakeClock over the in-memory job store."""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import datetime, timedelta
from typing import Any

import pytest

from domain.clock import FakeClock
from domain.jobs import JobStatus, NewJob, RetryPolicy
from scheduling.worker import JobRunner
from tests.fakes.memory import MemoryJobStore

LEASE = timedelta(minutes=2)


class Recorder:
    """A handler that records payloads and fails while ``failures`` lasts."""

    def __init__(self, failures: int = 0) -> None:
        self.payloads: list[dict[str, Any]] = []
        self.failures = failures

    async def __call__(self, payload: dict[str, Any]) -> None:
        self.payloads.append(payload)
        if self.failures:
            self.failures -= 1
            raise ConnectionError("connector answered 503")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> MemoryJobStore:
    return MemoryJobStore(clock)


def runner_for(
    store: MemoryJobStore, clock: FakeClock, retry: RetryPolicy | None = None, **kw: Any
) -> JobRunner:
    return JobRunner(store, clock, retry=retry or RetryPolicy(rng=random.Random(7)), lease=LEASE, **kw)


async def enqueue(
    store: MemoryJobStore, key: str, due_at: datetime, kind: str = "remind", **payload: Any
) -> int:
    return await store.enqueue(NewJob(kind=kind, payload=payload, due_at=due_at, dedupe_key=key))


async def status_of(store: MemoryJobStore, job_id: int) -> JobStatus:
    job = await store.get(job_id)
    assert job is not None
    return job.status


async def test_runs_due_jobs_and_leaves_the_rest(store: MemoryJobStore, clock: FakeClock) -> None:
    handler = Recorder()
    runner = runner_for(store, clock, handlers={"remind": handler})
    now_id = await enqueue(store, "now", clock.now(), session_id=1)
    later_id = await enqueue(store, "later", clock.now() + timedelta(minutes=10), session_id=2)

    assert await runner.run_due() == 1
    assert handler.payloads == [{"session_id": 1}]
    assert await status_of(store, now_id) is JobStatus.DONE

    clock.advance(minutes=9, seconds=59)
    assert await runner.run_due() == 0

    clock.advance(seconds=1)
    assert await runner.run_due() == 1
    assert handler.payloads == [{"session_id": 1}, {"session_id": 2}]
    done = await store.get(later_id)
    assert done is not None
    assert (done.status, done.finished_at, done.attempts) == (JobStatus.DONE, clock.now(), 1)


async def test_a_failure_is_retried_with_growing_jittered_delays(
    store: MemoryJobStore, clock: FakeClock
) -> None:
    retry = RetryPolicy(
        max_attempts=6, base=timedelta(seconds=10), cap=timedelta(seconds=60), rng=random.Random(1)
    )
    handler = Recorder(failures=5)
    runner = runner_for(store, clock, retry, handlers={"remind": handler})
    job_id = await enqueue(store, "k", clock.now())

    for attempt in range(1, 6):
        failed_at = clock.now()
        assert await runner.run_due() == 1
        job = await store.get(job_id)
        assert job is not None
        assert (job.status, job.attempts, job.last_error) == (
            JobStatus.FAILED,
            attempt,
            "ConnectionError: connector answered 503",
        )
        # Ceiling base·2^(attempt-1), capped; the delay lies in its upper half.
        ceiling = min(timedelta(seconds=60), timedelta(seconds=10) * 2 ** (attempt - 1))
        assert ceiling / 2 <= job.due_at - failed_at <= ceiling
        clock.set(job.due_at - timedelta(milliseconds=1))
        assert await runner.run_due() == 0, "retried before its time"
        clock.set(job.due_at)

    assert await runner.run_due() == 1
    assert await status_of(store, job_id) is JobStatus.DONE
    assert len(handler.payloads) == 6


async def test_dead_after_max_attempts(store: MemoryJobStore, clock: FakeClock) -> None:
    handler = Recorder(failures=100)
    runner = runner_for(
        store, clock, RetryPolicy(max_attempts=3, rng=random.Random(3)), handlers={"remind": handler}
    )
    job_id = await enqueue(store, "k", clock.now())

    for _ in range(10):
        await runner.run_due()
        clock.advance(hours=1)

    job = await store.get(job_id)
    assert job is not None
    assert (job.status, job.attempts, job.last_error) == (
        JobStatus.DEAD,
        3,
        "ConnectionError: connector answered 503",
    )
    assert len(handler.payloads) == 3
    assert await runner.dead_count() == 1
    assert (await runner.counts())["dead"] == 1


async def test_an_unknown_kind_is_dead_at_once_and_others_still_run(
    store: MemoryJobStore, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    handler = Recorder()
    runner = runner_for(store, clock, handlers={"remind": handler})
    unknown = await enqueue(store, "a", clock.now() - timedelta(seconds=1), kind="no-such-kind")
    await enqueue(store, "b", clock.now(), session_id=5)

    with caplog.at_level(logging.ERROR, logger="scheduling.worker"):
        assert await runner.run_due() == 2

    job = await store.get(unknown)
    assert job is not None
    assert (job.status, job.attempts) == (JobStatus.DEAD, 1)
    assert job.last_error is not None
    assert "no-such-kind" in job.last_error
    assert handler.payloads == [{"session_id": 5}]
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert (record.__dict__["job_id"], record.__dict__["job_kind"]) == (unknown, "no-such-kind")


async def test_a_job_of_a_dead_worker_runs_when_its_lease_expires(
    store: MemoryJobStore, clock: FakeClock
) -> None:
    handler = Recorder()
    runner = runner_for(store, clock, handlers={"remind": handler})
    job_id = await enqueue(store, "k", clock.now())
    await store.claim_due(clock.now(), 10, clock.now() + LEASE)  # a worker took it, then died

    clock.advance(LEASE)
    assert await runner.run_due() == 0
    clock.advance(seconds=1)
    assert await runner.run_due() == 1

    job = await store.get(job_id)
    assert job is not None
    assert (job.status, job.attempts) == (JobStatus.DONE, 2)
    assert len(handler.payloads) == 1


async def test_a_job_that_keeps_killing_its_worker_is_dead(store: MemoryJobStore, clock: FakeClock) -> None:
    handler = Recorder()
    runner = runner_for(store, clock, RetryPolicy(max_attempts=3), handlers={"remind": handler})
    job_id = await enqueue(store, "k", clock.now())
    for _ in range(3):  # claimed and lost three times
        await store.claim_due(clock.now(), 10, clock.now() + LEASE)
        clock.advance(LEASE + timedelta(seconds=1))

    assert await runner.run_due() == 1

    job = await store.get(job_id)
    assert job is not None
    assert (job.status, job.attempts) == (JobStatus.DEAD, 4)
    assert handler.payloads == []


async def test_batches_and_running_until_idle(store: MemoryJobStore, clock: FakeClock) -> None:
    handler = Recorder()
    runner = runner_for(store, clock, handlers={"remind": handler}, batch_size=50)
    for n in range(120):
        await enqueue(store, f"k{n}", clock.now() - timedelta(seconds=120 - n), n=n)

    assert await runner.run_due() == 50
    assert await runner.run_until_idle() == 70
    assert [p["n"] for p in handler.payloads] == list(range(120))
    assert (await runner.counts())["done"] == 120


async def test_jobs_of_a_batch_run_concurrently_when_asked(store: MemoryJobStore, clock: FakeClock) -> None:
    both_started = asyncio.Barrier(2)

    async def meet(payload: dict[str, Any]) -> None:
        await asyncio.wait_for(both_started.wait(), timeout=5)

    runner = runner_for(store, clock, handlers={"meet": meet}, concurrency=2)
    await enqueue(store, "a", clock.now(), kind="meet")
    await enqueue(store, "b", clock.now(), kind="meet")

    assert await runner.run_due() == 2
    assert (await runner.counts())["done"] == 2


async def test_jobs_of_one_session_run_in_due_order_while_others_overlap(
    store: MemoryJobStore, clock: FakeClock
) -> None:
    events: list[str] = []
    other_started = asyncio.Event()

    async def record(payload: dict[str, Any]) -> None:
        events.append(f"start {payload['what']}")
        if payload["what"] == "announce #1":
            # Session 2's announcement runs meanwhile: a broadcast's sends overlap.
            await asyncio.wait_for(other_started.wait(), timeout=5)
        if payload["what"] == "announce #2":
            other_started.set()
        events.append(f"end {payload['what']}")

    runner = runner_for(store, clock, handlers={"job": record}, concurrency=4)
    now = clock.now()
    await enqueue(store, "a1", now - timedelta(seconds=3), kind="job", session_id=1, what="announce #1")
    await enqueue(store, "u1", now - timedelta(seconds=2), kind="job", session_id=1, what="update #1")
    await enqueue(store, "a2", now - timedelta(seconds=1), kind="job", session_id=2, what="announce #2")

    assert await runner.run_due() == 3
    # Session 1's card update waits for its announcement; session 2 did not wait for either.
    assert events.index("end announce #1") < events.index("start update #1")
    assert events.index("start announce #2") < events.index("end announce #1")
    assert (await runner.counts())["done"] == 3


async def test_registering(store: MemoryJobStore, clock: FakeClock) -> None:
    runner = runner_for(store, clock)
    handler = Recorder()

    runner.register("remind", handler)

    assert runner.kinds == {"remind"}
    with pytest.raises(ValueError, match="already registered"):
        runner.register("remind", handler)


async def test_a_cancelled_run_leaves_the_job_to_its_lease(store: MemoryJobStore, clock: FakeClock) -> None:
    started = asyncio.Event()

    async def forever(payload: dict[str, Any]) -> None:
        started.set()
        await asyncio.Event().wait()

    runner = runner_for(store, clock, handlers={"slow": forever})
    job_id = await enqueue(store, "k", clock.now(), kind="slow")
    task = asyncio.create_task(runner.run_due())
    await started.wait()

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    job = await store.get(job_id)
    assert job is not None
    assert (job.status, job.lease_until) == (JobStatus.RUNNING, clock.now() + LEASE)

"""A batch that outlives its lease: no job of it runs twice, and a stale worker cannot undo a claim.

Two JobRunners share one store (in memory, SQLite, PostgreSQL) and a FakeClock. Worker A claims a
batch; its first job waits out a long Retry-After, and meanwhile worker B ticks and re-claims the
rest of A's batch, whose lease has run out.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from domain.clock import FakeClock
from domain.jobs import JobStatus, NewJob
from scheduling.worker import JobRunner
from tests.integration.conftest import Stores

LEASE = timedelta(seconds=120)


def a_send(n: int, clock: FakeClock) -> NewJob:
    return NewJob("send", {"n": n}, clock.now(), f"send:{n}")


async def test_a_batch_outliving_its_lease_runs_no_job_twice(stores: Stores, clock: FakeClock) -> None:
    for n in range(3):
        await stores.jobs.enqueue(a_send(n, clock))
    runs: list[tuple[str, int]] = []

    async def slow_a(payload: dict[str, Any]) -> None:
        runs.append(("A", payload["n"]))
        if payload["n"] == 0:
            clock.advance(seconds=30)  # a short wait: the rest of the batch is still A's
        if payload["n"] == 1:
            clock.advance(seconds=130)  # a 429 with a two-minute Retry-After inside the send
            await b.run_due()  # meanwhile another instance ticks

    async def quick_b(payload: dict[str, Any]) -> None:
        runs.append(("B", payload["n"]))

    a = JobRunner(stores.jobs, clock, {"send": slow_a}, batch_size=50, lease=LEASE)
    b = JobRunner(stores.jobs, clock, {"send": quick_b}, batch_size=50, lease=LEASE)

    assert await a.run_due() == 3

    # Job 1 itself outlived the lease inside its handler (nothing can stop B there), but job 2,
    # not yet started when A's lease ran out, is run by B alone.
    assert sorted(n for who, n in runs if n == 2) == [2]
    assert ("A", 2) not in runs
    assert runs.count(("A", 0)) == 1
    assert ("B", 0) not in runs
    counts = await stores.jobs.counts()
    assert counts["done"] == 3, counts


async def test_a_job_whose_lease_ran_out_unclaimed_is_renewed_and_run(
    stores: Stores, clock: FakeClock
) -> None:
    for n in range(2):
        await stores.jobs.enqueue(a_send(n, clock))
    runs: list[int] = []

    async def handler(payload: dict[str, Any]) -> None:
        runs.append(payload["n"])
        if payload["n"] == 0:
            clock.advance(seconds=130)  # nobody else ticks meanwhile

    a = JobRunner(stores.jobs, clock, {"send": handler}, lease=LEASE)
    await a.run_due()

    assert runs == [0, 1]
    job = await stores.jobs.by_dedupe_key("send:1")
    assert job is not None
    assert (job.status, job.attempts) == (JobStatus.DONE, 1)


async def test_a_stale_failure_cannot_make_a_running_job_claimable(stores: Stores, clock: FakeClock) -> None:
    job_id = await stores.jobs.enqueue(a_send(0, clock))
    [first] = await stores.jobs.claim_due(clock.now(), 1, clock.now() + LEASE)
    clock.advance(LEASE + timedelta(seconds=1))
    [second] = await stores.jobs.claim_due(clock.now(), 1, clock.now() + LEASE)  # B runs it now
    assert (first.attempts, second.attempts) == (1, 2)

    # A, late, reports its outcome of the first claim: neither lands.
    assert not await stores.jobs.fail(job_id, "ConnectorError: 429", clock.now(), first.attempts)
    assert not await stores.jobs.complete(job_id, clock.now(), first.attempts)
    assert not await stores.jobs.renew(job_id, first.attempts, clock.now() + LEASE)
    assert await stores.jobs.claim_due(clock.now() + timedelta(seconds=1), 10, clock.now() + LEASE) == []
    job = await stores.jobs.get(job_id)
    assert job is not None
    assert (job.status, job.attempts, job.last_error) == (JobStatus.RUNNING, 2, None)

    # B's own outcome does.
    assert await stores.jobs.renew(job_id, second.attempts, clock.now() + 2 * LEASE)
    assert await stores.jobs.complete(job_id, clock.now(), second.attempts)
    done = await stores.jobs.get(job_id)
    assert done is not None
    assert done.status is JobStatus.DONE


async def test_a_stale_worker_failing_leaves_the_job_to_the_new_claim(
    stores: Stores, clock: FakeClock
) -> None:
    await stores.jobs.enqueue(a_send(0, clock))

    async def failing_late(payload: dict[str, Any]) -> None:
        clock.advance(seconds=130)
        await b.run_due()  # B re-claims and, say, is still sending
        raise RuntimeError("503 after the wait")

    b_started: list[int] = []

    async def b_handler(payload: dict[str, Any]) -> None:
        b_started.append(payload["n"])
        job = await stores.jobs.by_dedupe_key("send:0")
        assert job is not None
        assert job.status is JobStatus.RUNNING

    a = JobRunner(stores.jobs, clock, {"send": failing_late}, lease=LEASE)
    b = JobRunner(stores.jobs, clock, {"send": b_handler}, lease=LEASE)
    await a.run_due()

    job = await stores.jobs.by_dedupe_key("send:0")
    assert job is not None
    assert b_started == [0]
    assert (job.status, job.last_error) == (JobStatus.DONE, None)

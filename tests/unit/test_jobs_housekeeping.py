"""The daily housekeeping forgets old activity ids and long-done jobs, and keeps dead ones."""

from __future__ import annotations

from datetime import timedelta

from domain.clock import FakeClock
from domain.jobs import JobStatus, NewJob
from scheduling.housekeeping import Housekeeping
from tests.fakes.memory import MemoryInboundLedger, MemoryJobStore


async def test_housekeeping_purges_what_is_old() -> None:
    clock = FakeClock()
    inbound, jobs = MemoryInboundLedger(), MemoryJobStore(clock)
    await inbound.claim("old", clock.now())
    for key in ("done", "dead"):
        await jobs.enqueue(NewJob("k", {}, clock.now(), key))
    for job in await jobs.claim_due(clock.now(), 10, clock.now() + timedelta(minutes=2)):
        if job.dedupe_key == "done":
            await jobs.complete(job.id, clock.now())
        else:
            await jobs.fail(job.id, "boom", None)
    clock.advance(days=31)
    await inbound.claim("new", clock.now())

    purged = await Housekeeping(clock, inbound=inbound, jobs=jobs)()

    assert purged == {"inbound_activities": 1, "done_jobs": 1}
    assert await inbound.claim("new", clock.now()) is False
    dead = await jobs.by_dedupe_key("dead")
    assert dead is not None
    assert dead.status is JobStatus.DEAD

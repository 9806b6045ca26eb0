"""Several workers on one database: every job runs once."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy import insert

from domain.clock import FakeClock
from domain.jobs import RetryPolicy
from scheduling.worker import JobRunner
from storage.db import Database
from storage.models import JobRow
from storage.repositories import SqlJobStore

JOBS = 1000


async def add_due_jobs(db: Database, clock: FakeClock, count: int) -> None:
    """Many jobs in one statement (enqueue is one transaction each: too slow for setup)."""
    now = clock.now()
    rows = [
        {
            "kind": "work",
            "payload": {"n": n},
            "due_at": now - timedelta(seconds=n % 7),
            "status": "pending",
            "attempts": 0,
            "dedupe_key": f"work:{n}",
            "created_at": now,
        }
        for n in range(count)
    ]
    async with db.write() as session:
        await session.execute(insert(JobRow), rows)


async def test_two_workers_run_each_of_1000_jobs_exactly_once(database: Database, clock: FakeClock) -> None:
    """Two engines, as two bot instances would have; on PostgreSQL they claim with SKIP LOCKED."""
    await add_due_jobs(database, clock, JOBS)
    other = Database.connect(database.url)
    ran: list[tuple[str, int]] = []

    def worker(name: str, db: Database) -> JobRunner:
        async def work(payload: dict[str, Any]) -> None:
            ran.append((name, payload["n"]))
            await asyncio.sleep(0)  # let the other worker's claim interleave

        return JobRunner(SqlJobStore(db, clock), clock, {"work": work}, retry=RetryPolicy(), batch_size=50)

    async def drain(runner: JobRunner) -> None:
        while await runner.run_due():
            pass

    try:
        await asyncio.gather(drain(worker("a", database)), drain(worker("b", other)))
    finally:
        await other.dispose()

    runs = Counter(n for _, n in ran)
    assert sorted(runs) == list(range(JOBS))
    assert set(runs.values()) == {1}, [n for n, times in runs.items() if times > 1]
    by_worker = Counter(name for name, _ in ran)
    assert by_worker["a"] > 0
    assert by_worker["b"] > 0
    counts = await SqlJobStore(database).counts()
    assert (counts["done"], counts["pending"], counts["running"]) == (JOBS, 0, 0)

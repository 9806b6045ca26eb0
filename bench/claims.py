"""How long one claim of due jobs takes with 100,000 pending jobs, on PostgreSQL and SQLite.

    .venv/bin/python bench/claims.py [--jobs 100000] [--batch 100] [--batches 200]

PostgreSQL: a scratch database is created on the server of TAPAAMO_BENCH_POSTGRES_URL (else
TAPAAMO_TEST_POSTGRES_URL, else postgresql+asyncpg://postgres@127.0.0.1:5432/test) and dropped
afterwards. SQLite: a temporary file. Prints p50/p99/max milliseconds per claim batch.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from storage.db import Database
from storage.migrate import upgrade_async
from storage.models import JobRow
from storage.repositories import SqlJobStore

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


async def fill(db: Database, jobs: int) -> None:
    now = datetime.now(UTC)
    chunk = 5000
    for start in range(0, jobs, chunk):
        rows = [
            {
                "kind": "remind",
                "payload": {"session_id": n, "network_id": n % 97},
                # Spread over the past day and the next one: half due, in no particular order.
                "due_at": now + timedelta(seconds=(n * 7919) % 172_800 - 86_400),
                "status": "pending",
                "attempts": 0,
                "dedupe_key": f"remind:{n}",
                "created_at": now,
            }
            for n in range(start, min(start + chunk, jobs))
        ]
        async with db.write() as session:
            await session.execute(insert(JobRow), rows)
    async with db.write() as session:
        await session.execute(text("ANALYZE"))


async def measure(db: Database, batch: int, batches: int) -> list[float]:
    store = SqlJobStore(db)
    timings: list[float] = []
    for _ in range(batches):
        now = datetime.now(UTC)
        started = time.perf_counter()
        claimed = await store.claim_due(now, batch, now + timedelta(minutes=2))
        timings.append((time.perf_counter() - started) * 1000)
        assert len(claimed) == batch, f"only {len(claimed)} due jobs left"
    return timings


async def plan(db: Database) -> str:
    if db.dialect == "postgresql":
        query = (
            "EXPLAIN SELECT id FROM jobs WHERE status IN ('pending', 'failed') AND due_at <= now() "
            "ORDER BY due_at LIMIT 100 FOR UPDATE SKIP LOCKED"
        )
    else:
        query = (
            "EXPLAIN QUERY PLAN SELECT id FROM jobs WHERE status IN ('pending', 'failed') "
            "AND due_at <= '2100-01-01' ORDER BY due_at LIMIT 100"
        )
    async with db.read() as session:
        rows = (await session.execute(text(query))).all()
    return "\n".join("    " + str(row[-1]) for row in rows)


def report(
    name: str, jobs: int, batch: int, timings: list[float], fill_seconds: float, query_plan: str
) -> None:
    ordered = sorted(timings)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * len(ordered)) - 1)]
    print(f"{name}: {jobs:,} pending jobs (filled in {fill_seconds:.1f} s)")
    print(f"  claim batch {batch}, {len(timings)} batches")
    print(
        f"  p50 {statistics.median(timings):.2f} ms   p99 {p99:.2f} ms   max {ordered[-1]:.2f} ms per batch"
    )
    print(f"  ready-jobs plan:\n{query_plan}")


async def run(name: str, url: str, jobs: int, batch: int, batches: int) -> None:
    await upgrade_async(url)
    db = Database.connect(url)
    try:
        started = time.perf_counter()
        await fill(db, jobs)
        fill_seconds = time.perf_counter() - started
        await measure(db, batch, 5)  # warm the pool and the caches
        timings = await measure(db, batch, batches)
        report(name, jobs, batch, timings, fill_seconds, await plan(db))
    finally:
        await db.dispose()


async def admin(url: str, statement: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()

    if not args.skip_postgres:
        server = (
            os.environ.get("TAPAAMO_BENCH_POSTGRES_URL")
            or os.environ.get("TAPAAMO_TEST_POSTGRES_URL")
            or DEFAULT_POSTGRES_URL
        )
        name = f"tapaamo_bench_{uuid.uuid4().hex[:8]}"
        await admin(server, f'CREATE DATABASE "{name}"')
        try:
            url = make_url(server).set(database=name).render_as_string(hide_password=False)
            await run("PostgreSQL", url, args.jobs, args.batch, args.batches)
        finally:
            await admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
        await run("SQLite", url, args.jobs, args.batch, args.batches)


if __name__ == "__main__":
    asyncio.run(main())

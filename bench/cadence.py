"""The daily cadence evaluation of 120 networks x 10 years and of 10,000 networks, on SQLite and PostgreSQL.

    .venv/bin/python bench/cadence.py [--skip-postgres] [--big-networks 10000] [--explain]

Data (bench/seed.py, bulk inserts), each on a fresh database (a SQLite file; a scratch PostgreSQL
database, dropped afterwards):
- "120 x 10 years": 120 weekly networks, 520 weeks of history each (30 participants a session) and
  10 weeks scheduled ahead: 63,000 sessions, 1.7 million participation rows. Goal: under 1 s.
- "10,000": 10,000 weekly networks with 56 weeks of history (the evaluation looks 400 days back),
  5 participants a session, 10 weeks ahead: 660,000 sessions, 2.6 million participation rows.
  Goal: under 30 s.
Every tenth network stopped scheduling some weeks ago (due, overdue or lapsed) and every tenth
other one has fading attendance, so the daily run has nudges to enqueue.

Measured through the product's code: ``Watch.reports()`` (every active network evaluated: one query
for the inputs, domain.cadence.evaluate for each; run ``--repeat`` times, the slowest judged), then
``Watch.daily()`` once (the reports plus nudge states, nudge jobs and lifecycle steps).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import result, scratch_postgres
from seed import NOW, Shape, seed_postgres, seed_sqlite
from sqlalchemy import text

from domain.clock import FakeClock
from domain.stewardship import Watch
from storage.db import Database
from storage.migrate import upgrade_async
from storage.network_repos import SqlNetworkStore
from storage.participation_repos import SqlParticipationStore
from storage.repositories import SqlJobStore
from storage.stewardship_repos import SqlNudgeStore

INPUTS_SQL = (
    "SELECT sessions.network_id, sessions.starts_at, count(participations.participant_key) "
    "FROM sessions LEFT OUTER JOIN participations ON participations.session_id = sessions.id "
    "AND participations.removed IS false "
    "WHERE sessions.status != 'cancelled' AND sessions.starts_at >= {since} "
    "GROUP BY sessions.id, sessions.network_id, sessions.starts_at"
)


async def explain(db: Database) -> None:
    since = NOW - timedelta(days=400)
    async with db.read() as session:
        if db.dialect == "postgresql":
            query = "EXPLAIN (ANALYZE, COSTS OFF) " + INPUTS_SQL.format(since=f"'{since.isoformat()}'")
        else:
            query = "EXPLAIN QUERY PLAN " + INPUTS_SQL.format(since=f"'{since:%Y-%m-%d %H:%M:%S.%f}'")
        for row in (await session.execute(text(query))).all():
            print("      " + str(row[-1]))


async def measure(backend: str, url: str, label: str, goal: float, repeat: int, show_plan: bool) -> bool:
    db = Database.connect(url)
    clock = FakeClock(NOW)
    watch = Watch(
        SqlNetworkStore(db), SqlParticipationStore(db), SqlNudgeStore(db), SqlJobStore(db, clock), clock
    )
    try:
        seconds: list[float] = []
        reports = []
        for _ in range(repeat):
            began = time.perf_counter()
            reports = await watch.reports()
            seconds.append(time.perf_counter() - began)
        inputs_began = time.perf_counter()
        await watch.inputs()
        inputs = time.perf_counter() - inputs_began
        began = time.perf_counter()
        nudges = await watch.daily()
        daily = time.perf_counter() - began
        statuses = Counter(report.status.value for _, report in reports)
        fading = sum(1 for _, report in reports if report.fading_attendance)
        print(
            f"  {backend} {label}: Watch.reports of {len(reports):,} networks: first {seconds[0]:.2f} s, "
            f"median {statistics.median(seconds):.2f} s, max {max(seconds):.2f} s "
            f"(the inputs query alone {inputs:.2f} s)"
        )
        print(f"      {dict(statuses)}, fading {fading}")
        print(f"  {backend} {label}: Watch.daily: {daily:.2f} s, {nudges} nudges enqueued")
        if show_plan:
            await explain(db)
        name = label.replace(" ", "")
        met_reports = max(seconds) < goal
        met_daily = daily < goal
        result(f"cadence.reports_{name}.{backend}", round(max(seconds), 3), "s", f"< {goal:g} s", met_reports)
        result(f"cadence.daily_{name}.{backend}", round(daily, 3), "s", f"< {goal:g} s", met_daily)
        return met_reports and met_daily
    finally:
        await db.dispose()


async def main_async(args: argparse.Namespace) -> int:
    cases = [
        ("120x10y", Shape(120, 520, 10, 30), 1.0),
        (f"{args.big_networks}", Shape(args.big_networks, 56, 10, 5), 30.0),
    ]
    ok = True
    for label, shape, goal in cases:
        with tempfile.TemporaryDirectory(prefix="tapaamo-cadence-") as directory:
            path = Path(directory) / "cadence.db"
            url = f"sqlite+aiosqlite:///{path}"
            await upgrade_async(url)
            print(f"SQLite {label}: {seed_sqlite(path, shape, analyze=args.analyze_sqlite)}", flush=True)
            ok = await measure("sqlite", url, label, goal, args.repeat, args.explain) and ok
        if not args.skip_postgres:
            async with scratch_postgres("tapaamo_bench_cadence") as url:
                await upgrade_async(url)
                print(f"PostgreSQL {label}: {await seed_postgres(url, shape)}", flush=True)
                ok = await measure("postgresql", url, label, goal, args.repeat, args.explain) and ok
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big-networks", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--explain", action="store_true", help="print the plan of the inputs query")
    parser.add_argument("--analyze-sqlite", action="store_true", help="run ANALYZE on SQLite after seeding")
    args = parser.parse_args()
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())

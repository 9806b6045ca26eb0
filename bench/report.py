"""Report figures of one network over ten years, and the overview of 120 networks, on SQLite and PostgreSQL.

    .venv/bin/python bench/report.py [--networks 120] [--years 10] [--participants 30] [--skip-postgres]

Data (bench/seed.py, bulk inserts): 120 weekly networks, each with ten years of sessions (520 weeks;
every 13th cancelled) and 30 participants in each held one, 10 weeks scheduled ahead; network 1 has
50 followers. That is 63,000 sessions and 1.7 million participation rows.

Measured, through the product's own code over a fresh database (a SQLite file; a scratch PostgreSQL
database, dropped afterwards):
- ``Ledger.network_figures`` of network 1 for the last year and for all ten years (what the report
  page and the yearly evaluation compute): every session and ledger row of the network are read and
  summed in Python;
- the overview of every network: ``ParticipationStore.summaries`` over the last year and
  ``Watch.reports`` (the cadence of every active network). Goal: under 1 s together.

Each is run ``--repeat`` times; the first run (cold caches) and the median are printed, and the goal is
judged on the slowest run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import result, scratch_postgres
from seed import NOW, Shape, seed_postgres, seed_sqlite

from domain.clock import FakeClock
from domain.participation import Ledger
from domain.stewardship import Watch
from storage.db import Database
from storage.migrate import upgrade_async
from storage.network_repos import SqlNetworkStore, SqlSessionStore
from storage.participation_repos import SqlParticipationStore
from storage.repositories import SqlAuditLog, SqlJobStore
from storage.stewardship_repos import SqlNudgeStore

OVERVIEW_GOAL = 1.0


async def timed(repeat: int, work: Callable[[], Awaitable[Any]]) -> tuple[list[float], Any]:
    seconds: list[float] = []
    value = None
    for _ in range(repeat):
        began = time.perf_counter()
        value = await work()
        seconds.append(time.perf_counter() - began)
    return seconds, value


def shown(seconds: list[float]) -> str:
    first, median, most = seconds[0] * 1000, statistics.median(seconds) * 1000, max(seconds) * 1000
    return f"first {first:7.1f} ms, median {median:7.1f} ms, max {most:7.1f} ms"


async def measure(backend: str, url: str, shape: Shape, repeat: int) -> bool:
    db = Database.connect(url)
    clock = FakeClock(NOW)
    networks = SqlNetworkStore(db)
    sessions = SqlSessionStore(db)
    store = SqlParticipationStore(db)
    jobs = SqlJobStore(db, clock)
    ledger = Ledger(store, sessions, networks, jobs, SqlAuditLog(db), clock)
    watch = Watch(networks, store, SqlNudgeStore(db), jobs, clock)
    ok = True
    try:
        network = await networks.get(1)
        assert network is not None
        for label, start in (
            ("year", NOW - timedelta(days=365)),
            ("10y", NOW - timedelta(weeks=shape.past_weeks + 1)),
        ):
            seconds, figures = await timed(
                repeat, lambda start=start: ledger.network_figures(network, start, NOW)
            )
            print(
                f"  {backend}: network_figures, one network, last {label}: {shown(seconds)}  "
                f"({figures.sessions_held} sessions held, {figures.unique_participants} people, "
                f"{figures.average_per_session:.1f} a session, {figures.new_in_period} new)"
            )
            result(f"report.figures_{label}.{backend}", round(max(seconds) * 1000, 1), "ms", "-", None)

        year = NOW - timedelta(days=365)
        summary_seconds, summaries = await timed(repeat, lambda: store.summaries(year, NOW))
        reports_seconds, reports = await timed(repeat, lambda: watch.reports())
        print(f"  {backend}: summaries, {len(summaries)} networks, last year: {shown(summary_seconds)}")
        print(f"  {backend}: Watch.reports, {len(reports)} networks:         {shown(reports_seconds)}")
        statuses: dict[str, int] = {}
        for _, report in reports:
            statuses[report.status.value] = statuses.get(report.status.value, 0) + 1
        print(f"      statuses {statuses}")
        overview = [a + b for a, b in zip(summary_seconds, reports_seconds, strict=True)]
        met = max(overview) < OVERVIEW_GOAL
        ok = ok and met
        print(f"  {backend}: overview (both):            {shown(overview)}  goal < {OVERVIEW_GOAL:g} s")
        result(f"report.summaries.{backend}", round(max(summary_seconds) * 1000, 1), "ms", "-", None)
        result(f"report.watch_reports.{backend}", round(max(reports_seconds) * 1000, 1), "ms", "-", None)
        result(
            f"report.overview_{len(summaries)}.{backend}",
            round(max(overview) * 1000, 1),
            "ms",
            f"< {OVERVIEW_GOAL * 1000:g} ms",
            met,
        )
    finally:
        await db.dispose()
    return ok


async def main_async(args: argparse.Namespace) -> int:
    shape = Shape(args.networks, args.years * 52, 10, args.participants, followers=50)
    ok = True
    with tempfile.TemporaryDirectory(prefix="tapaamo-report-") as directory:
        path = Path(directory) / "report.db"
        url = f"sqlite+aiosqlite:///{path}"
        await upgrade_async(url)
        counts = seed_sqlite(path, shape, analyze=args.analyze_sqlite)
        print(f"SQLite: {counts}", flush=True)
        ok = await measure("sqlite", url, shape, args.repeat) and ok
    if not args.skip_postgres:
        async with scratch_postgres("tapaamo_bench_report") as url:
            await upgrade_async(url)
            counts = await seed_postgres(url, shape)
            print(f"PostgreSQL: {counts}", flush=True)
            ok = await measure("postgresql", url, shape, args.repeat) and ok
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=120)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--participants", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--analyze-sqlite", action="store_true", help="run ANALYZE on SQLite after seeding")
    args = parser.parse_args()
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())

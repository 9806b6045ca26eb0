"""Years of weekly sessions and their participants, written straight into the tables (bulk, fast).

Used by bench/report.py and bench/cadence.py. The schema is the migrations' (run first); rows go
in with one ``executemany`` per table on SQLite (plain sqlite3, one transaction) and with COPY on
PostgreSQL (asyncpg), then PostgreSQL is ANALYZEd (its steady state under autovacuum). SQLite is
not ANALYZEd unless asked: the bot never runs ANALYZE there.

What a `Shape` makes, for network n (1-based) of ``networks``:
- weekly, Europe/Helsinki, on weekday (n mod 5) at 9 + (n mod 8) o'clock, active, continuous,
  created the week before its first session; one coordinator;
- ``past_weeks`` sessions before NOW (held; every 13th cancelled) and ``future_weeks`` after it
  (scheduled). Every tenth network stopped scheduling 1 to 7 weeks ago (nothing ahead: due,
  overdue or lapsed), and every tenth other one has fading attendance (its last three sessions
  have a quarter of the people);
- ``participants`` people in each held session, from a pool of three times that which drifts (ten
  new people every half year), with e-mail domains of 25 municipalities;
- network 1 also has ``followers`` followers, half of whom never came.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("Europe/Helsinki")
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday in March: no yearly evaluation due


@dataclass(frozen=True)
class Shape:
    networks: int
    past_weeks: int
    future_weeks: int
    participants: int
    followers: int = 0

    def stopped(self, n: int) -> int:
        """Weeks since network ``n`` stopped scheduling (0: it has not)."""
        return 1 + n // 10 % 7 if n % 10 == 9 else 0

    def fading(self, n: int) -> bool:
        return n % 10 == 8


@dataclass
class Counts:
    networks: int = 0
    sessions: int = 0
    participations: int = 0
    followers: int = 0
    seconds: float = 0.0

    def __str__(self) -> str:
        return (
            f"{self.networks:,} networks, {self.sessions:,} sessions, {self.participations:,} participations"
            f" ({self.seconds:.1f} s to seed)"
        )


def _monday(moment: datetime) -> date:
    local = moment.astimezone(ZONE).date()
    return local - timedelta(days=local.weekday())


def rows(
    shape: Shape, stamp: Callable[[datetime], object], false: object
) -> dict[str, Iterator[tuple[object, ...]]]:
    """Generators of each table's rows, in insertion order; ``stamp`` makes a datetime a column value."""
    weeks: dict[tuple[int, int], list[tuple[int, datetime, object, object, object]]] = {}

    def sessions_of(n: int) -> Iterator[tuple[int, str, int, object, object, object]]:
        """(week index, status, participants, start, end, created) of network ``n``; week 0 is NOW's."""
        key = (n % 5, 9 + n % 8)  # weekday, hour
        if key not in weeks:  # the same 40 timelines for every network: computed once each
            monday = _monday(NOW)
            timeline = []
            for k in range(-shape.past_weeks, shape.future_weeks):
                day = monday + timedelta(weeks=k, days=key[0])
                start = datetime(day.year, day.month, day.day, key[1], tzinfo=ZONE).astimezone(UTC)
                hour = timedelta(hours=1)
                timeline.append(
                    (k, start, stamp(start), stamp(start + hour), stamp(start - timedelta(days=7)))
                )
            weeks[key] = timeline
        stop = shape.stopped(n)
        for k, start, first, last, created in weeks[key]:
            if stop and k >= -stop:
                break
            if start >= NOW:
                yield k, "scheduled", 0, first, last, created
            elif k % 13 == 0:
                yield k, "cancelled", 0, first, last, created
            elif shape.fading(n) and k >= -3:
                yield k, "held", max(1, shape.participants // 4), first, last, created
            else:
                yield k, "held", shape.participants, first, last, created

    def networks() -> Iterator[tuple[object, ...]]:
        for n in range(1, shape.networks + 1):
            created = NOW - timedelta(weeks=shape.past_weeks + 1)
            yield (
                n,
                f"bench-network-{n}",
                f"Bench network {n}",
                f"bench network {n}",
                ("fi", "sv", "en")[n % 3],
                "weekly",
                "continuous",
                "active",
                "Europe/Helsinki",
                f"19:bench-{n}@thread.tacv2",
                None,
                "",
                "",
                stamp(created),
            )

    def coordinators() -> Iterator[tuple[object, ...]]:
        for n in range(1, shape.networks + 1):
            yield (
                n,
                f"29:coordinator-{n}",
                f"Coordinator {n}",
                f"aad-coordinator-{n}",
                stamp(NOW - timedelta(days=4000)),
            )

    def followers() -> Iterator[tuple[object, ...]]:
        for f in range(shape.followers):
            # Half of them also took part (the pool's first people), half never came.
            idx = f if f % 2 == 0 else 100_000 + f
            yield 1, f"29:user-1-{idx}", f"Person {idx}", f"aad-00001-{idx}", stamp(NOW - timedelta(days=30))

    def sessions() -> Iterator[tuple[object, ...]]:
        session_id = 0
        for n in range(1, shape.networks + 1):
            for _, status, _, first, last, created in sessions_of(n):
                session_id += 1
                yield (
                    session_id,
                    n,
                    None,
                    None,
                    None,
                    first,
                    last,
                    "",
                    None,
                    status,
                    None,
                    created,
                    None,
                    None,
                )

    def participations() -> Iterator[tuple[object, ...]]:
        session_id = 0
        for n in range(1, shape.networks + 1):
            pool = 3 * shape.participants
            for k, _, people, first, last, _ in sessions_of(n):
                session_id += 1
                drift = ((k + 10_000) // 26) * 10  # ten new people every half year
                for j in range(people):
                    idx = (j + k * 7) % pool + drift
                    yield (
                        session_id,
                        f"aad-{n:05d}-{idx}",
                        f"29:user-{n}-{idx}",
                        f"Person {idx}",
                        f"t-{idx % 5}",
                        f"p{idx}@kunta{idx % 25}.fi",
                        5,
                        first,
                        last,
                        55,
                        false,
                    )

    return {
        "networks": networks(),
        "coordinators": coordinators(),
        "followers": followers(),
        "sessions": sessions(),
        "participations": participations(),
    }


COLUMNS = {
    "networks": (
        "id",
        "slug",
        "name",
        "name_key",
        "lang",
        "cadence",
        "kind",
        "status",
        "timezone",
        "home_conversation_id",
        "ends_on",
        "description",
        "join_text",
        "created_at",
    ),
    "coordinators": ("network_id", "user_id", "name", "aad_id", "added_at"),
    "followers": ("network_id", "user_id", "name", "aad_id", "since"),
    "sessions": (
        "id",
        "network_id",
        "series_id",
        "occurrence",
        "draft_id",
        "starts_at",
        "ends_at",
        "topic",
        "join_url",
        "status",
        "meeting_id",
        "created_at",
        "held_from",
        "held_until",
    ),
    "participations": (
        "session_id",
        "participant_key",
        "user_id",
        "display_name",
        "tenant_id",
        "email",
        "sources",
        "first_seen",
        "last_seen",
        "minutes",
        "removed",
    ),
}


def _sqlite_stamp(value: datetime) -> str:
    """As SQLAlchemy's SQLite DateTime writes it: naive UTC text with microseconds."""
    return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def _same(value: datetime) -> datetime:
    return value


def seed_sqlite(path: Path, shape: Shape, *, analyze: bool = False) -> Counts:
    began = time.perf_counter()
    counts = Counts()
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = OFF")
        connection.execute("BEGIN")
        for table, generator in rows(shape, _sqlite_stamp, 0).items():
            columns = COLUMNS[table]
            statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            before = connection.total_changes
            connection.executemany(statement, generator)
            if hasattr(counts, table):
                setattr(counts, table, connection.total_changes - before)
        connection.execute("COMMIT")
        if analyze:
            connection.execute("ANALYZE")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    counts.seconds = time.perf_counter() - began
    return counts


async def seed_postgres(url: str, shape: Shape) -> Counts:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    began = time.perf_counter()
    counts = Counts()
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            for table, generator in rows(shape, _same, False).items():
                status = await driver.copy_records_to_table(table, records=generator, columns=COLUMNS[table])
                if hasattr(counts, table):
                    setattr(counts, table, int(status.split()[-1]))
            for table in ("networks", "sessions"):
                await driver.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                )
            await connection.commit()
            await connection.execute(text("ANALYZE"))
            await connection.commit()
    finally:
        await engine.dispose()
    counts.seconds = time.perf_counter() - began
    return counts

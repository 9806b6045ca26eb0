"""The Database handle: sessions, transactions, SQLite pragmas, and many concurrent writers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from domain.clock import FakeClock
from domain.conversations import ConversationRef
from domain.jobs import NewJob
from storage.db import Database, async_url, sqlite_file
from storage.models import ConversationRefRow, InboundActivityRow, JobRow
from storage.repositories import Repositories, SqlJobStore
from tests.integration.conftest import Backend


def a_ref(conversation_id: str, at: datetime) -> ConversationRef:
    return ConversationRef(
        conversation_id=conversation_id,
        service_url="https://smba.trafficmanager.net/emea/",
        channel_id="msteams",
        kind="personal",
        tenant_id="t",
        bot_id="28:bot",
        user_id=None,
        user_aad_id=None,
        locale=None,
        reference={"conversation": {"id": conversation_id}},
        updated_at=at,
    )


async def count(db: Database, model: type[object]) -> int:
    async with db.read() as session:
        return (await session.scalar(select(func.count()).select_from(model))) or 0


async def test_dialect_and_ping(database: Database, backend: Backend) -> None:
    assert database.dialect == backend.name
    assert await database.ping() is True


async def test_ping_is_false_when_the_server_is_away() -> None:
    db = Database.connect("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    try:
        assert await db.ping() is False
    finally:
        await db.dispose()


async def test_write_commits_and_an_error_rolls_back(database: Database, clock: FakeClock) -> None:
    row = InboundActivityRow(activity_key="a", received_at=clock.now(), finished=False)
    async with database.write() as session:
        session.add(row)

    async def fail_midway() -> None:
        async with database.write() as session:
            session.add(InboundActivityRow(activity_key="b", received_at=clock.now(), finished=False))
            await session.flush()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await fail_midway()

    async with database.read() as session:
        keys = (await session.scalars(select(InboundActivityRow.activity_key))).all()
    assert keys == ["a"]


async def test_a_nested_write_raises_instead_of_deadlocking(database: Database) -> None:
    async with database.write():
        with pytest.raises(RuntimeError, match="nested"):
            async with database.write():
                pass


async def test_datetimes_come_back_aware_in_utc(database: Database) -> None:
    helsinki = datetime(2026, 3, 29, 4, 30, tzinfo=ZoneInfo("Europe/Helsinki"))  # first hour of summer time
    jobs = SqlJobStore(database, FakeClock())
    job_id = await jobs.enqueue(NewJob(kind="k", payload={"a": [1, "ä"]}, due_at=helsinki, dedupe_key="k"))

    job = await jobs.get(job_id)

    assert job is not None
    assert job.due_at == helsinki == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert job.due_at.tzinfo is UTC
    assert job.payload == {"a": [1, "ä"]}


async def test_sqlite_connections_are_set_up(sqlite_database: Database) -> None:
    database = sqlite_database
    expected = {"journal_mode": "wal", "busy_timeout": 5000, "foreign_keys": 1, "synchronous": 1}
    for session_of in (database.write, database.read):
        async with session_of() as session:
            found = {name: (await session.execute(text(f"PRAGMA {name}"))).scalar() for name in expected}
        assert found == expected


async def test_sqlite_readers_cannot_write(sqlite_database: Database, clock: FakeClock) -> None:
    database = sqlite_database

    async def write_through_a_reader() -> None:
        async with database.read() as session:
            session.add(InboundActivityRow(activity_key="a", received_at=clock.now(), finished=False))
            await session.flush()

    with pytest.raises(OperationalError, match="readonly"):
        await write_through_a_reader()


async def test_200_concurrent_writes_all_land(database: Database, clock: FakeClock) -> None:
    repos = Repositories.build(database, clock)
    now = clock.now()

    await asyncio.gather(
        *(repos.jobs.enqueue(NewJob("k", {"n": n}, now, f"job:{n}")) for n in range(200)),
        *(repos.conversations.upsert(a_ref(f"c:{n % 50}", now)) for n in range(200)),
        *(repos.inbound.claim(f"act:{n}", now) for n in range(200)),
        *(repos.jobs.claim_due(now, 5, now + timedelta(minutes=1)) for _ in range(20)),
    )

    assert await count(database, JobRow) == 200
    assert await count(database, ConversationRefRow) == 50
    assert await count(database, InboundActivityRow) == 200
    assert (await repos.jobs.counts())["running"] == 100


async def test_concurrent_enqueues_of_one_key_make_one_job(database: Database, clock: FakeClock) -> None:
    jobs = SqlJobStore(database, clock)

    ids = await asyncio.gather(*(jobs.enqueue(NewJob("k", {}, clock.now(), "same")) for _ in range(50)))

    assert len(set(ids)) == 1
    assert await count(database, JobRow) == 1


async def test_two_handles_on_one_sqlite_file_do_not_lock_each_other(
    sqlite_database: Database, clock: FakeClock
) -> None:
    """Two processes' writers meet on the file lock; BEGIN IMMEDIATE and busy_timeout queue them."""
    database = sqlite_database
    other = Database.connect(database.url)
    try:
        here, there = SqlJobStore(database, clock), SqlJobStore(other, clock)
        await asyncio.gather(
            *(
                store.enqueue(NewJob("k", {}, clock.now(), f"{n}"))
                for n in range(200)
                for store in (here, there)
            ),
            *(
                store.claim_due(clock.now(), 10, clock.now() + timedelta(minutes=1))
                for _ in range(10)
                for store in (here, there)
            ),
        )
    finally:
        await other.dispose()
    assert await count(database, JobRow) == 200
    assert (await SqlJobStore(database).counts())["running"] == 200


def test_urls_get_their_async_driver() -> None:
    assert async_url("sqlite:///var/t.db").drivername == "sqlite+aiosqlite"
    assert async_url("postgresql://u@h/db").drivername == "postgresql+asyncpg"
    assert async_url("postgres://u@h/db").drivername == "postgresql+asyncpg"
    assert async_url("postgresql+asyncpg://u@h/db").drivername == "postgresql+asyncpg"
    with pytest.raises(ValueError, match="unsupported"):
        async_url("mysql://u@h/db")
    assert sqlite_file("sqlite+aiosqlite:///var/t.db") is not None
    assert sqlite_file("sqlite+aiosqlite:///:memory:") is None


def test_in_memory_sqlite_is_refused() -> None:
    with pytest.raises(ValueError, match="SQLite file"):
        Database.connect("sqlite+aiosqlite:///:memory:")

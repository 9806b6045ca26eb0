"""Databases for the integration tests: every storage test runs on SQLite and on PostgreSQL.

SQLite: a fresh file under tmp_path per test, migrated with storage.migrate.upgrade.
PostgreSQL: ``TAPAAMO_TEST_POSTGRES_URL`` (default postgresql+asyncpg://postgres@127.0.0.1:5432/test)
names the server; a database of its own is created for the test session, migrated once, emptied
before each test and dropped at the end. When the server cannot be reached the PostgreSQL tests
are skipped, unless ``TAPAAMO_REQUIRE_POSTGRES=1``, which makes that a failure (CI).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from domain.clock import FakeClock
from storage.db import Database
from storage.migrate import upgrade
from storage.repositories import Repositories
from tests.fakes.memory import MemoryStores

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
BACKENDS = ["sqlite", "postgresql"]

Stores = Repositories | MemoryStores


@dataclass(frozen=True)
class Backend:
    """A migrated, empty database for one test."""

    name: str
    url: str


async def _admin(url: str, *statements: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT", connect_args={"timeout": 5})
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


# Test databases are named after the host and process that made them, so that a later session
# can drop the ones a killed session left behind without touching those of a running one.
_HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]
_PREFIX = f"tapaamo_test_{_HOST}_"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _drop_leftovers(server: str) -> None:
    engine = create_async_engine(server, isolation_level="AUTOCOMMIT", connect_args={"timeout": 5})
    try:
        async with engine.connect() as connection:
            names = (
                await connection.scalars(
                    text("SELECT datname FROM pg_database WHERE starts_with(datname, :prefix)"),
                    {"prefix": _PREFIX},
                )
            ).all()
            for name in names:
                pid = name.removeprefix(_PREFIX).split("_")[0]
                if pid.isdigit() and not _alive(int(pid)):
                    await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def postgres_session_url() -> Iterator[str]:
    """A database created for this test session on the test PostgreSQL server, migrated."""
    server = os.environ.get("TAPAAMO_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    name = f"{_PREFIX}{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        asyncio.run(_drop_leftovers(server))
        asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    except Exception as error:
        shown = make_url(server).render_as_string(hide_password=True)
        reason = f"PostgreSQL not reachable at {shown}: {type(error).__name__}: {error}"
        if os.environ.get("TAPAAMO_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason} (TAPAAMO_REQUIRE_POSTGRES=1)")
        pytest.skip(f"{reason}; set TAPAAMO_TEST_POSTGRES_URL, or TAPAAMO_REQUIRE_POSTGRES=1 to fail")
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'tapaamo.db'}"
    upgrade(url)
    return url


@pytest.fixture
def postgresql_url(postgres_session_url: str) -> str:
    return postgres_session_url


# The dispatching fixtures are synchronous on purpose: upgrade() runs an event loop of its own,
# which it cannot do from inside an async fixture.
@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each backend in turn, migrated (PostgreSQL emptied by the ``database`` fixture)."""
    return Backend(request.param, request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
async def database(backend: Backend) -> AsyncIterator[Database]:
    """A connected :class:`Database` on an empty, migrated schema; once per backend."""
    db = Database.connect(backend.url)
    try:
        if db.dialect == "postgresql":
            await truncate_all(db)
        yield db
    finally:
        await db.dispose()


@pytest.fixture
async def sqlite_database(sqlite_url: str) -> AsyncIterator[Database]:
    """A connected SQLite :class:`Database`, for what only SQLite has."""
    db = Database.connect(sqlite_url)
    try:
        yield db
    finally:
        await db.dispose()


async def truncate_all(db: Database) -> None:
    """Empty every table but Alembic's (faster than creating a database per test)."""
    async with db.write() as session:
        tables = (
            await session.scalars(
                text(
                    "SELECT quote_ident(tablename) FROM pg_tables "
                    "WHERE schemaname = current_schema() AND tablename <> 'alembic_version'"
                )
            )
        ).all()
        if tables:
            await session.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", *BACKENDS])
def store_backend(request: pytest.FixtureRequest) -> Backend | None:
    """The in-memory fakes (None) and each database, for contract tests."""
    if request.param == "memory":
        return None
    return Backend(request.param, request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
async def stores(store_backend: Backend | None, clock: FakeClock) -> AsyncIterator[Stores]:
    """Every port implementation at once, in memory or on a database, sharing ``clock``."""
    if store_backend is None:
        yield MemoryStores(clock=clock)
        return
    db = Database.connect(store_backend.url)
    try:
        if db.dialect == "postgresql":
            await truncate_all(db)
        yield Repositories.build(db, clock)
    finally:
        await db.dispose()

"""The database handle: engines, sessions, and SQLite set up for one writer and many readers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool, NullPool

log = logging.getLogger(__name__)
T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 5000
PING_TIMEOUT_SECONDS = 2.0

# Set while a task is inside Database.write(): a nested write() would wait for itself forever.
_writing: ContextVar[bool] = ContextVar("tapaamo_db_writing", default=False)

_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}


def async_url(url: str | URL) -> URL:
    """``url`` with its async driver (``sqlite://`` → ``sqlite+aiosqlite://``, and so on)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql", "postgres"):
        raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")
    if parsed.drivername in _ASYNC_DRIVERS:
        parsed = parsed.set(drivername=_ASYNC_DRIVERS[parsed.drivername])
    return parsed


def sqlite_file(url: str | URL) -> Path | None:
    """The file of a SQLite URL, or None for in-memory and non-SQLite URLs."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:") or parsed.query.get("mode") == "memory":
        return None
    return Path(database)


def ensure_sqlite_directory(url: str | URL) -> None:
    """Create the directory of a SQLite file URL, so that ``var/tapaamo.db`` just works."""
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def configure_sqlite(engine: Engine, *, begin: str = "BEGIN", query_only: bool = False) -> None:
    """Pragmas on every new connection, and our own BEGIN.

    pysqlite opens a transaction only at the first write, so the reads before it are not
    isolated, and a deferred transaction that turns into a write can fail at once with
    SQLITE_BUSY (busy_timeout does not apply to that). Writers therefore open with
    ``BEGIN IMMEDIATE`` and take the file's write lock up front, waiting up to busy_timeout if
    another process holds it. Readers use a plain BEGIN for a consistent snapshot, and
    ``query_only`` makes a write through a reader fail instead of bypassing the writer.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
            if query_only:
                cursor.execute("PRAGMA query_only = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql(begin)


class Database:
    """Async engines and sessions for one database URL.

    Use :meth:`read` for queries and :meth:`write` for changes; ``write`` commits when its block
    ends without an exception and rolls back otherwise. On SQLite all writes in this process go
    through one connection, one at a time (an asyncio.Lock queues them), so they never meet
    "database is locked"; reads use other connections and, with WAL, do not wait for the writer.
    Do not nest ``write()`` blocks: that raises rather than deadlocking.
    """

    def __init__(self, url: URL, *, writer: AsyncEngine, reader: AsyncEngine) -> None:
        self._url = url
        self._writer = writer
        self._reader = reader
        self._write_sessions = async_sessionmaker(writer, expire_on_commit=False, autoflush=False)
        self._read_sessions = async_sessionmaker(reader, expire_on_commit=False, autoflush=False)
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if url.get_backend_name() == "sqlite" else None
        self._raw: sqlite3.Connection | None = None
        self._raw_pool: ThreadPoolExecutor | None = None

    @classmethod
    def connect(
        cls,
        url: str | URL,
        *,
        pool_size: int = 10,
        max_overflow: int = 10,
        echo: bool = False,
    ) -> Database:
        """Build the engines for ``url`` (no connection is opened until first use)."""
        parsed = async_url(url)
        if parsed.get_backend_name() == "sqlite":
            if sqlite_file(parsed) is None:
                raise ValueError("use a SQLite file: readers and the writer need to share it")
            ensure_sqlite_directory(parsed)
            # One writer connection: a pool of exactly one, reused for the life of the process.
            writer = create_async_engine(
                parsed, poolclass=AsyncAdaptedQueuePool, pool_size=1, max_overflow=0, echo=echo
            )
            reader = create_async_engine(
                parsed, poolclass=AsyncAdaptedQueuePool, pool_size=pool_size, max_overflow=0, echo=echo
            )
            configure_sqlite(writer.sync_engine, begin="BEGIN IMMEDIATE")
            configure_sqlite(reader.sync_engine, begin="BEGIN", query_only=True)
            return cls(parsed, writer=writer, reader=reader)
        engine = create_async_engine(
            parsed,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_pre_ping=True,
            pool_recycle=1800,
            connect_args={"server_settings": {"application_name": "tapaamo"}},
            echo=echo,
        )
        return cls(parsed, writer=engine, reader=engine)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._writer.dialect.name

    @property
    def url(self) -> str:
        """The URL, password included (for handing to a subprocess or a migration)."""
        return self._url.render_as_string(hide_password=False)

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for queries (on SQLite, one that cannot write)."""
        async with self._read_sessions() as session:
            yield session

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction, committed when the block ends normally."""
        if _writing.get():
            raise RuntimeError("Database.write() nested in another write() of the same task")
        token = _writing.set(True)
        try:
            async with self._writer_turn(), self._write_sessions() as session, session.begin():
                yield session
        finally:
            _writing.reset(token)

    @contextlib.asynccontextmanager
    async def _writer_turn(self) -> AsyncIterator[None]:
        if self._write_lock is None:
            yield
            return
        async with self._write_lock:
            yield

    @property
    def raw_sqlite(self) -> bool:
        """Whether :meth:`sqlite_write` is available (a SQLite file)."""
        return self._write_lock is not None

    async def sqlite_write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` on a plain sqlite3 connection in one transaction, in one thread hop.

        For the few statements on the hot path of every turn: SQLAlchemy over aiosqlite makes
        about eight thread hops per transaction, this makes one. It takes the same writer turn as
        :meth:`write`, so writes in this process stay one at a time.
        """
        if self._write_lock is None:
            raise RuntimeError("sqlite_write is for SQLite only")
        async with self._writer_turn():
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._raw_executor(), self._run_raw, work)

    def _raw_executor(self) -> ThreadPoolExecutor:
        if self._raw_pool is None:
            self._raw_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tapaamo-sqlite")
        return self._raw_pool

    def _run_raw(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._raw is None:
            path = sqlite_file(self._url)
            assert path is not None
            self._raw = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            for pragma in (
                f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}",
                "PRAGMA journal_mode = WAL",
                "PRAGMA synchronous = NORMAL",
                "PRAGMA foreign_keys = ON",
            ):
                self._raw.execute(pragma)
        connection = self._raw
        connection.execute("BEGIN IMMEDIATE")
        try:
            result = work(connection)
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        return result

    async def ping(self) -> bool:
        """True if the database answers a trivial query within a couple of seconds."""
        try:
            async with asyncio.timeout(PING_TIMEOUT_SECONDS), self._reader.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            log.warning("database ping failed", exc_info=True)
            return False
        return True

    async def dispose(self) -> None:
        """Close every pooled connection."""
        if self._raw_pool is not None:
            raw, self._raw = self._raw, None
            if raw is not None:
                await asyncio.get_running_loop().run_in_executor(self._raw_pool, raw.close)
            self._raw_pool.shutdown(wait=False)
            self._raw_pool = None
        await self._writer.dispose()
        if self._reader is not self._writer:
            await self._reader.dispose()


def migration_engine(url: str | URL) -> AsyncEngine:
    """A throwaway engine for running migrations (no pool; SQLite writes under BEGIN IMMEDIATE)."""
    parsed = async_url(url)
    engine = create_async_engine(parsed, poolclass=NullPool)
    if parsed.get_backend_name() == "sqlite":
        configure_sqlite(engine.sync_engine, begin="BEGIN IMMEDIATE")
    return engine

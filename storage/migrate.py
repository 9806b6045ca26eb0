"""Schema migrations, run in code: ``upgrade(url)`` at start-up or from ``tapaamo db upgrade``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from storage.db import ensure_sqlite_directory, migration_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str) -> Config:
    """An Alembic configuration with no ini file, pointing at this package's migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Passed as an attribute, not an option: configparser would read a '%' in a password as
    # interpolation.
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema at ``database_url`` up to ``revision``.

    Synchronous. The async driver needs an event loop, so Alembic runs on one of its own: here
    when no loop is running, else in a helper thread (blocking the caller's loop meanwhile; from
    async code prefer :func:`upgrade_async`).
    """
    ensure_sqlite_directory(database_url)
    _outside_loop(command.upgrade, alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    """Take the schema back to ``revision`` (``"base"`` drops every table)."""
    _outside_loop(command.downgrade, alembic_config(database_url), revision)


def _outside_loop(fn: Callable[[Config, str], None], config: Config, revision: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        fn(config, revision)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="migrate") as pool:
        pool.submit(fn, config, revision).result()


async def upgrade_async(database_url: str, revision: str = "head") -> None:
    """:func:`upgrade` from async code: Alembic runs in a worker thread with a loop of its own."""
    await asyncio.to_thread(upgrade, database_url, revision)


def head_revision() -> str | None:
    """The newest revision the code knows."""
    return ScriptDirectory.from_config(alembic_config("")).get_current_head()


async def current_revision(database_url: str) -> str | None:
    """The revision the database is at (None before the first migration)."""

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    engine = migration_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(read)
    finally:
        await engine.dispose()

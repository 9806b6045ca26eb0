"""Alembic environment: async engines (aiosqlite, asyncpg), configuration built in code.

The URL comes from ``config.attributes["database_url"]`` (storage.migrate), else from the
``sqlalchemy.url`` option, else from ``TAPAAMO_DATABASE_URL``. Logging is left to the application.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import pkgutil

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

import storage
from storage.db import async_url, ensure_sqlite_directory, migration_engine
from storage.models import Base

# Every module named *models registers its tables on Base; autogenerate has to see them all.
for _module in pkgutil.iter_modules(storage.__path__):
    if _module.name.endswith("models"):
        importlib.import_module(f"storage.{_module.name}")

config = context.config
target_metadata = Base.metadata

# Any constant will do: it only has to be the same for every instance of the bot.
_PG_MIGRATION_LOCK = 0x7A_AA_40


def _database_url() -> str:
    url = (
        config.attributes.get("database_url")
        or config.get_main_option("sqlalchemy.url")
        or os.environ.get("TAPAAMO_DATABASE_URL")
    )
    if not url:
        raise RuntimeError("no database URL given to the migrations")
    return async_url(url).render_as_string(hide_password=False)


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # pysqlite was what made SQLite DDL non-transactional; our own BEGIN makes it whole again,
        # so a failed migration leaves nothing half done on either backend.
        transactional_ddl=True,
    )


def _run(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Two instances starting at once: the second waits, then finds nothing to do.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        context.run_migrations()


async def _run_async(url: str) -> None:
    ensure_sqlite_directory(url)
    engine = migration_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


def _run_offline() -> None:
    context.configure(url=_database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    _run_offline()
elif (given := config.attributes.get("connection")) is not None:
    _run(given)
else:
    asyncio.run(_run_async(_database_url()))

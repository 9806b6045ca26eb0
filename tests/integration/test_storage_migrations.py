"""Migrations: they make the schema the models describe, from any directory, more than once."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

import storage
from storage.db import Database, migration_engine
from storage.migrate import current_revision, downgrade, head_revision, upgrade, upgrade_async
from storage.models import Base
from tests.integration.conftest import Backend

TABLES = {"jobs", "conversation_refs", "audit_log", "inbound_activities", "sent_messages"}

# Later features keep their models in storage/*models.py; the comparison must see them all.
for module in pkgutil.iter_modules(storage.__path__):
    if module.name.endswith("models"):
        importlib.import_module(f"storage.{module.name}")


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


async def test_the_migrations_make_the_schema_of_the_models(database: Database, backend: Backend) -> None:
    engine = migration_engine(backend.url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_tables) >= TABLES
            assert await connection.run_sync(_differences) == []
    finally:
        await engine.dispose()


async def test_upgrade_again_changes_nothing(backend: Backend) -> None:
    upgrade(backend.url)

    assert await current_revision(backend.url) == head_revision() is not None


async def test_upgrade_from_inside_a_running_loop(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"

    await upgrade_async(url)

    assert await current_revision(url) == head_revision()


async def test_relative_sqlite_path_from_another_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    upgrade("sqlite:///var/deep/tapaamo.db")

    assert (tmp_path / "var" / "deep" / "tapaamo.db").is_file()
    assert await current_revision("sqlite:///var/deep/tapaamo.db") == head_revision()


async def test_downgrade_to_base_and_up_again(sqlite_url: str) -> None:
    downgrade(sqlite_url, "base")
    assert await current_revision(sqlite_url) is None

    upgrade(sqlite_url)

    engine = migration_engine(sqlite_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_tables) >= TABLES
    finally:
        await engine.dispose()

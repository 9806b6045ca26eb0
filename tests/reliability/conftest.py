"""Fixtures of the reliability tests: the in-process bot, and fresh PostgreSQL databases.

PostgreSQL comes from ``TAPAAMO_TEST_POSTGRES_URL`` (default
postgresql+asyncpg://postgres@127.0.0.1:5432/test); a test that needs it is skipped when the server
cannot be reached, unless ``TAPAAMO_REQUIRE_POSTGRES=1``, which makes that a failure (as in
tests/integration/conftest.py). Databases are named like the integration tests' ones, after the
host and the pid, so that a later session drops those a killed session left behind.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from domain.clock import FakeClock
from tests.support.harness import Harness, running_bot

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
_PREFIX = f"tapaamo_test_{hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]}_"


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    """The whole app in process (dev mode, SQLite file, FakeClock at Mon 5.1.2026 11:00 Helsinki)."""
    async with running_bot(tmp_path, FakeClock()) as harness:
        yield harness


async def _admin(url: str, *statements: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT", connect_args={"timeout": 5})
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """An empty PostgreSQL database made for this test and dropped after it (the bot migrates it)."""
    server = os.environ.get("TAPAAMO_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    name = f"{_PREFIX}{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        asyncio.run(_admin(server, f'CREATE DATABASE "{name}"'))
    except Exception as error:
        shown = make_url(server).render_as_string(hide_password=True)
        reason = f"PostgreSQL not reachable at {shown}: {type(error).__name__}: {error}"
        if os.environ.get("TAPAAMO_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason} (TAPAAMO_REQUIRE_POSTGRES=1)")
        pytest.skip(f"{reason}; set TAPAAMO_TEST_POSTGRES_URL, or TAPAAMO_REQUIRE_POSTGRES=1 to fail")
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

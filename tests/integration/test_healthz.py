"""/healthz when something is wrong: what a load balancer or an operator's probe sees.

- the database stops answering (PostgreSQL behind a local TCP proxy that the test cuts) -> 503;
- the job ticker stops ticking (no tick for longer than it allows; the FakeClock moves on) -> 503;
- a job is dead -> still 200 (the bot works), but ``dead_jobs`` counts it for the operator.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import make_url

from bot.app import PARTS, create_app
from bot.settings import Settings
from domain.clock import FakeClock
from domain.jobs import NewJob
from storage.repositories import SqlJobStore

Client = TestClient[web.Request, web.Application]


def settings_for(database_url: str, **more: Any) -> Settings:
    fields: dict[str, Any] = {"env": "dev", "database_url": database_url, **more}
    return Settings(_env_file=None, **fields)


async def health(client: Client) -> tuple[int, dict[str, Any]]:
    response = await client.get("/healthz")
    return response.status, await response.json()


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a server until :meth:`cut`, which drops every connection."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._pipes: set[asyncio.Task[None]] = set()
        self.port = 0

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        self._writers |= {writer, up_writer}
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pipe(source, sink))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        sink.close()

    async def cut(self) -> None:
        """The database host goes away: no new connection, and the open ones are reset."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in self._writers:
            writer.transport.abort()
        for task in list(self._pipes):
            task.cancel()
        self._writers.clear()


@pytest.fixture
async def proxied_postgres(postgresql_url: str) -> AsyncIterator[tuple[str, TcpProxy]]:
    url = make_url(postgresql_url)
    proxy = await TcpProxy(url.host or "127.0.0.1", url.port or 5432).start()
    try:
        yield url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False), proxy
    finally:
        await proxy.cut()


async def test_an_unreachable_database_is_503(proxied_postgres: tuple[str, TcpProxy]) -> None:
    url, proxy = proxied_postgres
    app = create_app(settings_for(url), clock=FakeClock(), start_ticker=False)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        assert (await health(client))[0] == 200

        await proxy.cut()

        status, body = await health(client)
        assert status == 503
        assert (body["status"], body["database"]) == ("failing", "unreachable")


async def test_a_ticker_that_stopped_ticking_is_503(tmp_path: Path) -> None:
    clock = FakeClock()
    # One tick at start, the next an hour later: after the first, only the FakeClock moves.
    settings = settings_for(f"sqlite+aiosqlite:///{tmp_path / 'tapaamo.db'}", job_tick_seconds=3600.0)
    app = create_app(settings, clock=clock, start_ticker=True)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        ticker = app[PARTS].ticker
        deadline = asyncio.get_running_loop().time() + 10
        while ticker.last_tick is None:  # the first tick runs as the scheduler starts
            assert asyncio.get_running_loop().time() < deadline, "the first tick never came"
            await asyncio.sleep(0.01)
        status, body = await health(client)
        assert (status, body["scheduler"]) == (200, "ok")

        clock.advance(ticker.stale_after + timedelta(seconds=1))

        status, body = await health(client)
        assert status == 503
        assert (body["status"], body["scheduler"], body["database"]) == ("failing", "stopped", "ok")


async def test_a_dead_job_is_counted(tmp_path: Path) -> None:
    clock = FakeClock()
    app = create_app(
        settings_for(f"sqlite+aiosqlite:///{tmp_path / 'tapaamo.db'}"), clock=clock, start_ticker=False
    )
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        jobs = SqlJobStore(app[PARTS].database, clock)
        await jobs.enqueue(NewJob("reminder.send", {"session_id": 1}, clock.now(), "dead:1"))
        await jobs.enqueue(NewJob("reminder.send", {"session_id": 2}, clock.now(), "alive:2"))
        [dead, _] = await jobs.claim_due(clock.now(), 2, clock.now() + timedelta(minutes=2))
        await jobs.fail(dead.id, "ConnectorError: 403", None)

        status, body = await health(client)

    assert status == 200
    assert body["dead_jobs"] == 1
    assert (body["jobs"]["dead"], body["jobs"]["running"]) == (1, 1)

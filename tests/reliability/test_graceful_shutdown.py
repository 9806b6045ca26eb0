"""SIGTERM with a turn under way: the turn finishes and is answered, nothing new is let in, exit 0.

The bot runs as ``python -m bot serve`` (dev mode, a free port, SQLite under tmp_path). Its reply to
``help`` goes to a connector of this test that holds the reply until the test lets it go, so
the turn is in flight for exactly as long as the test wants: no sleeps, every wait is on an event or
a poll with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.reliability.support import ROOT, free_port
from tests.support.activities import personal_help

pytestmark = pytest.mark.timeout(90)


class HeldConnector:
    """A Bot Connector that accepts each message only when :attr:`release` is set."""

    def __init__(self) -> None:
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()
        self.received: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> HeldConnector:
        app = web.Application()
        app.router.add_post("/v3/conversations/{conversation}/activities", self._message)
        app.router.add_post("/v3/conversations/{conversation}/activities/{activity}", self._message)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}/"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _message(self, request: web.Request) -> web.Response:
        self.received.append(await request.json())
        self.arrived.set()
        await self.release.wait()
        return web.json_response({"id": f"sent-{next(self._ids)}"})


async def until(what: str, check: Any, timeout: float) -> None:
    """Poll the async ``check`` until it is true, failing after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, f"not within {timeout} s: {what}"
        await asyncio.sleep(0.02)


@pytest.fixture
async def connector() -> AsyncIterator[HeldConnector]:
    async with HeldConnector() as held:
        yield held


async def test_sigterm_finishes_the_turn_under_way_and_refuses_new_connections(
    tmp_path: Path, connector: HeldConnector
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "bot.log"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TAPAAMO_ENV": "dev",
        "TAPAAMO_APP_ID": "",
        "TAPAAMO_PORT": str(port),
        "TAPAAMO_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'tapaamo.db'}",
        "TAPAAMO_SHUTDOWN_GRACE_SECONDS": "60",
    }
    turn: asyncio.Task[aiohttp.ClientResponse] | None = None
    with log_path.open("wb") as log:
        bot = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "serve", cwd=tmp_path, env=env, stdout=log, stderr=log
        )
    try:
        async with aiohttp.ClientSession() as session:

            async def healthy() -> bool:
                assert bot.returncode is None, log_path.read_text()
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(url + "/healthz") as response:
                        return response.status == 200
                return False

            await until("the bot answers /healthz", healthy, 30)

            activity = personal_help(connector.url, "slow-1")
            turn = asyncio.create_task(session.post(url + "/api/messages", json=activity))
            async with asyncio.timeout(20):
                await connector.arrived.wait()  # the turn is sending its reply: in flight

            bot.send_signal(signal.SIGTERM)

            async def refused() -> bool:
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", port)
                except (ConnectionRefusedError, ConnectionResetError):
                    # Reset: the attempt came in as the listening socket closed.
                    return True
                writer.close()
                return False

            await until("new connections are refused", refused, 10)
            assert not turn.done(), "the turn ended before its reply was delivered"
            assert bot.returncode is None, "the bot exited with a turn in flight"

            connector.release.set()
            async with asyncio.timeout(20):
                response = await turn
                status = response.status
                response.release()
        async with asyncio.timeout(30):
            code = await bot.wait()
    finally:
        if turn is not None and not turn.done():
            turn.cancel()
        if bot.returncode is None:
            bot.kill()
            await bot.wait()

    assert status == 200, log_path.read_text()
    assert code == 0, log_path.read_text()
    [reply] = connector.received
    assert reply["replyToId"] == "slow-1"

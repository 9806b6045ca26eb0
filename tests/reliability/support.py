"""What the reliability tests share: the real bot as a subprocess, a Teams-like client, row counts.

`BotProcess` runs ``python -m bot serve`` (dev mode, no authentication) on a free port with the
environment a test gives it, and can kill it with SIGKILL and start it again on the same database.
`TeamsClient` posts activities the way the Bot Connector does: an activity that gets no answer
(the process died, the port is closed, a 5xx) is delivered again with the same id until it gets a
2xx, which is Teams' redelivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import socket
import sqlite3
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.fakes.connector import FakeConnector, Received

ROOT = Path(__file__).resolve().parents[2]
BOT = {"id": "28:tapaamo-bot", "name": "Tapaamo"}
TENANT = "tenant-1"
CARD = "application/vnd.microsoft.card.adaptive"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def user(n: int, name: str | None = None) -> dict[str, str]:
    return {"id": f"29:user-{n}", "name": name or f"User {n}", "aadObjectId": f"aad-{n:04d}"}


COORDINATOR = user(1, "Aino Coordinator")


class Activities:
    """Bot Framework activities as Teams sends them; ids are unique unless a test repeats one."""

    def __init__(self, service_url: str, prefix: str = "act") -> None:
        self.service_url = service_url
        self._prefix = prefix
        self._ids = itertools.count(1)

    def next_id(self) -> str:
        return f"{self._prefix}-{next(self._ids)}"

    def make(
        self,
        kind: str = "message",
        *,
        sender: dict[str, str] | None = None,
        conversation: str = "19:group-chat",
        conversation_type: str = "groupChat",
        locale: str = "en-US",
        **fields: Any,
    ) -> dict[str, Any]:
        return {
            "type": kind,
            "id": self.next_id(),
            "channelId": "msteams",
            "serviceUrl": self.service_url,
            "from": sender or COORDINATOR,
            "recipient": BOT,
            "conversation": {"id": conversation, "conversationType": conversation_type, "tenantId": TENANT},
            "channelData": {"tenant": {"id": TENANT}},
            "locale": locale,
            **fields,
        }

    def message(self, text_: str, **kwargs: Any) -> dict[str, Any]:
        return self.make(text=text_, **kwargs)

    def invoke(self, verb: str, data: Any, **kwargs: Any) -> dict[str, Any]:
        value = {"action": {"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual"}
        return self.make("invoke", name="adaptiveCard/action", value=value, **kwargs)


# --- cards ----------------------------------------------------------------------------------------


def cards_of(activity: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        a["content"]
        for a in activity.get("attachments") or []
        if isinstance(a, dict) and a.get("contentType") == CARD
    ]


def actions_of(card: Any) -> Iterator[dict[str, Any]]:
    """Every Action.Execute anywhere in a card (card actions, ActionSets, refresh)."""
    if isinstance(card, dict):
        if card.get("type") == "Action.Execute" and isinstance(card.get("verb"), str):
            yield card
        for value in card.values():
            yield from actions_of(value)
    elif isinstance(card, list):
        for value in card:
            yield from actions_of(value)


def job_key_of(received: Received) -> str | None:
    """The sender key a posted card was sent under, read back from the card itself.

    An announcement carries its session's RSVP button (``announce:<session>``), a poll card its poll
    id (``poll:<poll>``); anything else (a reply, a notice) is None.
    """
    for card in cards_of(received.activity):
        verbs = {a["verb"]: a.get("data") or {} for a in actions_of(card)}
        if "poll.vote" in verbs:
            return f"poll:{verbs['poll.vote']['poll']}"
        if "session.rsvp" in verbs:
            return f"announce:{verbs['session.rsvp']['session']}"
    return None


# --- the database, read directly -------------------------------------------------------------------


def sqlite_rows(path: Path, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """A query on a SQLite file from this process (the bot may be running or dead)."""
    connection = sqlite3.connect(path, timeout=10)
    try:
        return list(connection.execute(query, params).fetchall())
    finally:
        connection.close()


# --- the real bot as a subprocess ------------------------------------------------------------------


@dataclass
class BotProcess:
    """``python -m bot serve`` in a subprocess; `kill` is SIGKILL: no shutdown, no cleanup.

    With ``stale_claim_seconds`` or ``fork_server`` the bot runs through serve_bot.py, which runs
    the same ``bot.cli.main(["serve"])`` with the stale-claim interval shortened, and, with
    ``fork_server``, in a child forked from a process that has imported the bot already: a restart
    then costs the app's start-up (migrations check, database, ticker), not Python's imports.
    """

    database_url: str
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    name: str = "bot"
    stale_claim_seconds: float | None = None
    fork_server: bool = False
    starts: int = 0
    _process: asyncio.subprocess.Process | None = None  # the bot, or the fork server
    _child: int | None = None  # the bot forked by the fork server
    _log: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    async def _spawn(self) -> asyncio.subprocess.Process:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "TAPAAMO_ENV": "dev",
            "TAPAAMO_APP_ID": "",
            "TAPAAMO_DATABASE_URL": self.database_url,
            "TAPAAMO_PORT": str(self.port),
            "TAPAAMO_PUBLIC_URL": self.url,
            "TAPAAMO_LOG_LEVEL": "WARNING",
            "TAPAAMO_SHUTDOWN_GRACE_SECONDS": "1",
            **self.env,
        }
        command = ["-m", "bot", "serve"]
        if self.stale_claim_seconds is not None or self.fork_server:
            command = [str(Path(__file__).with_name("serve_bot.py"))]
            if self.stale_claim_seconds is not None:
                env["RELIABILITY_STALE_CLAIM_SECONDS"] = str(self.stale_claim_seconds)
            if self.fork_server:
                env["RELIABILITY_FORK_SERVER"] = "1"
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self._log is None:
            self._log = self.log_path.open("ab")
        # cwd is the test's directory: no .env or var/ of the checkout is read or written.
        return await asyncio.create_subprocess_exec(
            sys.executable,
            *command,
            cwd=self.workdir,
            env=env,
            stdin=asyncio.subprocess.PIPE if self.fork_server else None,
            stdout=asyncio.subprocess.PIPE if self.fork_server else self._log,
            stderr=self._log,
        )

    def running(self) -> bool:
        if self.fork_server:
            return self._child is not None and _alive(self._child)
        return self._process is not None and self._process.returncode is None

    async def start(self, *, ready_timeout: float = 30.0, healthy: bool = True) -> None:
        assert not self.running(), "already running"
        if not self.fork_server:
            self._process = await self._spawn()
        else:
            if self._process is None:
                self._process = await self._spawn()
            assert self._process.stdin is not None
            assert self._process.stdout is not None
            self._process.stdin.write(b"serve\n")
            await self._process.stdin.drain()
            self._child = int(await asyncio.wait_for(self._process.stdout.readline(), ready_timeout))
        self.starts += 1
        await self.wait_ready(ready_timeout, healthy=healthy)

    async def wait_ready(self, timeout: float, *, healthy: bool = True) -> None:
        """Until /healthz answers 200 (database reachable, first tick of the job worker done), or
        with ``healthy`` False until it answers at all (the app is up and takes requests)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with aiohttp.ClientSession() as session:
            while True:
                if not self.running():
                    raise AssertionError(f"{self.name} exited: {self.tail()}")
                try:
                    async with session.get(
                        self.url + "/healthz", timeout=aiohttp.ClientTimeout(total=2)
                    ) as r:
                        if r.status == 200 or not healthy:
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass
                if loop.time() > deadline:
                    raise AssertionError(f"{self.name} not ready in {timeout} s: {self.tail()}")
                await asyncio.sleep(0.02)

    async def kill(self) -> None:
        """SIGKILL, and wait until the process is gone."""
        if not self.fork_server:
            if self._process is not None and self._process.returncode is None:
                self._process.send_signal(signal.SIGKILL)
                await self._process.wait()
                assert self._process.returncode == -signal.SIGKILL
            return
        if self._child is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._child, signal.SIGKILL)
            while _alive(self._child):  # the fork server's kernel reaps it (SIGCHLD ignored)
                await asyncio.sleep(0.005)
            self._child = None

    async def stop(self) -> None:
        await self.kill()
        if self.fork_server and self._process is not None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            try:
                await asyncio.wait_for(self._process.wait(), 5)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def kill9_bot(db_file: Path, workdir: Path, stale_claim_seconds: float = 1.0) -> BotProcess:
    """The bot of the kill -9 tests: on SQLite at ``db_file``, jobs ticked every 0.05 s with a 1 s
    lease, a claim stale after ``stale_claim_seconds``, restarted through the fork server."""
    return BotProcess(
        f"sqlite+aiosqlite:///{db_file}",
        workdir,
        env={"TAPAAMO_JOB_TICK_SECONDS": "0.05", "TAPAAMO_JOB_LEASE_SECONDS": "1"},
        stale_claim_seconds=stale_claim_seconds,
        fork_server=True,
    )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Delivery:
    status: int
    body: Any
    attempts: int
    retry_after: float | None = None


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


class TeamsClient:
    """Posts activities to one or more bot addresses; retries like the Bot Connector.

    A delivery that fails (connection refused or reset, a timeout, a 5xx) is sent again, with the
    same activity id, until a 2xx answer; with several addresses each attempt goes to the next one
    (a load balancer's round robin).
    """

    def __init__(
        self, urls: Callable[[], Sequence[str]], *, timeout: float = 10.0, pause: float = 0.05
    ) -> None:
        self._urls = urls
        self._turn = itertools.count()
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._pause = pause
        self._session: aiohttp.ClientSession | None = None
        self.attempts = 0
        self.failed_attempts = 0

    async def __aenter__(self) -> TeamsClient:
        self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._session is not None
        await self._session.close()

    def next_url(self) -> str:
        urls = self._urls()
        return urls[next(self._turn) % len(urls)]

    async def once(self, activity: dict[str, Any], url: str | None = None) -> Delivery:
        """One attempt, no retry; status 0 when there was no answer at all."""
        assert self._session is not None
        self.attempts += 1
        try:
            async with self._session.post((url or self.next_url()) + "/api/messages", json=activity) as r:
                raw = await r.text()
                body = await r.json(content_type=None) if raw else None
                delivery = Delivery(r.status, body, 1)
                delivery.retry_after = _seconds(r.headers.get("Retry-After"))
                return delivery
        except (aiohttp.ClientError, TimeoutError, ConnectionError):
            return Delivery(0, None, 1)

    async def deliver(self, activity: dict[str, Any], *, give_up_after: float = 60.0) -> Delivery:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + give_up_after
        attempts = 0
        while True:
            attempts += 1
            answer = await self.once(activity)
            if 200 <= answer.status < 300:
                return Delivery(answer.status, answer.body, attempts)
            self.failed_attempts += 1
            if 400 <= answer.status < 500:
                raise AssertionError(f"{activity.get('id')} refused with {answer.status}: {answer.body}")
            if loop.time() > deadline:
                raise AssertionError(f"{activity.get('id')} not delivered in {give_up_after} s")
            # as the Bot Connector: a Retry-After is honoured (up to a second here), else a short pause
            await asyncio.sleep(min(answer.retry_after, 1.0) if answer.retry_after else self._pause)


async def wait_until(
    condition: Callable[[], Awaitable[bool]], what: str, timeout: float = 30.0, every: float = 0.05
) -> None:
    """Poll another process's effects (it cannot be awaited directly)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(every)


def posts_by_key(connector: FakeConnector) -> dict[tuple[str, str], list[Received]]:
    """The connector's accepted proactive posts, grouped by (conversation, sender key).

    A post whose body never arrived (the bot was killed mid-request: the fake records the arrival
    before it reads the body) is no message and is left out.
    """
    grouped: dict[tuple[str, str], list[Received]] = {}
    for received in connector.received:
        if received.kind != "send" or not received.activity:
            continue
        key = job_key_of(received)
        if key is not None:
            grouped.setdefault((received.conversation_id, key), []).append(received)
    return grouped

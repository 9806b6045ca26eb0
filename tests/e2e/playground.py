"""Driving the real bot through the Microsoft 365 Agents Playground, the offline Teams client.

Two child processes: the bot (``python -m bot serve`` in dev mode on a temporary SQLite file) and
the Playground (``node_modules/.bin/agentsplayground``), each on a free port of its own, with a
generated config (:data:`ROSTER`). :class:`PlaygroundClient` plays the Teams users through the
Playground's HTTP API and reads what the bot sent from its two WebSockets:

- the turn log ``/_ws/log/stream``: every activity the bot POSTed to the Playground's connector,
  whole, with the connector's answer (``201 {id}``) and, after the bot answered it, every activity
  the Playground sent to the bot with the bot's HTTP status;
- the conversation stream ``/_ws_conversation/v1/conversations/stream``: the messages as the chat
  UI shows them, with the Playground's message ids (needed as ``replyToId`` of a card button when
  the bot sent text and cards in one activity, which the Playground splits into one message each).

Both sockets are opened once and read into buffers from the start, so a reply that comes before
the test starts waiting for it is not lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
PLAYGROUND_BIN = REPO / "node_modules" / ".bin" / "agentsplayground"
CARD = "application/vnd.microsoft.card.adaptive"


# --------------------------------------------------------------------------------------------
# The people and chats of the emulated tenant
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    id: str
    name: str
    aad_object_id: str

    def account(self) -> dict[str, str]:
        """The ``from`` of an activity this user sends."""
        return {"id": self.id, "name": self.name, "aadObjectId": self.aad_object_id}


def _user(key: str, name: str, n: int) -> User:
    return User(f"29:e2e-{key}", name, f"0e2e0000-0000-4000-8000-{n:012d}")


AINO = _user("aino", "Aino Virtanen", 1)
MIKKO = _user("mikko", "Mikko Korhonen", 2)
EBBA = _user("ebba", "Ebba Lindqvist", 3)
JOHANNA = _user("johanna", "Johanna Nieminen", 4)
OSKAR = _user("oskar", "Oskar Holmberg", 5)
ELINA = _user("elina", "Elina Mäkelä", 6)


@dataclass(frozen=True)
class Roster:
    """The tenant the Playground emulates: the bot, ``me`` (the current user) and five others.

    The Playground delivers every message typed through its messages API as ``me``; the others
    speak through custom activities (``send_text(from_user=...)`` does that) and press buttons.
    Everyone is a member of the group chat and of the team.
    """

    tenant_id: str = "0e2e0000-0000-4000-8000-00000000000a"
    bot_id: str = "28:0e2e0000-0000-4000-8000-0000000000b0"
    bot_name: str = "Tapaamo"
    me: User = AINO
    others: tuple[User, ...] = (MIKKO, EBBA, JOHANNA, OSKAR, ELINA)
    personal_chat_id: str = "a:e2e-personal-chat"
    group_chat_id: str = "19:e2e-group-chat@thread.v2"
    group_chat_name: str = "Taloustorstai-porukka"
    team_id: str = "19:e2e-team@thread.tacv2"
    team_name: str = "Avoimet verkostot"
    team_aad_group_id: str = "0e2e0000-0000-4000-8000-0000000000c1"
    # The Playground adds the team's General channel (id = team id) to this one.
    channel_id: str = "19:e2e-channel-kokoukset@thread.tacv2"
    channel_name: str = "Kokoukset"

    @property
    def users(self) -> tuple[User, ...]:
        return (self.me, *self.others)

    def user(self, key: str | User) -> User:
        """A user by id, by name or by first name (case-insensitive)."""
        if isinstance(key, User):
            return key
        for user in self.users:
            if key in (user.id, user.name) or key.casefold() == user.name.split()[0].casefold():
                return user
        raise KeyError(f"no user {key!r} in the Playground roster")

    def config(self) -> dict[str, Any]:
        """The Playground's config file (schema 0.1.1: exactly five ``users``) as a dict."""

        def entry(user: User) -> dict[str, str]:
            given, surname = user.name.split(" ", 1)
            mail = f"{given}.{surname}@e2e.tapaamo.example".lower()
            return {
                "id": user.id,
                "name": user.name,
                "userPrincipleName": mail,  # the schema's spelling
                "aadObjectId": user.aad_object_id,
                "givenName": given,
                "surname": surname,
                "email": mail,
            }

        return {
            "version": "0.1.1",
            "tenantId": self.tenant_id,
            "bot": {"id": self.bot_id, "name": self.bot_name},
            "currentUser": entry(self.me),
            "users": [entry(user) for user in self.others],
            "personalChat": {"id": self.personal_chat_id},
            "groupChat": {"id": self.group_chat_id, "name": self.group_chat_name},
            "team": {
                "id": self.team_id,
                "name": self.team_name,
                "aadGroupId": self.team_aad_group_id,
                "channels": [{"id": self.channel_id, "name": self.channel_name}],
            },
        }


ROSTER = Roster()


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------


class E2EUnavailable(Exception):
    """Node, npm or the Playground is not installed: the e2e tests cannot run here."""


class StartupError(Exception):
    """A child process did not come up; the message holds the tail of its log."""


def missing_tools() -> str | None:
    """Why the e2e tests cannot run on this machine, or None when they can."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            return f"{tool} is not on PATH (install Node.js 20+ and run `npm ci`)"
    if not os.access(PLAYGROUND_BIN, os.X_OK):
        return f"{PLAYGROUND_BIN.relative_to(REPO)} is missing (run `npm ci` in the repository)"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_in_use(port: int) -> bool:
    """True when something accepts connections on the port (on any local address)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        return f"({path} unreadable: {error})"
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"


@dataclass
class ChildProcess:
    """A child in a process group of its own, its output in a log file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    cwd: Path = REPO
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as out:
            self.process = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        log.info("started %s (pid %s): %s", self.name, self.process.pid, " ".join(self.argv))

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def tail(self, lines: int = 40) -> str:
        return tail(self.log_path, lines)

    async def stop(self, grace: float = 10.0) -> int | None:
        """SIGTERM to the whole group, SIGKILL after ``grace`` seconds; returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                await asyncio.to_thread(self.process.wait, grace)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in %.0f s: killing it", self.name, grace)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                await asyncio.to_thread(self.process.wait, 5)
        # Whatever the child left in its group (node spawns helpers) goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        log.info("%s stopped with exit code %s", self.name, self.process.returncode)
        return self.process.returncode


async def _wait_until(
    what: str,
    child: ChildProcess,
    check: Callable[[], Any],
    timeout: float,
) -> None:
    """Await ``check()`` (a coroutine function answering truthy) until it is, bounded in time."""
    deadline = time.monotonic() + timeout
    last_error: object = None
    while time.monotonic() < deadline:
        if child.returncode is not None:
            raise StartupError(
                f"{child.name} exited with code {child.returncode} before {what}.\n"
                f"--- {child.log_path} ---\n{child.tail()}"
            )
        try:
            if await check():
                return
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            last_error = error
        await asyncio.sleep(0.1)
    raise StartupError(
        f"{child.name}: no {what} within {timeout:.0f} s (last error: {last_error!r}).\n"
        f"--- {child.log_path} ---\n{child.tail()}"
    )


def _clean_env() -> dict[str, str]:
    """The environment without the caller's TAPAAMO_* settings (a developer's .env is ignored too)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("TAPAAMO_")}


@dataclass
class Stack:
    """The bot and the Playground, running."""

    bot: ChildProcess
    playground: ChildProcess
    bot_url: str
    playground_url: str
    roster: Roster
    workdir: Path

    def log_tails(self, lines: int = 40) -> dict[str, str]:
        return {
            f"bot log ({self.bot.log_path})": self.bot.tail(lines),
            f"playground log ({self.playground.log_path})": self.playground.tail(lines),
        }

    async def stop(self) -> None:
        await self.playground.stop()
        await self.bot.stop()


async def start_stack(workdir: Path, roster: Roster = ROSTER, *, startup_timeout: float = 60.0) -> Stack:
    """Start the bot, then the Playground pointed at it; both ready when this returns.

    On failure everything started is stopped and :class:`StartupError` tells why, with log tails.
    """
    reason = missing_tools()
    if reason:
        raise E2EUnavailable(reason)
    workdir.mkdir(parents=True, exist_ok=True)
    bot_port = free_port()
    bot_url = f"http://127.0.0.1:{bot_port}"
    env = _clean_env()
    env.update(
        TAPAAMO_ENV="dev",
        TAPAAMO_PORT=str(bot_port),
        TAPAAMO_DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'e2e.db'}",
        TAPAAMO_PUBLIC_URL=bot_url,
        TAPAAMO_APP_ID="",
        TAPAAMO_LOG_LEVEL="INFO",
        TAPAAMO_SHUTDOWN_GRACE_SECONDS="3",
        # Durable jobs (announcements, card updates, polls) run within a fraction of a second.
        TAPAAMO_JOB_TICK_SECONDS="0.2",
        # The current user administers Tapaamo: `overview` and `evaluate` answer her.
        TAPAAMO_ADMINS=json.dumps([roster.me.aad_object_id]),
        PYTHONUNBUFFERED="1",
    )
    bot = ChildProcess("bot", [sys.executable, "-m", "bot", "serve"], env, workdir / "bot.log")

    pg_port = free_port()
    pg_url = f"http://127.0.0.1:{pg_port}"
    config_path = workdir / "playground.yml"
    # JSON is YAML: no YAML library needed to write the Playground's config.
    config_path.write_text(json.dumps(roster.config(), ensure_ascii=False, indent=2), encoding="utf-8")
    pg_env = _clean_env()
    pg_env.update(
        TEAMSAPPTESTER_BROWSER="none",
        M365_AGENTS_PLAYGROUND_CONFIG_PATH=str(config_path),
        M365_AGENTS_PLAYGROUND_LOGFILE=str(workdir / "playground-debug.log"),
    )
    playground = ChildProcess(
        "playground",
        [
            str(PLAYGROUND_BIN),
            "-e",
            f"{bot_url}/api/messages",
            "-p",
            str(pg_port),
            "-c",
            "msteams",
            "--disable-telemetry",
            "--service-url",
            f"{pg_url}/_connector",
        ],
        pg_env,
        workdir / "playground.log",
        cwd=workdir,  # it writes ./devTools/ there when no log file is set
    )
    stack = Stack(bot, playground, bot_url, pg_url, roster, workdir)
    timeout = aiohttp.ClientTimeout(total=2)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as http:

            async def bot_healthy() -> bool:
                async with http.get(f"{bot_url}/healthz") as resp:
                    return resp.status == 200

            async def playground_ready() -> bool:
                # The Playground falls back to a random port when its port is taken: only its
                # own log line says which port it got.
                ports = re.findall(r"Listening on (\d+)", playground.tail(200))
                if not ports:
                    return False
                if int(ports[0]) != pg_port:
                    raise StartupError(
                        f"the Playground listens on {ports[0]}, not on {pg_port} (was it taken?)"
                    )
                async with http.get(f"{pg_url}/_debug/ping") as resp:
                    return resp.status == 200 and (await resp.text()).strip() == "pong"

            bot.start()
            await _wait_until("GET /healthz == 200", bot, bot_healthy, startup_timeout)
            if port_in_use(pg_port):
                raise StartupError(f"port {pg_port} was taken before the Playground could start")
            playground.start()
            await _wait_until("/_debug/ping == pong on its own port", playground, playground_ready, 30)
    except BaseException:
        await stack.stop()
        raise
    log.info("bot at %s, Playground at %s (logs in %s)", bot_url, pg_url, workdir)
    return stack


# --------------------------------------------------------------------------------------------
# The client
# --------------------------------------------------------------------------------------------


class PlaygroundError(Exception):
    """The Playground answered an API call with an error status."""

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        super().__init__(f"{method} {path} answered {status}: {body}")
        self.status = status
        self.body = body


class BotTurnError(AssertionError):
    """The bot answered an activity with an error status instead of replying."""


def _same_conversation(wanted: str, actual: str) -> bool:
    """A channel's id also matches its threads (``<channel>;messageid=<root>``)."""
    return actual == wanted or (";" not in wanted and actual.startswith(wanted + ";messageid="))


def cards(activity: dict[str, Any]) -> list[dict[str, Any]]:
    """The Adaptive Cards (contents) attached to an activity."""
    return [a.get("content") or {} for a in activity.get("attachments") or [] if a.get("contentType") == CARD]


def card_text(card: dict[str, Any]) -> str:
    """Every text of a card (``text``, ``title`` and ``value`` strings), one a line: what a person reads."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            found.extend(node[key] for key in ("text", "title", "value") if isinstance(node.get(key), str))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card.get("body", []))
    walk(card.get("actions", []))
    return "\n".join(found)


def card_actions(card: dict[str, Any]) -> list[dict[str, Any]]:
    """Every action of a card, in its ``actions`` and anywhere in its body (ActionSets)."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("type"), str) and node["type"].startswith("Action."):
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card.get("body", []))
    walk(card.get("actions", []))
    return found


@dataclass
class _Buffers:
    bot_messages: dict[str, deque[dict[str, Any]]] = field(default_factory=dict)
    bot_updates: dict[str, deque[dict[str, Any]]] = field(default_factory=dict)
    turn_errors: dict[str, deque[dict[str, Any]]] = field(default_factory=dict)
    turns: dict[str, deque[dict[str, Any]]] = field(default_factory=dict)
    # Conversation-stream messages from the bot not yet tied to an activity: for ids of split ones.
    shown: dict[str, deque[dict[str, Any]]] = field(default_factory=dict)
    turn_log: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=500))
    notices: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=20))


class PlaygroundClient:
    """Teams users talking to the bot through the Playground, and what the bot sent back.

    Use as ``async with PlaygroundClient(url, roster) as client``; everything is awaited with
    timeouts, never slept.
    """

    def __init__(self, base_url: str, roster: Roster = ROSTER) -> None:
        self.base_url = base_url.rstrip("/")
        self.roster = roster
        self._http: aiohttp.ClientSession | None = None
        self._sockets: list[aiohttp.ClientWebSocketResponse] = []
        self._readers: list[asyncio.Task[None]] = []
        self._buffers = _Buffers()
        self._changed = asyncio.Condition()
        self._broken: str | None = None
        self._closing = False

    # -- lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> PlaygroundClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> None:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        for path, handler in (
            ("/_ws/log/stream", self._on_turn_log),
            ("/_ws_conversation/v1/conversations/stream", self._on_conversation),
        ):
            ws = await self._http.ws_connect(self.base_url + path, heartbeat=20)
            self._sockets.append(ws)
            self._readers.append(asyncio.create_task(self._read(path, ws, handler)))

    async def close(self) -> None:
        self._closing = True
        for ws in self._sockets:
            await ws.close()
        for reader in self._readers:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
        self._sockets.clear()
        self._readers.clear()

    async def _read(
        self, path: str, ws: aiohttp.ClientWebSocketResponse, handler: Callable[[dict[str, Any]], None]
    ) -> None:
        try:
            async for msg in ws:
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    continue
                try:
                    frame = json.loads(msg.data)
                except ValueError:
                    log.warning("%s: not JSON: %.200s", path, msg.data)
                    continue
                handler(frame)
                async with self._changed:
                    self._changed.notify_all()
        finally:
            if not self._closing:
                self._broken = f"{path} closed (code {ws.close_code}, {ws.exception()!r})"
            async with self._changed:
                self._changed.notify_all()

    # -- frames -----------------------------------------------------------------------------------

    def _on_turn_log(self, frame: dict[str, Any]) -> None:
        entry = frame.get("log") or {}
        if frame.get("logAction") != "appendLog":
            return
        if entry.get("type") == "text" and entry.get("level") in ("warning", "error"):
            # e.g. "Cannot connect to your app" (bot down), unsupported card features
            self._buffers.notices.append(entry)
            log.info("Playground %s: %s", entry.get("level"), entry.get("displayText"))
        if entry.get("type") != "bot":
            return
        self._buffers.turn_log.append(entry)
        body = (entry.get("request") or {}).get("body") or {}
        response = entry.get("response") or {}
        status = response.get("statusCode")
        conversation = entry.get("conversationId") or (body.get("conversation") or {}).get("id") or ""
        if entry.get("from") == "User Application":  # the bot calling the Playground's connector
            if entry.get("activityName") == "typing" or body.get("type") != "message":
                return
            if status in (201, 202):
                activity = dict(body)
                ids = [(response.get("body") or {}).get("id") or entry.get("messageId")]
                if not conversation:
                    # A proactive message may leave out its conversation (it is in the URL, which
                    # the log does not show): the conversation stream tells, now or when it shows it.
                    conversation = self._shown_in(ids[0]) or ""
                activity["_playground"] = {"conversation_id": conversation, "message_ids": ids}
                self._buffers.bot_messages.setdefault(conversation, deque()).append(activity)
            elif status is not None and status >= 400:
                self._turn_error(conversation, entry, "the Playground refused a message of the bot")
        else:  # an activity the Playground sent to the bot, logged once the bot answered it
            self._buffers.turns.setdefault(conversation, deque()).append(entry)
            if not isinstance(status, int) or status >= 400:
                self._turn_error(conversation, entry, f"the bot answered a {entry.get('activityName')} with")

    def _turn_error(self, conversation: str, entry: dict[str, Any], what: str) -> None:
        response = entry.get("response") or {}
        log.warning("%s %s: %.500s", what, response.get("statusCode"), response.get("body"))
        self._buffers.turn_errors.setdefault(conversation, deque()).append(entry)

    def _on_conversation(self, frame: dict[str, Any]) -> None:
        message = frame.get("message") or {}
        conversation = frame.get("actionConversationId") or ""
        if (message.get("from") or {}).get("id") != self.roster.bot_id:
            return
        if frame.get("action") == "createMessage":
            self._buffers.shown.setdefault(conversation, deque(maxlen=200)).append(message)
            self._place(conversation, message.get("messageId"))
        elif frame.get("action") == "updateMessage":
            update = {
                "id": message.get("messageId"),
                "text": message.get("text"),
                "attachments": message.get("attachments") or [],
            }
            self._buffers.bot_updates.setdefault(conversation, deque()).append(update)

    def _shown_in(self, message_id: str | None) -> str | None:
        """The conversation the stream showed a bot message in, by the Playground's message id."""
        for conversation, shown in self._buffers.shown.items():
            if message_id and any(m.get("messageId") == message_id for m in shown):
                return conversation
        return None

    def _place(self, conversation: str, message_id: str | None) -> None:
        """Move a bot message logged without a conversation to the one the stream shows it in."""
        unplaced = self._buffers.bot_messages.get("") or deque()
        for activity in unplaced:
            meta = activity["_playground"]
            if message_id and meta["message_ids"][0] == message_id:
                unplaced.remove(activity)
                meta["conversation_id"] = conversation
                self._buffers.bot_messages.setdefault(conversation, deque()).append(activity)
                return

    # -- waiting ---------------------------------------------------------------------------------

    async def _wait_for(
        self,
        where: str,
        in_conversation: Callable[[str], bool],
        queues: dict[str, deque[dict[str, Any]]],
        what: str,
        timeout: float,
        wanted: Callable[[dict[str, Any]], bool] = lambda _: True,
    ) -> dict[str, Any]:
        """Take the first buffered item of a matching conversation, waiting for one if need be.

        A turn the bot failed in such a conversation raises :class:`BotTurnError` instead.
        """

        def ready() -> dict[str, Any] | None:
            for key, queue in queues.items():
                if in_conversation(key):
                    for item in queue:
                        if wanted(item):
                            queue.remove(item)
                            return item
            for key, errors in self._buffers.turn_errors.items():
                if errors and in_conversation(key):
                    entry = errors.popleft()
                    raise BotTurnError(
                        f"waiting for {what} {where}: {entry.get('activityName')} in {key} answered "
                        f"{json.dumps(entry.get('response'), ensure_ascii=False)[:1000]}"
                    )
            if self._broken:
                raise ConnectionError(f"Playground WebSocket: {self._broken}")
            return None

        try:
            async with asyncio.timeout(timeout), self._changed:
                while (found := ready()) is None:
                    await self._changed.wait()
                return found
        except TimeoutError:
            recent = [
                f"{e.get('activityName')} {e.get('from')} -> {e.get('to')} "
                f"[{e.get('conversationId')}] {(e.get('response') or {}).get('statusCode')}"
                for e in list(self._buffers.turn_log)[-8:]
            ]
            notices = [
                f"{e.get('level')} [{e.get('conversationId')}]: {e.get('displayText')}"
                for e in list(self._buffers.notices)[-5:]
            ]
            raise TimeoutError(
                f"no {what} {where} within {timeout} s; last turns:\n  "
                + ("\n  ".join(recent) or "(none)")
                + ("\nPlayground warnings:\n  " + "\n  ".join(notices) if notices else "")
            ) from None

    async def next_bot_message(
        self,
        conversation_id: str,
        timeout: float = 15.0,
        wanted: Callable[[dict[str, Any]], bool] | None = None,
    ) -> dict[str, Any]:
        """The next new message the bot sent to the conversation (or to a thread of the channel).

        Returns the activity as the bot sent it (``text``, ``attachments``, ``locale``…) with
        ``id`` set to the Playground's message id to use as ``replyToId`` (that of its first card
        when it has one). Raises :class:`BotTurnError` if the bot answered an activity of that
        conversation with an error, and ``TimeoutError`` if nothing came.

        ``wanted``: take the first message it accepts instead, leaving the others buffered (e.g. a
        durable job's post among replies, or among what an earlier test's jobs still send).
        """
        activity = await self._wait_for(
            f"in {conversation_id}",
            lambda key: _same_conversation(conversation_id, key),
            self._buffers.bot_messages,
            "bot message",
            timeout,
            wanted or (lambda _: True),
        )
        return await self._with_id(activity)

    async def next_bot_message_to(self, user: str | User, timeout: float = 15.0) -> dict[str, Any]:
        """The next message the bot sent to a user's 1:1 chat, whatever its id (a proactive
        message to anyone but ``me`` goes to a new ``<guid>@test.user`` chat)."""
        account = self.roster.user(user)
        return await self._with_id(
            await self._wait_for(
                f"to {account.name}",
                lambda key: not key.startswith("19:"),
                self._buffers.bot_messages,
                "bot message",
                timeout,
                lambda activity: (
                    (activity.get("recipient") or {}).get("id") == account.id
                    or activity["_playground"]["conversation_id"] in self._chats_of(account)
                ),
            )
        )

    def _chats_of(self, user: User) -> set[str]:
        """1:1 chats the bot created with a user (``createConversation`` in the turn log)."""
        chats = {self.roster.personal_chat_id} if user == self.roster.me else set()
        for entry in self._buffers.turn_log:
            if entry.get("activityName") != "createConversation":
                continue
            members = ((entry.get("request") or {}).get("body") or {}).get("members") or []
            created = (entry.get("response") or {}).get("body") or {}
            if any(member.get("id") == user.id for member in members) and isinstance(created, dict):
                chats.add(str(created.get("id")))
        return chats

    async def _with_id(self, activity: dict[str, Any]) -> dict[str, Any]:
        meta = activity["_playground"]
        if not meta["message_ids"][0]:
            meta["message_ids"] = await self._split_message_ids(meta["conversation_id"], activity)
        else:  # tied already: drop its shown copy, so a later identical card cannot match it
            shown = self._buffers.shown.get(meta["conversation_id"]) or deque()
            for message in [m for m in shown if m.get("messageId") in meta["message_ids"]]:
                shown.remove(message)
        parts = meta["message_ids"]
        # A text-and-cards activity becomes [text, card, card...]: point at the first card.
        activity["id"] = parts[1] if activity.get("text") and len(parts) > 1 else parts[0]
        return activity

    async def next_bot_update(
        self,
        conversation_id: str,
        timeout: float = 15.0,
        wanted: Callable[[dict[str, Any]], bool] | None = None,
    ) -> dict[str, Any]:
        """The next message the bot updated in place (PUT): ``{id, text, attachments}``; with
        ``wanted``, the first update it accepts (the others stay buffered)."""
        return await self._wait_for(
            f"in {conversation_id}",
            lambda key: _same_conversation(conversation_id, key),
            self._buffers.bot_updates,
            "bot update",
            timeout,
            wanted or (lambda _: True),
        )

    async def next_turn(
        self,
        conversation_id: str,
        timeout: float = 15.0,
        wanted: Callable[[dict[str, Any]], bool] | None = None,
    ) -> dict[str, Any]:
        """The next activity the Playground delivered to the bot in the conversation, once the bot
        has answered it: the turn-log entry (``activityName``, ``request.body`` the activity,
        ``response.statusCode``). Everything the bot sent during that turn is buffered by then.
        With ``wanted``, the first such entry it accepts (the others stay buffered)."""
        entry = await self._wait_for(
            f"in {conversation_id}",
            lambda key: _same_conversation(conversation_id, key),
            self._buffers.turns,
            "finished turn",
            timeout,
            wanted or (lambda _: True),
        )
        for errors in self._buffers.turn_errors.values():
            if entry in errors:
                errors.remove(entry)  # reported here, not again by next_bot_message
        return entry

    def pending_bot_messages(self, conversation_id: str) -> list[dict[str, Any]]:
        """Bot messages received for the conversation and not yet taken (without waiting)."""
        return [
            activity
            for key, queue in self._buffers.bot_messages.items()
            if _same_conversation(conversation_id, key)
            for activity in queue
        ]

    async def expect_no_bot_message(self, conversation_id: str, within: float = 1.0) -> None:
        """Assert the bot sends nothing to the conversation for ``within`` seconds."""
        try:
            activity = await self.next_bot_message(conversation_id, timeout=within)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected bot message in {conversation_id}: {activity.get('text')!r}")

    def discard_pending(self) -> int:
        """Forget every bot message, update, turn and error not waited for yet; returns how many
        bot messages, updates and errors there were."""
        buffers = self._buffers
        count = 0
        for queues in (buffers.bot_messages, buffers.bot_updates, buffers.turn_errors):
            for queue in queues.values():
                count += len(queue)
                queue.clear()
        for queue in buffers.turns.values():
            queue.clear()
        return count

    async def _split_message_ids(self, conversation: str, activity: dict[str, Any]) -> list[str]:
        """The Playground's ids of the messages it split an activity into (text first, then cards)."""
        wanted: list[tuple[str | None, list[dict[str, Any]]]] = []
        if activity.get("text"):
            wanted.append((activity["text"], []))
        wanted += [(None, [attachment]) for attachment in activity.get("attachments") or []]

        def take() -> list[str] | None:
            shown = self._buffers.shown.get(conversation) or deque()
            ids: list[str] = []
            used: list[dict[str, Any]] = []
            for text, attachments in wanted:
                match = next(
                    (
                        m
                        for m in shown
                        if m not in used
                        and (m.get("text") or None) == text
                        and (m.get("attachments") or []) == attachments
                    ),
                    None,
                )
                if match is None:
                    return None
                used.append(match)
                ids.append(match["messageId"])
            for match in used:
                shown.remove(match)
            return ids

        try:
            async with asyncio.timeout(2), self._changed:
                while (ids := take()) is None:
                    await self._changed.wait()
                return ids
        except TimeoutError:
            # Other users' 1:1 chats are not on the conversation stream: no ids to be had.
            log.warning("no Playground message ids for a split activity in %s", conversation)
            return [""] * len(wanted)

    # -- acting as users ---------------------------------------------------------------------------

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        assert self._http is not None, "use `async with PlaygroundClient(...)`"
        async with self._http.request(method, self.base_url + path, **kwargs) as resp:
            text = await resp.text()
            try:
                body: Any = json.loads(text) if text else None
            except ValueError:
                body = text
            if resp.status >= 300:
                raise PlaygroundError(method, path, resp.status, body)
            return body

    async def send_text(
        self,
        conversation_id: str,
        text: str,
        from_user: str | User | None = None,
        mention_bot: bool = False,
        *,
        locale: str | None = None,
    ) -> str:
        """A user types ``text`` into the chat; returns the conversation id the bot is told.

        In a group chat or channel the bot hears a message only when it is @mentioned:
        ``mention_bot=True`` writes ``<at>Tapaamo</at> text`` with the mention entity, as Teams
        does. In a channel every new message starts a thread, and the id returned is that thread's
        (``<channel>;messageid=<id>``; ``next_bot_message`` on the channel id finds it too).

        The Playground's chat box always sends as ``roster.me``, in locale en-US. For anyone else
        (``from_user``: a :class:`User`, id, name or first name) or another ``locale`` the message
        goes as a custom activity instead, which the chat UI does not show.
        """
        user = self.roster.user(from_user) if from_user is not None else self.roster.me
        mentions: list[dict[str, Any]] = []
        if mention_bot:
            tag = f"<at>{self.roster.bot_name}</at>"
            text = f"{tag} {text}"
            mentions = [{"mentioned": {"id": self.roster.bot_id, "name": self.roster.bot_name}, "text": tag}]
        if user != self.roster.me or locale is not None:
            activity = await self.activity_template(conversation_id)
            activity.update(
                type="message",
                text=text,
                textFormat="plain",
                **{"from": user.account()},
                locale=locale or "en-US",
                entities=[{"type": "mention", **mention} for mention in mentions]
                + [{"type": "clientInfo", "locale": locale or "en-US", "country": "FI", "platform": "Web"}],
            )
            await self.send_custom_activity(activity)
            return conversation_id
        payload: dict[str, Any] = {"from": {"id": user.id}, "text": text, "textFormat": "plain"}
        if mentions:
            payload["mentions"] = mentions
        answer = await self._call(
            "POST",
            f"/_conversation/v1/conversations/{quote(conversation_id, safe='')}/messages",
            json=payload,
        )
        return str((answer or {}).get("postConversationId") or conversation_id)

    async def activity_template(self, conversation_id: str, kind: str | None = None) -> dict[str, Any]:
        """The Playground's base activity for a conversation, ``serviceUrl`` etc. filled in.

        ``kind``: None, ``"install"`` (installationUpdate add), ``"botAdded"`` or ``"userAdded"``
        (conversationUpdate with membersAdded). It has a fresh ``id``; ``botAdded`` has no locale.
        """
        params = {"conversationId": conversation_id}
        if kind:
            params["type"] = kind
        template: dict[str, Any] = await self._call(
            "GET", "/_internal/v1/customActivities/template", params=params
        )
        return template

    async def send_custom_activity(self, activity: dict[str, Any]) -> None:
        """Send any activity to the bot. The Playground answers at once; the bot's status shows
        up in the turn log (a failure raises in the next ``next_bot_message`` of that chat)."""
        await self._call("POST", "/_internal/v1/customActivities", json=activity)

    async def send_meeting_event(
        self,
        conversation_id: str,
        name: str,
        value: dict[str, Any],
        meeting_id: str,
        from_user: str | User | None = None,
    ) -> dict[str, Any]:
        """A Teams meeting event in a chat, as Teams sends it: ``name`` is ``meetingStart``,
        ``meetingEnd``, ``meetingParticipantJoin`` or ``meetingParticipantLeave``, ``value`` e.g.
        ``{Id, JoinUrl, Title, StartTime}`` or ``{members: [...]}``, ``meeting_id`` goes to
        ``channelData.meeting.id``. Returns the activity sent (send it again for a redelivery:
        same id)."""
        user = self.roster.user(from_user) if from_user is not None else self.roster.me
        activity = await self.activity_template(conversation_id)
        activity.update(
            type="event",
            name=f"application/vnd.microsoft.{name}",
            value=value,
            channelData={"tenant": {"id": self.roster.tenant_id}, "meeting": {"id": meeting_id}},
            **{"from": user.account()},
        )
        await self.send_custom_activity(activity)
        return activity

    def meeting_member(self, user: str | User) -> dict[str, Any]:
        """One entry of a participant event's ``value.members``: the user, in the meeting."""
        account = self.roster.user(user)
        return {
            "user": {**account.account(), "tenantId": self.roster.tenant_id},
            "meeting": {"inMeeting": True},
        }

    async def invoke(
        self,
        conversation_id: str,
        reply_to_id: str,
        verb: str,
        data: dict[str, Any] | None = None,
        from_user: str | User | None = None,
    ) -> dict[str, Any]:
        """A user presses an ``Action.Execute`` button of the bot's card ``reply_to_id``.

        Returns the Playground's answer, ``{"type": ..., "value": ...}`` (the bot's invoke
        response without its statusCode; the UI swaps a returned card into the message). A bot
        error comes back as :class:`PlaygroundError` 502 ``UserBotError``; a user who is not a
        member of the chat as 400 ``UserNotFound``.
        """
        user = self.roster.user(from_user) if from_user is not None else self.roster.me
        payload = {
            "name": "adaptiveCard/action",
            "from": {"id": user.id},
            "conversation": {"id": conversation_id},
            "replyToId": reply_to_id,
            "value": {
                "action": {"type": "Action.Execute", "verb": verb, "data": data or {}},
                "trigger": "manual",
            },
        }
        result: dict[str, Any] = await self._call("POST", "/_conversation/v1/invoke", json=payload)
        return result

    async def install(self, conversation_id: str) -> None:
        """The Playground's own "install the app": installationUpdate and conversationUpdate."""
        await self._call("POST", f"/_debug/conversation/{quote(conversation_id, safe='')}/installation")

    async def config(self) -> dict[str, Any]:
        """The Playground's view of the tenant (``GET /_internal/v1/config``)."""
        result: dict[str, Any] = await self._call("GET", "/_internal/v1/config")
        return result

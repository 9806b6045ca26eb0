"""Turns per second: Tapaamo's `help` turn against a stock botbuilder echo bot.

    .venv/bin/python bench/turns.py [--turns-c1 N] [--turns-c50 N] [--profile [TOP]]

Three kinds of process, each on 127.0.0.1:
- a fake Bot Connector that answers every reply with an id and counts them;
- Tapaamo as it runs (`python -m bot`, dev mode, a fresh SQLite file): each `help` turn writes the
  conversation reference and the inbound dedupe row, and posts the help card to the connector;
- a stock echo bot (botbuilder-integration-aiohttp CloudAdapter + ActivityHandler,
  ConfigurationBotFrameworkAuthentication with an empty App ID), in its own interpreter so that
  none of Tapaamo's SDK fixes reach it; it replies through the SDK's msrest connector client.

This process is the load generator (aiohttp). Every turn has its own conversation id. Both bots
send their reply before answering /api/messages, so the latency of a POST includes the reply;
at the end of each run the connector's count must have grown by the number of turns.

Besides latency and throughput, each line gives the CPU time the bot's process used per turn
(from /proc): on a small shared machine throughput moves with whatever else runs, CPU per turn
much less. ``--profile`` samples each bot at c=50 with py-spy (install it into .venv) and prints
where the time goes, by thread, by library and by function.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
ME = str(Path(__file__).resolve())
CONCURRENCIES = (1, 50)
WARMUP_TURNS = 100
STARTUP_TIMEOUT = 30.0


# -- the servers, each run as `python bench/turns.py --serve-...` -------------------------------


def serve_connector(port: int) -> None:
    """A Bot Connector that takes every activity and counts them."""
    from aiohttp import web

    ids = itertools.count(1)
    received = {"activities": 0}

    async def activity(request: web.Request) -> web.Response:
        await request.read()
        received["activities"] += 1
        return web.json_response({"id": f"m{next(ids)}"}, status=201)

    async def count(request: web.Request) -> web.Response:
        return web.json_response(received)

    app = web.Application()
    app.router.add_post("/v3/conversations/{conversation}/activities", activity)
    app.router.add_post("/v3/conversations/{conversation}/activities/{reply_to}", activity)
    app.router.add_get("/count", count)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def serve_echo(port: int) -> None:
    """The Bot Framework echo sample, as it ships (aiohttp + CloudAdapter), without an App ID."""
    from aiohttp import web
    from botbuilder.core import ActivityHandler, MessageFactory, TurnContext
    from botbuilder.core.integration import aiohttp_error_middleware
    from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication

    class Config:
        PORT = port
        APP_ID = ""
        APP_PASSWORD = ""
        APP_TYPE = "MultiTenant"
        APP_TENANTID = ""

    class EchoBot(ActivityHandler):  # type: ignore[misc]  # botbuilder has no type hints
        async def on_message_activity(self, turn_context: TurnContext) -> None:
            text = f"Echo: {turn_context.activity.text}"
            await turn_context.send_activity(MessageFactory.text(text, text))

    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(Config()))
    bot = EchoBot()

    async def messages(request: web.Request) -> web.StreamResponse:
        response = await adapter.process(request, bot)
        return response if response is not None else web.Response(status=201)

    app = web.Application(middlewares=[aiohttp_error_middleware])
    app.router.add_post("/api/messages", messages)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


# -- the load generator --------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of process ``pid`` (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    ready_path: str
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(
    name: str, args: list[str], port: int, ready_path: str, workdir: Path, env: dict[str, str]
) -> Server:
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, *args],
            cwd=workdir,  # no .env of the repository is read
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Server(name, process, f"http://127.0.0.1:{port}", ready_path, log)


async def wait_ready(session: aiohttp.ClientSession, server: Server) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited: {server.log.read_text()[-2000:]}")
        try:
            async with session.request(
                "GET" if server.ready_path != "/api/messages" else "POST", server.url + server.ready_path
            ) as response:
                if response.status < 500:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{server.name} did not start in {STARTUP_TIMEOUT:.0f} s")


@dataclass
class Result:
    bot: str
    concurrency: int
    turns: int
    seconds: float
    latencies: list[float]
    errors: int
    server_cpu: float | None = None  # CPU seconds the bot's process used during the run

    @property
    def cpu_per_turn_ms(self) -> float | None:
        return None if self.server_cpu is None else self.server_cpu / self.turns * 1000

    @property
    def throughput(self) -> float:
        return self.turns / self.seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


class Load:
    def __init__(self, session: aiohttp.ClientSession, connector_url: str) -> None:
        self.session = session
        self.connector_url = connector_url
        self.run_ids = itertools.count(1)

    def activity(self, run: int, n: int, text: str) -> dict[str, Any]:
        return {
            "type": "message",
            "id": f"act-{run}-{n}",
            "timestamp": "2026-01-05T09:00:00.000Z",
            "channelId": "msteams",
            "serviceUrl": self.connector_url + "/",
            "from": {
                "id": f"29:user-{n}",
                "name": "Bench User",
                "aadObjectId": "00000000-0000-0000-0000-000000000001",
            },
            "recipient": {"id": "28:bench-bot", "name": "Tapaamo"},
            "conversation": {"id": f"a:bench-{run}-{n}", "conversationType": "personal", "tenantId": "t-1"},
            "channelData": {"tenant": {"id": "t-1"}},
            "locale": "en-US",
            "text": text,
            "textFormat": "plain",
        }

    async def replies(self) -> int:
        async with self.session.get(self.connector_url + "/count") as response:
            return int((await response.json())["activities"])

    async def run(self, server: Server, concurrency: int, turns: int, text: str) -> Result:
        bot, url = server.name, server.url
        run = next(self.run_ids)
        numbers = iter(range(turns))
        latencies: list[float] = []
        errors = 0
        before = await self.replies()
        cpu_before = cpu_seconds(server.process.pid)

        async def worker() -> None:
            nonlocal errors
            for n in numbers:
                body = self.activity(run, n, text)
                began = time.perf_counter()
                async with self.session.post(url + "/api/messages", json=body) as response:
                    await response.read()
                    if response.status >= 300 and response.status != 201:
                        errors += 1
                latencies.append(time.perf_counter() - began)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - began
        cpu_after = cpu_seconds(server.process.pid)
        cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None
        delivered = await self.replies() - before
        if delivered != turns:
            errors += abs(turns - delivered)
            print(f"  ! {bot}: {delivered} replies for {turns} turns")
        return Result(bot, concurrency, turns, seconds, latencies, errors, cpu)


async def measure(args: argparse.Namespace, workdir: Path) -> list[Result]:
    connector_port, tapaamo_port, echo_port = free_port(), free_port(), free_port()
    connector = start(
        "connector", [ME, "--serve-connector", str(connector_port)], connector_port, "/count", workdir, {}
    )
    servers = [connector]
    results: list[Result] = []
    limits = aiohttp.TCPConnector(limit=200)
    try:
        async with aiohttp.ClientSession(connector=limits) as session:
            await wait_ready(session, connector)
            load = Load(session, connector.url)
            bots = [
                (
                    "tapaamo",
                    ["-m", "bot", "serve"],
                    tapaamo_port,
                    "/healthz",
                    {
                        "TAPAAMO_ENV": "dev",
                        "TAPAAMO_APP_ID": "",
                        "TAPAAMO_PORT": str(tapaamo_port),
                        "TAPAAMO_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'tapaamo.db'}",
                        "TAPAAMO_LOG_LEVEL": "WARNING",
                        "PYTHONPATH": str(ROOT),
                    },
                    "help",
                ),
                ("echo", [ME, "--serve-echo", str(echo_port)], echo_port, "/api/messages", {}, "hello"),
            ]
            for name, command, port, ready, env, text in bots:
                server = start(name, command, port, ready, workdir, env)
                servers.append(server)
                await wait_ready(session, server)
                await load.run(server, 10, WARMUP_TURNS, text)
                for concurrency in CONCURRENCIES:
                    turns = args.turns_c1 if concurrency == 1 else args.turns_c50
                    spy = profile(server, workdir) if args.profile and concurrency == 50 else None
                    result = await load.run(server, concurrency, turns, text)
                    if spy is not None:
                        summarise_profile(spy, args.profile)
                    results.append(result)
                    report_line(result)
                server.stop()
    finally:
        for server in servers:
            server.stop()
    return results


@dataclass
class Spy:
    name: str
    process: subprocess.Popen[bytes]
    output: Path


def profile(server: Server, workdir: Path) -> Spy:
    """Sample ``server`` with py-spy (all threads, GIL holders or not) until the run ends."""
    py_spy = Path(sys.executable).with_name("py-spy")
    if not py_spy.exists():
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    output = workdir / f"{server.name}.folded"
    command = [str(py_spy), "record", "--pid", str(server.process.pid), "--rate", "250", "--threads"]
    command += ["--format", "raw", "--output", str(output), "--nonblocking"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # py-spy attaches
    return Spy(server.name, process, output)


# Where a sample's time goes: the first of these found walking from the top of its stack down.
CATEGORIES = (
    ("sqlite3 + aiosqlite thread", ("aiosqlite/", "sqlite3/")),
    ("SQLAlchemy", ("sqlalchemy/",)),
    ("botbuilder + msrest", ("botbuilder/", "botframework/", "msrest/", "isodate/")),
    ("requests, urllib3, thread pool", ("requests/", "urllib3/", "http/client", "concurrent/futures")),
    ("aiohttp client (replies)", ("aiohttp/client", "aiohttp/connector", "aiohttp/streams")),
    ("aiohttp server", ("aiohttp/",)),
    ("json", ("json/",)),
    ("dialogs: cards, router, i18n", ("dialogs/", "pydantic", "babel/")),
    ("bot/ and storage/ code", ("bot/", "storage/")),
    ("asyncio loop and selectors", ("asyncio/", "selectors")),
)


def category(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, markers in CATEGORIES:
            if any(marker in frame for marker in markers):
                return name
    return "other"


def summarise_profile(spy: Spy, top: int) -> None:
    """Where the sampled time went: per thread, per library, then the busiest functions."""
    spy.process.send_signal(signal.SIGINT)
    spy.process.wait(30)
    categories: dict[str, int] = {}
    leaf: dict[str, int] = {}
    threads: dict[str, int] = {}
    total = 0
    for line in spy.output.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = stack.split(";")
        total += count
        thread = frames[0].split(": ")[-1]
        threads[thread] = threads.get(thread, 0) + count
        kind = category(frames[1:])
        categories[kind] = categories.get(kind, 0) + count
        leaf[frames[-1]] = leaf.get(frames[-1], 0) + count
    if not total:
        print(f"  py-spy recorded nothing for {spy.name}")
        return
    print(f"  py-spy, {spy.name} at c=50: {total} samples of busy threads")
    for title, table, rows in (
        ("threads", threads, 6),
        ("by library", categories, 12),
        ("busiest", leaf, top),
    ):
        print(f"  {title}:")
        for name, count in sorted(table.items(), key=lambda item: -item[1])[:rows]:
            print(f"    {count / total:6.1%}  {name}")


def report_line(result: Result) -> None:
    print(
        f"{result.bot:8} c={result.concurrency:<3} turns={result.turns:<5} "
        f"p50={result.percentile(0.50):7.1f} ms  p99={result.percentile(0.99):7.1f} ms  "
        f"mean={statistics.fmean(result.latencies) * 1000:7.1f} ms  "
        f"{result.throughput:7.1f} turns/s  "
        f"server cpu={result.cpu_per_turn_ms or 0:5.2f} ms/turn  errors={result.errors}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--serve-connector", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--serve-echo", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--turns-c1", type=int, default=300, help="turns at concurrency 1")
    parser.add_argument("--turns-c50", type=int, default=2000, help="turns at concurrency 50")
    parser.add_argument(
        "--profile",
        type=int,
        nargs="?",
        const=30,
        default=0,
        metavar="TOP",
        help="sample each bot at c=50 with py-spy and print its TOP busiest functions",
    )
    args = parser.parse_args()
    if args.serve_connector:
        serve_connector(args.serve_connector)
        return 0
    if args.serve_echo:
        serve_echo(args.serve_echo)
        return 0
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tapaamo-bench-") as workdir:
        results = asyncio.run(measure(args, Path(workdir)))
    by_key = {(r.bot, r.concurrency): r for r in results}
    tapaamo, echo = by_key[("tapaamo", 50)], by_key[("echo", 50)]
    ratio = tapaamo.throughput / echo.throughput
    verdict = "met" if ratio >= 2.0 else "NOT met"
    print(f"throughput ratio tapaamo/echo at c=50: {ratio:.2f} (goal >= 2.0: {verdict})")
    if tapaamo.cpu_per_turn_ms and echo.cpu_per_turn_ms:
        cpu_ratio = echo.cpu_per_turn_ms / tapaamo.cpu_per_turn_ms
        print(f"CPU per turn, echo/tapaamo at c=50: {cpu_ratio:.2f} (~ throughput ratio when CPU-bound)")
    print(f"bench took {time.monotonic() - began:.0f} s")
    failed = any(r.errors for r in results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

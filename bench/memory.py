"""The bot process's memory, idle and after a burst, and how soon after start it answers its first turn.

    .venv/bin/python bench/memory.py [--turns 2000] [--concurrency 50] [--voters 1000]

``python -m bot serve`` (dev mode, no App ID, a SQLite file) is started and, from the moment of the
Popen (this process's clock), /api/messages is sent a ``help`` message every 20 ms until one is
answered 200 (the bot sends its reply to bench/turns.py's counting Bot Connector before answering).
That is the start-up time; goal under 2 s. It is measured twice: the very first start on an empty
database file (the migrations run), and a restart on the migrated one (every deploy).

Idle RSS is read from /proc 3 s after the first answered turn (the ticker has ticked); goal under
150 MB. Then the load of bench/votes.py (a poll opened with ``poll #id``, 1,000 voters in 10 s, 5 %
redelivered) and ``--turns`` help turns at concurrency 50, each from its own conversation, and the
RSS is read again (and the peak, VmHWM).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Process, percentile, result, rss_mb, start_bot, start_connector, wait_http
from votes import burst, open_poll, seed

START_GOAL = 2.0
IDLE_GOAL_MB = 150.0  # the goal is in MB (10**6 bytes); RSS is measured in MiB
IDLE_GOAL_MIB = IDLE_GOAL_MB * 1e6 / 2**20  # 143.05 MiB
ids = itertools.count(1)


def help_activity(service_url: str, conversation: str) -> dict[str, Any]:
    n = next(ids)
    return {
        "type": "message",
        "id": f"bench-help-{n}",
        "timestamp": datetime.now(UTC).isoformat(),
        "channelId": "msteams",
        "serviceUrl": service_url + "/",
        "from": {"id": f"29:bench-user-{n}", "name": "Bench User", "aadObjectId": f"aad-bench-user-{n}"},
        "recipient": {"id": "28:tapaamo-bench", "name": "Tapaamo"},
        "conversation": {
            "id": conversation or f"a:bench-help-{n}",
            "conversationType": "personal",
            "tenantId": "t",
        },
        "channelData": {"tenant": {"id": "t"}},
        "locale": "en-US",
        "text": "help",
    }


async def replies(http: aiohttp.ClientSession, connector: Process) -> int:
    async with http.get(connector.url + "/count") as response:
        return int((await response.json())["activities"])


async def first_answer(http: aiohttp.ClientSession, bot: Process, connector: Process) -> float:
    """Seconds from the bot's Popen to its first 200 to a help message (whose reply was delivered)."""
    before = await replies(http, connector)
    deadline = time.perf_counter() + 60
    while time.perf_counter() < deadline:
        if bot.popen.poll() is not None:
            raise RuntimeError(f"the bot exited:\n{bot.tail()}")
        try:
            async with http.post(
                bot.url + "/api/messages", json=help_activity(connector.url, "")
            ) as response:
                await response.read()
                if response.status == 200:
                    answered = time.perf_counter() - bot.started
                    if await replies(http, connector) <= before:
                        raise RuntimeError("answered 200 but no reply reached the connector")
                    return answered
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.02)
    raise RuntimeError(f"no answer in 60 s:\n{bot.tail()}")


async def turns(
    http: aiohttp.ClientSession, bot: Process, connector: Process, count: int, concurrency: int
) -> list[float]:
    latencies: list[float] = []
    numbers = iter(range(count))

    async def worker() -> None:
        for _ in numbers:
            began = time.perf_counter()
            async with http.post(
                bot.url + "/api/messages", json=help_activity(connector.url, "")
            ) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"help answered {response.status}")
            latencies.append(time.perf_counter() - began)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


async def start_and_answer(
    http: aiohttp.ClientSession, name: str, workdir: Path, url: str, connector: Process
) -> tuple[Process, float, float]:
    bot = start_bot(name, workdir, url)
    seconds = await first_answer(http, bot, connector)
    await asyncio.sleep(3.0)
    idle, _ = rss_mb(bot.pid)
    return bot, seconds, idle


async def main_async(args: argparse.Namespace, workdir: Path) -> int:
    connector = start_connector(workdir)
    url = f"sqlite+aiosqlite:///{workdir / 'memory.db'}"
    bot: Process | None = None
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=400)) as http:
            await wait_http(http, connector, "/count")
            bot, fresh_start, fresh_idle = await start_and_answer(http, "bot-fresh", workdir, url, connector)
            bot.stop()
            print(
                f"first start, empty database: first turn answered {fresh_start:.2f} s after Popen; "
                f"idle RSS {fresh_idle:.0f} MiB"
            )

            session_id = await seed(url, connector.url)  # the network, session and poll of the burst
            bot, restart, idle = await start_and_answer(http, "bot", workdir, url, connector)
            print(f"restart: first turn answered {restart:.2f} s after Popen; idle RSS {idle:.1f} MiB")

            poll_id = await open_poll(http, bot, url, connector.url, session_id)
            voting = await burst(
                http, [bot], connector.url, poll_id, args.voters, args.seconds, 0.05, random.Random(1)
            )
            after_votes, _ = rss_mb(bot.pid)
            latencies = await turns(http, bot, connector, args.turns, args.concurrency)
            await asyncio.sleep(1.0)
            loaded, peak = rss_mb(bot.pid)
            print(
                f"load: {args.voters} votes in {voting.seconds:.1f} s "
                f"(p99 {percentile(voting.latencies, 0.99) * 1000:.0f} ms), "
                f"then {args.turns} help turns at c={args.concurrency} "
                f"(p99 {percentile(latencies, 0.99) * 1000:.0f} ms)"
            )
            print(
                f"  RSS: idle {idle:.1f} MiB -> after the votes {after_votes:.1f} "
                f"-> after the turns {loaded:.1f} MiB (peak {peak:.1f})"
            )
    finally:
        if bot is not None:
            bot.stop()
        connector.stop()
    result("memory.start_fresh", round(fresh_start, 2), "s", f"< {START_GOAL:g} s", fresh_start < START_GOAL)
    result("memory.start", round(restart, 2), "s", f"< {START_GOAL:g} s", restart < START_GOAL)
    result(
        "memory.idle_rss",
        round(idle, 1),
        "MiB",
        f"< {IDLE_GOAL_MB:g} MB ({IDLE_GOAL_MIB:.0f} MiB)",
        idle < IDLE_GOAL_MIB,
    )
    result("memory.loaded_rss", round(loaded, 1), "MiB", "-", None)
    result("memory.peak_rss", round(peak, 1), "MiB", "-", None)
    return 0 if restart < START_GOAL and idle < IDLE_GOAL_MIB else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--voters", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tapaamo-memory-") as workdir:
        return asyncio.run(main_async(args, Path(workdir)))


if __name__ == "__main__":
    sys.exit(main())

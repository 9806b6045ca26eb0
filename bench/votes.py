"""A burst of 1,000 voters in 10 s through /api/messages, 5 % delivered twice: exactly 1,000 votes.

    .venv/bin/python bench/votes.py [--voters 1000] [--seconds 10] [--duplicates 0.05] [--skip-postgres]

Real HTTP to the real bot (``python -m bot serve``, dev mode, no App ID), with bench/turns.py's
counting Bot Connector as the service URL. Seed, through the stores before the bot starts: a network
(its coordinator, its home group chat and that chat's conversation reference) and a session an hour
ahead; then the coordinator opens its poll with ``poll #<id>`` through /api/messages, as in Teams.

The burst is open loop, as Teams delivers it: voter i's Action.Execute invoke (poll.vote, a distinct
user each) is sent at i x 10 ms whether or not earlier ones were answered. 5 % of the invokes,
chosen at random, are delivered a second time 0-300 ms after the first (same activity id). A
delivery that finds the other one still under way is answered 503 with Retry-After; it is sent
again after that, as the Bot Framework would. Latency is from sending an invoke to its answer; p50 and p99
are over the first deliveries (goal p99 < 500 ms), and every answer must be 200 with a card.
Afterwards the votes table must hold exactly one vote per voter.

Then the same with two bot processes over PostgreSQL (a scratch database, dropped afterwards),
requests alternating between them and each redelivery sent to the other instance.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    Process,
    cpu_seconds,
    percentile,
    result,
    rss_mb,
    scratch_postgres,
    spy,
    start_bot,
    start_connector,
    summarise,
    wait_http,
)
from sqlalchemy import func, select

from domain.clock import FakeClock
from domain.conversations import ConversationRef
from domain.networks import Cadence
from domain.planning import Planning
from domain.sessions import Person
from storage.db import Database
from storage.migrate import upgrade_async
from storage.network_repos import SqlNetworkStore, SqlSessionStore
from storage.poll_models import VoteRow
from storage.poll_repos import SqlPollStore
from storage.repositories import SqlAuditLog, SqlConversationRefs, SqlJobStore

HOME = "19:bench-poll-chat@thread.v2"
TENANT = "bench-tenant"
COORDINATOR = {
    "id": "29:bench-coordinator",
    "name": "Bench Coordinator",
    "aadObjectId": "aad-bench-coordinator",
}
GOAL_P99_MS = 500.0


@dataclass
class Burst:
    latencies: list[float] = field(default_factory=list)  # first deliveries, seconds
    redelivery_latencies: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    bad: list[str] = field(default_factory=list)
    retried_503: int = 0
    seconds: float = 0.0

    def count(self, what: str) -> None:
        self.statuses[what] = self.statuses.get(what, 0) + 1


async def seed(url: str, service_url: str) -> int:
    """A network, its home chat's reference, a session an hour ahead; returns the session id."""
    await upgrade_async(url)
    db = Database.connect(url)
    clock = FakeClock(datetime.now(UTC))
    try:
        planning = Planning(
            SqlNetworkStore(db),
            SqlSessionStore(db),
            SqlJobStore(db, clock),
            SqlAuditLog(db),
            clock,
            "Europe/Helsinki",
        )
        await SqlConversationRefs(db).upsert(
            ConversationRef(
                conversation_id=HOME,
                service_url=service_url,
                channel_id="msteams",
                kind="groupChat",
                tenant_id=TENANT,
                bot_id="28:tapaamo-bench",
                user_id=None,
                user_aad_id=None,
                locale="en-US",
                reference={},
                updated_at=clock.now(),
            )
        )
        creator = Person(COORDINATOR["id"], COORDINATOR["name"], COORDINATOR["aadObjectId"])
        network = await planning.create(
            name="Bench poll network",
            cadence=Cadence.from_code("weekly"),
            lang="en",
            creator=creator,
            home_conversation_id=HOME,
        )
        draft = await planning.draft(
            network,
            creator,
            starts_at=(clock.now() + timedelta(hours=1)).replace(microsecond=0),
            duration=timedelta(hours=1),
            topic="Bench session",
            join_url=None,
        )
        confirmed = await planning.confirm(draft.id, creator)
        return confirmed.sessions[0].id
    finally:
        await db.dispose()


def activity(
    kind: str, activity_id: str, sender: dict[str, str], service_url: str, **fields: Any
) -> dict[str, Any]:
    return {
        "type": kind,
        "id": activity_id,
        "timestamp": datetime.now(UTC).isoformat(),
        "channelId": "msteams",
        "serviceUrl": service_url + "/",
        "from": sender,
        "recipient": {"id": "28:tapaamo-bench", "name": "Tapaamo"},
        "conversation": {"id": HOME, "conversationType": "groupChat", "tenantId": TENANT},
        "channelData": {"tenant": {"id": TENANT}},
        "locale": "en-US",
        **fields,
    }


async def open_poll(
    http: aiohttp.ClientSession, bot: Process, url: str, service_url: str, session_id: int
) -> int:
    body = activity("message", "bench-open-poll", COORDINATOR, service_url, text=f"poll #{session_id}")
    async with http.post(bot.url + "/api/messages", json=body) as response:
        await response.read()
        if response.status != 200:
            raise RuntimeError(f"poll #{session_id} answered {response.status}:\n{bot.tail()}")
    db = Database.connect(url)
    try:
        poll = await SqlPollStore(db).for_session(session_id)
    finally:
        await db.dispose()
    if poll is None:
        raise RuntimeError(f"poll #{session_id} opened no poll:\n{bot.tail()}")
    return poll.id


async def burst(
    http: aiohttp.ClientSession,
    bots: list[Process],
    service_url: str,
    poll_id: int,
    voters: int,
    seconds: float,
    duplicate_share: float,
    rng: random.Random,
) -> Burst:
    out = Burst()
    twice = set(rng.sample(range(voters), round(voters * duplicate_share)))
    began = time.perf_counter() + 0.2

    async def deliver(i: int, bot: Process, at: float, first: bool) -> None:
        body = activity(
            "invoke",
            f"bench-vote-{i}",
            {"id": f"29:bench-voter-{i}", "name": f"Voter {i}", "aadObjectId": f"aad-bench-voter-{i:05d}"},
            service_url,
            name="adaptiveCard/action",
            value={
                "action": {
                    "type": "Action.Execute",
                    "verb": "poll.vote",
                    "data": {"poll": poll_id, "q": "work", "o": 1 + i % 5},
                },
                "trigger": "manual",
            },
        )
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        sent = time.perf_counter()
        for _ in range(30):
            async with http.post(bot.url + "/api/messages", json=body) as response:
                answer = await response.read()
                status = response.status
                retry_after = float(response.headers.get("Retry-After", "1"))
            if status == 503:
                out.retried_503 += 1
                await asyncio.sleep(retry_after)  # what the Bot Framework does with a 503
                continue
            break
        elapsed = time.perf_counter() - sent
        (out.latencies if first else out.redelivery_latencies).append(elapsed)
        kind = "first" if first else "again"
        if status != 200:
            out.count(f"{kind}: HTTP {status}")
            out.bad.append(f"{kind} {i}: {status} {answer[:200]!r}")
            return
        card = b"application/vnd.microsoft.card.adaptive" in answer
        out.count(f"{kind}: 200 {'card' if card else 'empty'}")
        if first and not card:
            out.bad.append(f"{kind} {i}: 200 without a card {answer[:200]!r}")

    tasks = []
    for i in range(voters):
        at = began + i * seconds / voters
        bot = bots[i % len(bots)]
        tasks.append(deliver(i, bot, at, True))
        if i in twice:
            other = bots[(i + 1) % len(bots)]
            tasks.append(deliver(i, other, at + rng.uniform(0.0, 0.3), False))
    await asyncio.gather(*tasks)
    out.seconds = time.perf_counter() - began
    return out


async def count_votes(url: str, poll_id: int) -> tuple[int, int]:
    db = Database.connect(url)
    try:
        async with db.read() as session:
            rows = await session.scalar(
                select(func.count()).select_from(VoteRow).where(VoteRow.poll_id == poll_id)
            )
            voters = await session.scalar(
                select(func.count(func.distinct(VoteRow.voter_key))).where(VoteRow.poll_id == poll_id)
            )
    finally:
        await db.dispose()
    return int(rows or 0), int(voters or 0)


async def run_case(
    label: str, url: str, instances: int, args: argparse.Namespace, workdir: Path, connector: Process
) -> bool:
    session_id = await seed(url, connector.url)
    bots = [start_bot(f"bot-{label}-{n}", workdir, url) for n in range(instances)]
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=400)) as http:
            for bot in bots:
                await wait_http(http, bot, "/healthz")
            poll_id = await open_poll(http, bots[0], url, connector.url, session_id)
            rss_before = [rss_mb(bot.pid)[0] for bot in bots]
            cpu_before = sum(cpu_seconds(bot.pid) for bot in bots)
            probes = [spy(bot.name, bot.pid, workdir) for bot in bots] if args.profile else []
            outcome = await burst(
                http,
                bots,
                connector.url,
                poll_id,
                args.voters,
                args.seconds,
                args.duplicates,
                random.Random(args.seed),
            )
            rss_after = [rss_mb(bot.pid) for bot in bots]
            cpu = sum(cpu_seconds(bot.pid) for bot in bots) - cpu_before
            for probe in probes:
                summarise(probe, args.profile)
        await asyncio.sleep(0.5)  # the finished-turn batch
        rows, voters = await count_votes(url, poll_id)
    finally:
        for bot in bots:
            bot.stop()
    p50 = percentile(outcome.latencies, 0.50) * 1000
    p99 = percentile(outcome.latencies, 0.99) * 1000
    worst = max(outcome.latencies) * 1000
    again_p99 = percentile(outcome.redelivery_latencies, 0.99) * 1000 if outcome.redelivery_latencies else 0.0
    print(
        f"{label}: {args.voters} voters in {outcome.seconds:.1f} s over {instances} instance(s), "
        f"{len(outcome.redelivery_latencies)} delivered twice "
        f"({outcome.retried_503} answered 503 and retried)"
    )
    print(f"  latency of first deliveries: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms")
    print(f"  latency of redeliveries (until answered 200): p99 {again_p99:.1f} ms")
    print(f"  answers: {dict(sorted(outcome.statuses.items()))}")
    for line in outcome.bad[:5]:
        print(f"  ! {line}")
    print(
        f"  CPU of the bot process(es): {cpu / args.voters * 1000:.2f} ms a vote; "
        f"load average {os.getloadavg()[0]:.2f} (other work on the machine skews latency)"
    )
    print(f"  votes in the database: {rows} rows, {voters} distinct voters (goal {args.voters})")
    print(
        "  RSS of the bot(s): "
        + ", ".join(
            f"{before:.0f} -> {now:.0f} MiB (peak {peak:.0f})"
            for before, (now, peak) in zip(rss_before, rss_after, strict=True)
        )
    )
    exact = rows == args.voters and voters == args.voters and not outcome.bad
    met = p99 < GOAL_P99_MS
    result(f"votes.{label}.p50", round(p50, 1), "ms", "-", None)
    result(f"votes.{label}.cpu_per_vote", round(cpu / args.voters * 1000, 2), "ms", "-", None)
    result(f"votes.{label}.p99", round(p99, 1), "ms", f"< {GOAL_P99_MS:g} ms", met)
    result(f"votes.{label}.votes", rows, "votes", f"= {args.voters}, all answered", exact)
    return met and exact


async def main_async(args: argparse.Namespace, workdir: Path) -> int:
    connector = start_connector(workdir)
    ok = True
    try:
        async with aiohttp.ClientSession() as http:
            await wait_http(http, connector, "/count")
        if not args.skip_sqlite:
            url = f"sqlite+aiosqlite:///{workdir / 'votes.db'}"
            ok = await run_case("sqlite", url, 1, args, workdir, connector) and ok
        if not args.skip_postgres:
            async with scratch_postgres("tapaamo_bench_votes") as url:
                ok = await run_case("postgresql_2x", url, 2, args, workdir, connector) and ok
    finally:
        connector.stop()
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voters", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0, help="the burst's length")
    parser.add_argument("--duplicates", type=float, default=0.05, help="share of invokes delivered twice")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument(
        "--profile",
        type=int,
        nargs="?",
        const=25,
        default=0,
        metavar="TOP",
        help="py-spy each bot during the burst",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tapaamo-votes-") as workdir:
        return asyncio.run(main_async(args, Path(workdir)))


if __name__ == "__main__":
    sys.exit(main())

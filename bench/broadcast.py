"""Benchmark: one message to 500 conversations through the Sender, with 10 % of calls answered 429.

Run as ``python bench/broadcast.py`` (``--help`` for the knobs). The fake Bot Connector answers 429 with
``Retry-After: 1`` to a random tenth of the calls; the tenant's rate is 50 a second. Teams' limits
allow such a broadcast no faster than conversations / rate seconds (500 / 50 = 10 s); the goal is at
most 1.15 times that, with nothing lost. A 429 costs one more call of the tenant's budget, so the
retries fit only if a conversation waiting out its Retry-After holds up no worker and no tenant slot.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import sys
import time
from collections import Counter
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.fakes, when run as a script

from bot.connector import ConnectorClient, TokenProvider
from bot.ratelimit import RateLimiter
from bot.sender import OutboundMessage, Sender
from domain.clock import SystemClock
from tests.fakes.connector import FakeConnector
from tests.fakes.memory import MemorySentMessages

GOAL_RATIO = 1.15


async def broadcast(args: argparse.Namespace) -> dict[str, float | int]:
    async with (
        FakeConnector(seed=args.seed, fail_rate_429=args.fail_rate, retry_after=args.retry_after) as fake,
        aiohttp.ClientSession() as session,
    ):
        connector = ConnectorClient(session, TokenProvider("", tenant_id="", authority_host="http://unused"))
        sent = MemorySentMessages()
        sender = Sender(
            connector,
            sent,
            SystemClock(),
            RateLimiter(tenant_rate=args.rate),
            rng=random.Random(args.seed),
            concurrency=args.concurrency,
        )
        messages = [
            OutboundMessage(
                key=f"announce:bench:{i}",
                conversation_id=f"19:bench-{i}@thread.tacv2",
                service_url=fake.url,
                tenant_id="tenant",
                activity={"type": "message", "text": f"announce:bench:{i}"},
            )
            for i in range(args.conversations)
        ]
        started = time.monotonic()
        outcomes = await sender.send_many(messages)
        elapsed = time.monotonic() - started

        arrived = Counter(r.activity.get("text") for r in fake.received)
        lost = sum(1 for m in messages if arrived[m.key] == 0)
        duplicated = sum(1 for m in messages if arrived[m.key] > 1)
        statuses = Counter(r.status for r in fake.requests)
        minimum = args.conversations / args.rate
        return {
            "messages": args.conversations,
            "elapsed_s": round(elapsed, 3),
            "minimum_s": round(minimum, 3),
            "ratio": round(elapsed / minimum, 3),
            "lost": lost,
            "duplicated": duplicated,
            "failed_outcomes": sum(1 for o in outcomes if not o.ok),
            "calls": len(fake.requests),
            "answered_429": statuses[429],
            "most_accepted_in_any_second": fake.max_in_window(None, 1.0),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=500)
    parser.add_argument("--rate", type=float, default=50.0, help="the tenant's messages a second")
    parser.add_argument("--fail-rate", type=float, default=0.10, help="share of calls answered 429")
    parser.add_argument("--retry-after", default="1", help="Retry-After of those 429s, seconds")
    parser.add_argument("--concurrency", type=int, default=16, help="sender workers (send_workers)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    result = asyncio.run(broadcast(args))
    met = result["ratio"] <= GOAL_RATIO and result["lost"] == 0 and result["duplicated"] == 0
    if args.json:
        print(json.dumps({**result, "goal_met": met}))
    else:
        print(f"broadcast of {result['messages']} messages, {result['answered_429']} calls answered 429")
        print(f"  elapsed   {result['elapsed_s']:.2f} s")
        print(f"  minimum   {result['minimum_s']:.2f} s  ({result['messages']} at {args.rate:g}/s)")
        print(f"  ratio     {result['ratio']:.3f}  (goal <= {GOAL_RATIO})")
        print(f"  lost      {result['lost']}  (goal 0); duplicated {result['duplicated']}")
        busiest = result["most_accepted_in_any_second"]
        print(f"  calls     {result['calls']}; most accepted in any 1 s: {busiest}")
        print("  goal met" if met else "  GOAL MISSED")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

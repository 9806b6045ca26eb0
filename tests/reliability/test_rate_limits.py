"""A broadcast through the app's jobs while the connector answers 429 and 503 at random.

Method: the whole app in process (tests/support/harness.py: dev mode, SQLite, FakeClock), seeded
through /api/messages with three networks, each homed in a group chat of its own, and twelve sessions
each, confirmed round-robin across the networks so that the announcement jobs alternate between
the conversations and press each one's window: the job worker posts one message at a time, and at
its pace three conversations want more than the 8 messages in 2 s that Teams allows each.
The schedule commands are typed in the coordinator's personal chat, so the networks' conversations
hold nothing but the reply to ``network create`` and the broadcast. Then the fake Bot Connector is told to
answer a tenth of the message calls 429 (Retry-After 0.3 s) and a tenth 503, from a fixed seed,
and the due jobs are run by the app's own JobRunner (and run again after the job retry delay on
the FakeClock, should a job fail) until none is left.

Checked at the connector: every announcement arrived, exactly once, in its network's conversation;
in no conversation did more than 7 messages arrive within any 1 s, or more than 8 within any 2 s
(FakeConnector.max_in_window, measured on arrival); the faults really happened; and in the
database every announcement job is done and sent_messages holds one record per announcement.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import text

from bot.app import PARTS
from tests.reliability.support import posts_by_key
from tests.support.harness import Harness, cards_of

NETWORKS = 3
SESSIONS_EACH = 12
PERSONAL = "a:coordinator-personal"


@pytest.mark.slow
async def test_broadcast_under_429_and_503_arrives_whole_within_the_limits(bot: Harness) -> None:
    drafts: list[list[dict]] = []
    for n in range(NETWORKS):
        await bot.say(f'network create "Net {n}" weekly', conversation=f"19:home-{n}")
        mine = []
        for s in range(SESSIONS_EACH):
            [card] = cards_of(
                await bot.say(
                    f'schedule "Net {n}" "tomorrow {8 + s}:00"',
                    conversation=PERSONAL,
                    conversation_type="personal",
                )
            )
            mine.append(next(a["data"] for a in card["actions"] if a["verb"] == "session.confirm"))
        drafts.append(mine)
    for s in range(SESSIONS_EACH):  # round robin: the jobs alternate between the conversations
        for n in range(NETWORKS):
            answer = await bot.click(
                "session.confirm", drafts[n][s], conversation=PERSONAL, conversation_type="personal"
            )
            assert answer["type"] == "application/vnd.microsoft.card.adaptive"

    connector = bot.connector
    connector.fail_rate_429, connector.retry_after, connector.fail_rate_503 = 0.1, "0.3", 0.1
    before = len(connector.requests)
    for _ in range(20):
        await bot.run_jobs()
        async with bot.app[PARTS].database.read() as session:
            left = (
                await session.execute(
                    text("SELECT count(*) FROM jobs WHERE kind = 'session.announce' AND status <> 'done'")
                )
            ).scalar()
        if not left:
            break
        bot.clock.advance(timedelta(minutes=5))  # a failed job's retry falls due
    assert left == 0

    faults = Counter(r.status for r in connector.requests[before:] if r.status >= 400)
    assert faults[429] >= 2, faults  # the faults did happen
    assert faults[503] >= 2, faults

    async with bot.app[PARTS].database.read() as session:
        sessions = (
            await session.execute(
                text(
                    "SELECT s.id, n.home_conversation_id FROM sessions s "
                    "JOIN networks n ON n.id = s.network_id"
                )
            )
        ).all()
        recorded = (
            (await session.execute(text("SELECT key FROM sent_messages WHERE key LIKE 'announce:%'")))
            .scalars()
            .all()
        )
    assert len(sessions) == NETWORKS * SESSIONS_EACH
    posts = posts_by_key(connector)
    assert set(posts) == {(conversation, f"announce:{sid}") for sid, conversation in sessions}
    assert {key: len(got) for key, got in posts.items() if len(got) != 1} == {}
    assert sorted(recorded) == sorted(key for _, key in posts)

    for n in range(NETWORKS):
        conversation = f"19:home-{n}"
        assert connector.max_in_window(conversation, 1.0) <= 7, conversation
        assert connector.max_in_window(conversation, 2.0) <= 8, conversation
    busiest = max(connector.max_in_window(f"19:home-{n}", 2.0) for n in range(NETWORKS))
    assert busiest >= 6, "the broadcast never came near the limits: the test would prove little"

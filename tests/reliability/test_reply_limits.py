"""Chat replies keep Teams' limits and are never lost.

Method: the whole app in process (tests/support/harness.py: dev mode, SQLite, FakeClock) against
the fake Bot Connector with Teams' per-conversation windows enforced (``enforce_limits``: a message
that would exceed 7/1 s, 8/2 s, 60/30 s or 1,800/h is answered 429 with the Retry-After needed).
Replies go through the sender's limiter, so the connector never has to refuse one; a reply that
cannot go within the turn's wait is handed to the durable jobs and arrives later, once.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import text

from bot.app import PARTS
from bot.turns import REPLY_JOB
from tests.support.harness import Harness, user

CHAT = "19:group-chat"


def replies(bot: Harness, conversation: str = CHAT) -> list[str]:
    """The activity ids the bot's replies answered, in arrival order."""
    return [
        str(r.reply_to_id)
        for r in bot.connector.received
        if r.kind == "reply" and r.conversation_id == conversation
    ]


async def reply_jobs(bot: Harness) -> list[tuple[str, str]]:
    async with bot.app[PARTS].database.read() as session:
        rows = await session.execute(
            text("SELECT dedupe_key, status FROM jobs WHERE kind = :kind ORDER BY id"), {"kind": REPLY_JOB}
        )
        return [(str(key), str(status)) for key, status in rows.all()]


@pytest.mark.slow
async def test_twenty_people_typing_at_once_in_one_chat_all_get_their_reply(bot: Harness) -> None:
    await bot.say('network create "Kahvila" weekly')
    connector = bot.connector
    connector.enforce_limits = True
    activities = [bot.activity(text="networks", sender=user(10 + n)) for n in range(20)]

    answers = await asyncio.gather(*(bot.client.post("/api/messages", json=a) for a in activities))

    assert {answer.status for answer in answers} == {200}
    assert sorted(replies(bot)[1:]) == sorted(a["id"] for a in activities)  # [0]: network create
    assert connector.limit_rejections == 0
    assert connector.max_in_window(CHAT, 1.0) <= 7
    assert connector.max_in_window(CHAT, 2.0) <= 8
    assert connector.max_in_window(CHAT, 2.0) == 8, "the burst never reached the limit: it proves little"
    assert await reply_jobs(bot) == []  # all went within the turn


async def test_a_reply_held_back_past_the_turn_arrives_later_from_the_jobs_once(bot: Harness) -> None:
    endpoint = bot.app[PARTS].endpoint
    endpoint.bot.reply_wait = 0.5
    # Teams throttles the chat for longer than the turn may wait.
    bot.connector.force_status(CHAT, 429, times=1, retry_after="1")
    activity = bot.activity(text="help")

    await bot.post(activity)
    await endpoint.drain()

    assert replies(bot) == []
    [(key, status)] = await reply_jobs(bot)
    assert status == "pending"

    await bot.post(activity)  # Teams redelivers: nothing new is queued or sent
    assert await reply_jobs(bot) == [(key, "pending")]

    await bot.run_jobs()
    assert replies(bot) == [activity["id"]]
    assert await reply_jobs(bot) == [(key, "done")]
    await bot.advance(timedelta(hours=1))
    assert replies(bot) == [activity["id"]]


async def test_a_deferred_reply_to_a_chat_that_refuses_for_good_is_recorded_not_retried(bot: Harness) -> None:
    endpoint = bot.app[PARTS].endpoint
    endpoint.bot.reply_wait = 0.5
    bot.connector.force_status(CHAT, 429, times=1, retry_after="1")
    await bot.post(bot.activity(text="help"))
    bot.connector.force_status(CHAT, 403, times=1)  # meanwhile the bot was removed from the chat

    await bot.run_jobs()

    assert replies(bot) == []
    [(key, status)] = await reply_jobs(bot)
    assert status == "done"  # not retried for days, nor dead
    async with bot.app[PARTS].database.read() as session:
        failed = await session.execute(
            text("SELECT count(*) FROM sent_messages WHERE key = :key AND activity_id IS NULL"), {"key": key}
        )
        assert failed.scalar() == 1

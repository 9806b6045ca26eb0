"""No row of the database links a voter to a poll.

Six people vote in a group chat; one of them also has a personal chat with Tapaamo and another
checked in to the session. After the poll closes, every text and JSON column of every table is
searched for the voters' Teams and Entra ids: the only rows that may hold them are the personal
chat's reference and the check-in's participation, which exist for reasons of their own and say
nothing about the poll.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.app import PARTS
from domain.clock import FakeClock
from tests.integration.test_polls_flow import held_session, poll_cards, vote_data
from tests.support.harness import Harness, running_bot, texts, user

VOTERS = {2: 5, 3: 4, 4: 4, 5: 3, 6: 1, 7: 2}
PERSONAL_CHAT = "a:personal-chat-of-voter-2"


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, FakeClock()) as harness:
        yield harness


async def rows_naming(bot: Harness, needles: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """Every row, of every table, with a needle in any of its values (JSON as text too)."""
    found = []
    async with bot.app[PARTS].database.read() as session:
        tables = (
            await session.scalars(
                text(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%' AND name <> 'alembic_version'"
                )
            )
        ).all()
        for table in tables:
            for row in (await session.execute(text(f'SELECT * FROM "{table}"'))).mappings().all():
                blob = json.dumps({k: str(v) for k, v in row.items()}, ensure_ascii=False)
                if any(needle in blob or needle.lower() in blob.lower() for needle in needles):
                    found.append((table, dict(row)))
    return found


async def test_after_a_poll_closes_no_row_links_a_voter_to_it(bot: Harness) -> None:
    session_id = await held_session(bot)
    await bot.say("help", sender=user(2), conversation=PERSONAL_CHAT, conversation_type="personal")
    bot.clock.advance(timedelta(minutes=50))  # 11:50: check-in is open
    await bot.say("here", sender=user(3))
    await bot.advance(timedelta(hours=3))
    [card] = poll_cards(bot)

    answers = {}
    for n, option in VOTERS.items():
        bot.clock.advance(timedelta(minutes=1))
        vote = bot.activity(
            "invoke",
            name="adaptiveCard/action",
            value={
                "action": {"type": "Action.Execute", "verb": "poll.vote", "data": vote_data(card, option)}
            },
            sender=user(n),
        )
        answers[n] = await bot.post(vote)
        # Teams redelivers the tap: the person's own view again, made anew, with their choice on it
        assert await bot.post(vote) == answers[n]
        assert any(line.startswith("\u2714") for line in texts(answers[n]["value"]).split("\n"))

    await bot.say(f"poll #{session_id} close", conversation="a:coordinator", conversation_type="personal")
    await bot.run_jobs()
    await bot.app[PARTS].endpoint.drain()
    async with bot.app[PARTS].database.read() as session:
        assert (await session.execute(text("SELECT status FROM polls"))).scalar() == "closed"
        assert (await session.execute(text("SELECT count(*) FROM votes"))).scalar() == len(VOTERS)

    # The processed-activity ledger keeps that each tap was handled, not what the voter saw.
    async with bot.app[PARTS].database.read() as session:
        kept = (await session.execute(text("SELECT response FROM inbound_activities"))).scalars().all()
    assert [r for r in kept if r is not None and ("poll" in str(r) or "\u2714" in str(r))] == []

    ids = [value for n in VOTERS for value in (user(n)["id"], user(n)["aadObjectId"])]
    found = await rows_naming(bot, ids)
    assert sorted((table, row.get("conversation_id") or row.get("user_id")) for table, row in found) == [
        ("conversation_refs", PERSONAL_CHAT),
        ("participations", user(3)["id"]),
    ]
    group_ref = next(
        json.loads(row["reference"]) if isinstance(row["reference"], str) else row["reference"]
        for table, row in await rows_naming(bot, ["19:group-chat"])
        if table == "conversation_refs"
    )
    assert "user" not in group_ref
    assert "activityId" not in group_ref

"""Participation ledger: a weekly series sharing one join link, exports, mentions, attach, settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.app import PARTS
from domain.clock import FakeClock
from tests.integration.test_participation_flow import (
    JOIN,
    meeting,
    meeting_with_two_today,
    members,
    session_today,
)
from tests.integration.test_polls_flow import poll_cards
from tests.support.harness import Harness, cards_of, running_bot, texts, user


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, FakeClock()) as harness:
        yield harness


async def weekly_series(bot: Harness) -> list[int]:
    """Ten Monday sessions at 12:00 Helsinki sharing one join link; the first is today (5 January)."""
    await bot.say('network create "Digisumpit" weekly')
    [card] = cards_of(await bot.say(f'schedule Digisumpit "every monday 12:00" link {JOIN} 10 times'))
    draft = next(a["data"] for a in card["actions"] if a["verb"] == "session.confirm")
    await bot.click("session.confirm", draft)
    await bot.run_jobs()
    async with bot.app[PARTS].database.read() as session:
        rows = (await session.execute(text("SELECT id FROM sessions ORDER BY starts_at"))).all()
    return [row[0] for row in rows]


async def test_a_series_sharing_one_link_gets_todays_events(bot: Harness) -> None:
    sessions = await weekly_series(bot)
    assert len(sessions) == 10
    today = sessions[0]
    await meeting_with_two_today(bot)

    assert await held(bot) == [today]
    [report] = cards_of(await bot.say("report Digisumpit"))
    assert "2 participants (2 new, 0 returning)" in texts(report)
    assert len(poll_cards(bot)) == 1
    async with bot.app[PARTS].database.read() as session:
        polled = (await session.execute(text("SELECT session_id FROM polls"))).scalars().all()
    assert polled == [today]

    # A week later the same link's events belong to that week's session, not today's.
    bot.clock.advance(timedelta(days=7) - timedelta(minutes=5))
    await bot.post(meeting(bot, "meetingStart", StartTime="2026-01-12T10:00:00Z"))
    assert await held(bot) == [today, sessions[1]]


async def held(bot: Harness) -> list[int]:
    async with bot.app[PARTS].database.read() as session:
        rows = await session.execute(text("SELECT id FROM sessions WHERE status = 'held' ORDER BY starts_at"))
        return [row[0] for row in rows.all()]


def mention(n: int) -> dict:
    """A mention as Teams sends it: the user id and name, no Entra object id."""
    return {
        "type": "mention",
        "mentioned": {"id": user(n)["id"], "name": f"User {n}"},
        "text": f"<at>User {n}</at>",
    }


async def test_corrections_by_teams_mentions_find_the_checked_in_person(bot: Harness) -> None:
    session_id = await session_today(bot)
    bot.clock.advance(timedelta(minutes=55))
    for n in (2, 3, 7):
        await bot.say("here", sender=user(n))

    [removed] = await bot.say(
        f"<at>Tapaamo</at> attendance #{session_id} remove <at>User 7</at>", entities=[mention(7)]
    )
    assert removed["text"] == f"Removed from session #{session_id}: User 7."
    [added] = await bot.say(
        f"<at>Tapaamo</at> attendance #{session_id} add <at>User 3</at>", entities=[mention(3)]
    )
    assert added["text"] == f"Added to session #{session_id}: User 3."
    [report] = cards_of(await bot.say("report Digisumpit"))
    assert "2 participants (2 new, 0 returning)" in texts(report)  # User 7 gone, User 3 once

    [again] = await bot.say(
        f"<at>Tapaamo</at> attendance #{session_id} remove <at>User 7</at>", entities=[mention(7)]
    )
    assert again["text"] == f"Nothing to remove: User 7 took no part in session #{session_id}."
    [never] = await bot.say(
        f"<at>Tapaamo</at> attendance #{session_id} remove <at>User 9</at>", entities=[mention(9)]
    )
    assert "Nothing to remove: User 9" in never["text"]


async def test_attaching_a_meeting_replays_its_joins_and_its_end(bot: Harness) -> None:
    session_id = await session_today(bot)
    bot.clock.advance(timedelta(minutes=60))
    elsewhere = "19:meeting-chat"  # a meeting Tapaamo was not told about
    channel_data = {"tenant": {"id": "tenant-1"}, "meeting": {"id": "m-x"}}
    for name, value in (
        ("meetingStart", {"Id": "m-x", "StartTime": "2026-01-05T10:00:00Z"}),
        ("meetingParticipantJoin", members(2, 3, 4)),
        ("meetingEnd", {"Id": "m-x", "EndTime": "2026-01-05T11:00:00Z"}),
    ):
        await bot.post(
            bot.activity(
                "event",
                name=f"application/vnd.microsoft.{name}",
                value=value,
                conversation=elsewhere,
                channelData=channel_data,
            )
        )
    assert poll_cards(bot) == []
    [reply] = await bot.say(f"attach #{session_id}", conversation=elsewhere)
    assert "3 meeting events are now part of session" in reply["text"]
    await bot.run_jobs()  # before the scheduled end: the poll comes from the attached meetingEnd
    [report] = cards_of(await bot.say("report Digisumpit"))
    assert "3 participants (3 new, 0 returning)" in texts(report)
    assert len(poll_cards(bot)) == 1


async def test_the_export_file_speaks_the_networks_language(bot: Harness) -> None:
    await bot.say('network create "Digisumpit" weekly lang fi')
    [card] = cards_of(await bot.say(f'schedule Digisumpit "today 12:00" link {JOIN}'))
    draft = next(a["data"] for a in card["actions"] if a["verb"] == "session.confirm")
    await bot.click("session.confirm", draft)
    await bot.run_jobs()
    bot.clock.advance(timedelta(minutes=55))
    await bot.say("here", sender=user(2))
    [export] = cards_of(await bot.say("vie Digisumpit csv", locale="fi-FI"))
    path = export["actions"][0]["url"].split("127.0.0.1:3978", 1)[1]
    body = (await (await bot.client.get(path)).read()).decode("utf-8-sig")
    assert "# tapaamiset" in body
    assert "tapaaminen,alkaa,pidetty,osallistujat,uudet,palaavat" in body
    assert ",kyllä,1,1,0" in body
    assert "organisaatio,osallistumiset" in body

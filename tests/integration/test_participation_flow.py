"""Participation is logged per event: check-ins, meeting events, corrections, the report and export."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from dialogs.i18n import Catalogs
from domain.clock import FakeClock
from tests.support.cards import assert_valid_card
from tests.support.harness import Harness, cards_of, running_bot, texts, user

EN = Catalogs()["en"]
JOIN = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_xyz%40thread.v2/0"


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, FakeClock()) as harness:
        yield harness


async def session_today(bot: Harness) -> int:
    """A network homed in the group chat with a session today at 12:00 Helsinki (10:00 UTC)."""
    await bot.say('network create "Digisumpit" weekly')
    [card] = cards_of(await bot.say(f'schedule Digisumpit "today 12:00" link {JOIN}'))
    draft = next(a["data"] for a in card["actions"] if a["verb"] == "session.confirm")
    await bot.click("session.confirm", draft)
    await bot.run_jobs()
    announcement = next(r for r in bot.connector.received if r.kind == "send" and cards_of([r.activity]))
    rsvp = next(a for a in cards_of([announcement.activity])[0]["actions"] if a.get("verb") == "session.rsvp")
    return int(rsvp["data"]["session"])


def meeting(bot: Harness, name: str, **value: object) -> dict:
    return bot.activity(
        "event",
        name=f"application/vnd.microsoft.{name}",
        value={"Id": "meeting-1", "JoinUrl": JOIN, "Title": "Digisumpit", **value},
        channelData={"tenant": {"id": "tenant-1"}, "meeting": {"id": "meeting-1"}},
    )


async def meeting_with_two_today(bot: Harness) -> None:
    """Teams' events of today's 12:00 meeting (5 January, Helsinki): it starts at 12:00 while
    users 2 and 3 join, and ends at 13:00; then the due jobs run."""
    bot.clock.advance(timedelta(minutes=58))
    await bot.post(meeting(bot, "meetingStart", StartTime="2026-01-05T10:00:00Z"))
    await bot.post(
        bot.activity(
            "event",
            name="application/vnd.microsoft.meetingParticipantJoin",
            value=members(2, 3),
            channelData={"tenant": {"id": "tenant-1"}, "meeting": {"id": "meeting-1"}},
        )
    )
    bot.clock.advance(timedelta(minutes=62))
    await bot.post(meeting(bot, "meetingEnd", EndTime="2026-01-05T11:00:00Z"))
    await bot.run_jobs()


def members(*numbers: int) -> dict:
    return {
        "members": [
            {"user": {**user(n), "tenantId": "tenant-1"}, "meeting": {"inMeeting": True}} for n in numbers
        ]
    }


async def test_a_session_with_check_ins_and_meeting_events_is_reported(bot: Harness) -> None:
    session_id = await session_today(bot)
    # Too early: the check-in opens 15 minutes before the start.
    [early] = await bot.say("here", sender=user(2))
    assert "No session is open for check-in" in early["text"]

    bot.clock.advance(timedelta(minutes=50))  # 10:50 local, ten minutes before
    start = bot.activity()["id"]  # noqa: F841 - keeps activity ids distinct
    await bot.post(meeting(bot, "meetingStart", StartTime="2026-01-05T09:58:00Z"))
    for n in (2, 3, 4, 5, 6):
        [reply] = await bot.say("here", sender=user(n))
        assert "You are checked in to Digisumpit" in reply["text"]
    await bot.say("here", sender=user(2))  # checking in twice is still one person
    joined = bot.activity(
        "event", name="application/vnd.microsoft.meetingParticipantJoin", value=members(2, 7)
    )
    await bot.post(joined)
    await bot.post(joined)  # Teams redelivers
    bot.clock.advance(timedelta(minutes=70))
    await bot.post(meeting(bot, "meetingEnd", EndTime="2026-01-05T11:02:00Z"))
    await bot.run_jobs()

    [report] = cards_of(await bot.say("report Digisumpit"))
    assert_valid_card(report)
    shown = texts(report)
    assert "Participants\n6" in shown  # users 2–7: five check-ins, one more from the join event
    assert "Sessions held\n1" in shown
    assert "6 participants (6 new, 0 returning)" in shown
    # The card carries the chart as an image with alt text, served by the bot's web part.
    [image] = [b for b in report["body"] if b.get("type") == "Image"]
    assert "participants per session" in image["altText"]
    chart = await bot.client.get(image["url"].split("127.0.0.1:3978", 1)[1])
    assert chart.status == 200
    assert (await chart.read())[:8] == b"\x89PNG\r\n\x1a\n"

    # A coordinator's correction: user 7 joined by mistake.
    await bot.say(
        f"<at>Tapaamo</at> attendance #{session_id} remove <at>User 7</at>",
        entities=[{"type": "mention", "mentioned": user(7), "text": "<at>User 7</at>"}],
    )
    [report] = cards_of(await bot.say("report Digisumpit"))
    assert "Participants\n5" in texts(report)

    # The same event once more (a late redelivery) does not bring user 7 back.
    await bot.post(joined)
    [report] = cards_of(await bot.say("report Digisumpit"))
    assert "Participants\n5" in texts(report)


async def test_the_next_session_tells_new_from_returning(bot: Harness) -> None:
    first = await session_today(bot)
    bot.clock.advance(timedelta(minutes=55))
    for n in (2, 3):
        await bot.say("here", sender=user(n))
    bot.clock.advance(timedelta(days=7))
    [card] = cards_of(await bot.say('schedule Digisumpit "today 12:30"'))
    draft = next(a["data"] for a in card["actions"] if a["verb"] == "session.confirm")
    await bot.click("session.confirm", draft)
    bot.clock.advance(timedelta(minutes=30))
    for n in (3, 4):
        await bot.say("here", sender=user(n))
    [report] = cards_of(await bot.say("report Digisumpit"))
    shown = texts(report)
    assert "2 participants (1 new, 1 returning)" in shown
    assert "Came more than once\n1" in shown
    assert first > 0


async def test_export_gives_coordinators_a_file_and_is_audited(bot: Harness) -> None:
    from sqlalchemy import text

    from bot.app import PARTS

    await session_today(bot)
    await bot.say("help", conversation="a:coord", conversation_type="personal")  # personal app installed
    bot.clock.advance(timedelta(minutes=55))
    for n in (2, 3):
        await bot.say("here", sender=user(n))
    before = len(bot.connector.received)
    await bot.say("export Digisumpit csv")
    await bot.run_jobs()
    sent = bot.connector.received[before:]
    # In the group chat only a word that the file went to the coordinator's personal chat.
    group = [r.activity for r in sent if r.conversation_id == "19:group-chat"]
    assert not any("/export/" in str(activity) for activity in group)
    [reply] = [r.activity for r in sent if r.conversation_id == "19:group-chat" and r.kind == "reply"]
    assert "in our personal chat" in reply["text"]
    [personal] = [r.activity for r in sent if r.conversation_id == "a:coord"]
    [card] = cards_of([personal])
    assert_valid_card(card)
    url = card["actions"][0]["url"]
    path = url.split("127.0.0.1:3978", 1)[1]
    response = await bot.client.get(path)
    assert response.status == 200
    body = (await response.read()).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    assert ["# participants"] in rows
    assert any(row[1:2] == ["User 2"] for row in rows), body
    async with bot.app[PARTS].database.read() as session:
        audited = (
            await session.execute(
                text(
                    "SELECT actor_id, action, subject, details FROM audit_log "
                    "WHERE action LIKE 'network.export%' ORDER BY id"
                )
            )
        ).all()
    assert [(a, b, c) for a, b, c, _ in audited] == [
        (user(1)["id"], "network.export", "network:1"),
        (user(1)["id"], "network.export.download", "network:1"),
    ]
    assert "personal" in str(audited[0][3])
    # Someone else cannot export, and a tampered link is refused.
    [refused] = await bot.say("export Digisumpit", sender=user(9))
    assert "Only the coordinators of Digisumpit" in refused["text"]
    tampered = path[:-3] + ("abc" if not path.endswith("abc") else "xyz")
    assert (await bot.client.get(tampered)).status == 403


async def test_an_export_asked_in_a_group_without_a_personal_chat_has_no_names(bot: Harness) -> None:
    await session_today(bot)
    bot.clock.advance(timedelta(minutes=55))
    for n in (2, 3):
        await bot.say("here", sender=user(n))
    [card] = cards_of(await bot.say("export Digisumpit csv"))
    assert_valid_card(card)
    assert "add Tapaamo as a personal app" in texts(card)
    path = card["actions"][0]["url"].split("127.0.0.1:3978", 1)[1]
    body = (await (await bot.client.get(path)).read()).decode("utf-8-sig")
    assert "# sessions" in body
    assert "User 2" not in body
    assert "# participants" not in body


async def test_an_unmatched_meeting_is_kept_and_can_be_attached(bot: Harness) -> None:
    session_id = await session_today(bot)
    other = bot.activity(
        "event",
        name="application/vnd.microsoft.meetingStart",
        value={"Id": "meeting-unknown", "StartTime": "2026-01-07T09:00:00Z"},
        conversation="19:other-chat",
    )
    await bot.post(other)
    [reply] = await bot.say(f"attach #{session_id}", conversation="19:other-chat")
    assert "1 meeting event is now part of session" in reply["text"]


async def test_a_thousand_join_events_with_redeliveries_make_exactly_the_right_rows(bot: Harness) -> None:
    import asyncio

    from sqlalchemy import text

    from bot.app import PARTS

    session_id = await session_today(bot)
    bot.clock.advance(timedelta(minutes=58))
    events = [
        bot.activity("event", name="application/vnd.microsoft.meetingParticipantJoin", value=members(n))
        for n in range(100, 1000)
    ]
    events += events[:100]  # Teams redelivers a tenth of them (same activity ids)
    gate = asyncio.Semaphore(50)

    async def deliver(activity: dict) -> None:
        async with gate:
            await bot.post(activity)

    await asyncio.gather(*(deliver(activity) for activity in events))
    async with bot.app[PARTS].database.read() as session:
        rows = (
            await session.execute(
                text("SELECT count(*) FROM participations WHERE session_id = :s"), {"s": session_id}
            )
        ).scalar()
    assert rows == 900

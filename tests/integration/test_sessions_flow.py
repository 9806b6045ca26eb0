"""A coordinator runs a network from a Teams chat: create, schedule, confirm, announce, RSVP, cancel.

Everything goes through /api/messages and the durable jobs, replies and announcements arrive at a
local fake connector; time is a FakeClock (Monday 5 January 2026, 11:00 in Helsinki).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from dialogs.i18n import Catalogs
from domain.clock import FakeClock
from tests.support.cards import assert_valid_card
from tests.support.harness import Harness, cards_of, running_bot, texts, user

FI = Catalogs()["fi"]
LINK = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0"


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, FakeClock()) as harness:
        yield harness


async def create_network(bot: Harness, name: str = "Taloustorstai", extra: str = "lang fi") -> None:
    replies = await bot.say(f'network create "{name}" weekly {extra}')
    [card] = cards_of(replies)
    assert_valid_card(card)
    assert f"{name} is created" in texts(card)


async def schedule_and_confirm(bot: Harness, command: str) -> dict:
    replies = await bot.say(command)
    [confirm] = cards_of(replies)
    assert_valid_card(confirm)
    verbs = {a["verb"]: a["data"] for a in confirm["actions"]}
    assert set(verbs) == {"session.confirm", "session.change", "session.discard"}
    answer = await bot.click("session.confirm", verbs["session.confirm"])
    assert answer["type"] == "application/vnd.microsoft.card.adaptive"
    assert_valid_card(answer["value"])
    return verbs["session.confirm"]


def announcements(bot: Harness) -> list[dict]:
    return [r for r in bot.connector.received if r.kind == "send" and cards_of([r.activity])]


async def test_weekly_series_is_confirmed_announced_and_rsvps_are_counted(bot: Harness) -> None:
    await create_network(bot)
    draft = await schedule_and_confirm(
        bot, f'schedule Taloustorstai "every thursday 14:00" 90 min "Budjetti 2027" link {LINK}'
    )
    assert await bot.run_jobs() >= 1
    [posted] = announcements(bot)
    assert posted.conversation_id == "19:group-chat"
    [card] = cards_of([posted.activity])
    assert_valid_card(card)
    assert card["lang"] == "fi"  # the network's language, whoever scheduled it
    assert "Budjetti 2027" in texts(card)
    assert "Torstaina 8.1.2026 14:00" in texts(card)
    assert FI.n_("{n} minute", "{n} minutes", 90) in texts(card)
    assert {a.get("url") for a in card["actions"] if a["type"] == "Action.OpenUrl"} >= {LINK}
    rsvp = next(a for a in card["actions"] if a.get("verb") == "session.rsvp")
    session_id = rsvp["data"]["session"]

    # The same confirmation clicked again (or redelivered by Teams) changes nothing.
    await bot.click("session.confirm", draft)
    assert await bot.run_jobs() == 0
    assert len(announcements(bot)) == 1

    for n in (2, 3, 4):
        answer = await bot.click("session.rsvp", {"session": session_id, "coming": True}, sender=user(n))
        mine = texts(answer["value"])
        assert FI._("\u2714 You are coming.") in mine
        assert FI.n_("{n} person", "{n} people", n - 1) in mine
    # A double click is still one RSVP.
    await bot.click("session.rsvp", {"session": session_id, "coming": True}, sender=user(4))

    await bot.advance(timedelta(seconds=5))
    updates = [r for r in bot.connector.received if r.kind == "update"]
    assert updates, "the shared card is updated in place"
    [latest] = cards_of([updates[-1].activity])
    assert FI.n_("{n} person", "{n} people", 3) in texts(latest)
    assert updates[-1].activity_id == posted.activity_id or updates[-1].activity.get("id")
    assert len(latest["refresh"]["userIds"]) <= 60


async def test_cancelling_one_occurrence_marks_its_card_cancelled(bot: Harness) -> None:
    await create_network(bot)
    await schedule_and_confirm(bot, 'schedule Taloustorstai "every thursday 14:00"')
    await bot.run_jobs()
    [posted] = announcements(bot)
    session_id = next(
        a for a in cards_of([posted.activity])[0]["actions"] if a.get("verb") == "session.rsvp"
    )["data"]["session"]
    replies = await bot.say(f"cancel #{session_id}")
    assert "Cancelled: Taloustorstai" in replies[0]["text"]
    await bot.run_jobs()
    [update] = [r for r in bot.connector.received if r.kind == "update"]
    [card] = cards_of([update.activity])
    assert FI._("Cancelled") in texts(card)
    assert not any(a.get("verb") == "session.rsvp" for a in card.get("actions", []))
    # The next Thursday is still on.
    listing = cards_of(await bot.say("sessions Taloustorstai"))[0]
    assert FI._("cancelled") in texts(listing) or "cancelled" in texts(listing)


async def test_only_coordinators_change_a_network(bot: Harness) -> None:
    await create_network(bot)
    replies = await bot.say('schedule Taloustorstai "next thursday 14:00"', sender=user(7, "Outsider"))
    assert replies[0]["text"] == "Only the coordinators of Taloustorstai can do that: Aino Coordinator."


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("schedule", "Something is missing. Use: schedule NAME"),
        ('schedule Nosuch "next thursday 14:00"', "I don't know a network called \u201cNosuch\u201d."),
        ('schedule Talous "next thursday 14:00"', None),  # a unique prefix is enough
        ('schedule Taloustorstaj "next thursday 14:00"', "Did you mean \u201cTaloustorstai\u201d?"),
        ('schedule Taloustorstai "1.1.2020 14:00"', None),
        ('network create "\U0001f600\U0001f389" weekly', "A network's name needs letters or digits"),
        ('network create "Taloustorstai" weekly', "There is already a network called"),
        ('network create "TALOUSTORSTAI" monthly', "There is already a network called"),
        ('network create "Uusi" sometimes', "I didn't understand the cadence"),
        (
            f'schedule Taloustorstai "next thursday 14:00" "{"x" * 5000}"',
            "A topic can have at most 200 characters.",
        ),
    ],
)
async def test_bad_input_gets_a_clear_answer(bot: Harness, command: str, expected: str | None) -> None:
    await create_network(bot)
    replies = await bot.say(command)
    assert len(replies) == 1
    reply = replies[0]
    if expected is None:
        assert reply.get("text") is None or "went wrong" not in reply["text"]
    else:
        assert expected in (reply.get("text") or ""), reply
    assert "Traceback" not in str(reply)


async def test_past_dates_are_refused(bot: Harness) -> None:
    await create_network(bot)
    [reply] = await bot.say('schedule Taloustorstai "1.1.2026 14:00"')
    assert "past" in reply["text"].lower()

"""Tapaamo watches each network's cadence and nudges its coordinators; fixed-term networks end.

A simulated spring of 2026 with a FakeClock: every day the housekeeping tick runs at 03:00 in
Helsinki and the due jobs run through the day, as the ticker would. Nudges go 1:1 to the
coordinator, who has a personal chat with Tapaamo.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app import PARTS
from dialogs.i18n import Catalogs
from domain.clock import FakeClock
from tests.support.cards import assert_valid_card
from tests.support.harness import Harness, cards_of, running_bot, texts, user

HELSINKI = ZoneInfo("Europe/Helsinki")
COORDINATOR = user(1, "Aino Coordinator")
PERSONAL = "a:personal-aino"


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    clock = FakeClock(datetime(2026, 1, 5, 7, 0, tzinfo=UTC))
    async with running_bot(tmp_path, clock, admins=[COORDINATOR["aadObjectId"]]) as harness:
        # The coordinator has a personal chat with Tapaamo (the app installed personally).
        await harness.say("help", conversation=PERSONAL, conversation_type="personal")
        yield harness


async def confirm(bot: Harness, command: str) -> None:
    [card] = cards_of(await bot.say(command))
    draft = next(a["data"] for a in card["actions"] if a["verb"] == "session.confirm")
    await bot.click("session.confirm", draft)


SENT_AT: list[int] = []  # the local hour of the tick that sent each nudge


async def live_day(bot: Harness, day: date) -> None:
    """One day: the housekeeping tick at 03:00, then the jobs due by 09:05 and by 18:00."""
    for hour, minute in ((3, 0), (9, 5), (18, 0)):
        bot.clock.set(datetime.combine(day, time(hour, minute), HELSINKI))
        before = len(nudges(bot))
        if hour == 3:
            await bot.app[PARTS].housekeeping()
        await bot.run_jobs()
        SENT_AT.extend([hour] * (len(nudges(bot)) - before))


def nudges(bot: Harness) -> list[dict]:
    return [
        card
        for r in bot.connector.received
        if r.kind == "send" and r.conversation_id == PERSONAL
        for card in cards_of([r.activity])
        if any(a.get("verb") == "nudge.schedule" for a in card.get("actions", []))
    ]


async def days_until_nudge(bot: Harness, start: date, last: date) -> date | None:
    day = start
    while day <= last:
        before = len(nudges(bot))
        await live_day(bot, day)
        if len(nudges(bot)) > before:
            return day
        day += timedelta(days=1)
    return None


async def test_a_weekly_network_that_stops_meeting_is_nudged_and_snoozing_works(bot: Harness) -> None:
    await bot.say('network create "Taloustorstai" weekly')
    await confirm(bot, 'schedule Taloustorstai "every thursday 14:00" 10 times')  # 8.1. ... 12.3.
    # While sessions are scheduled nothing is sent.
    assert await days_until_nudge(bot, date(2026, 1, 6), date(2026, 3, 12)) is None
    # The day after the last session nothing is scheduled any more: Friday 13 March, in working hours.
    assert await days_until_nudge(bot, date(2026, 3, 13), date(2026, 3, 20)) == date(2026, 3, 13)
    [card] = nudges(bot)
    assert_valid_card(card)
    assert "Taloustorstai last met 0 weeks ago" not in texts(card)
    assert "it usually meets weekly" in texts(card)
    assert SENT_AT[-1] == 9  # not at the 03:00 tick: only in working hours

    snooze = next(a for a in card["actions"] if a.get("verb") == "nudge.snooze" and a["data"]["weeks"] == 1)
    answer = await bot.click(
        "nudge.snooze", snooze["data"], conversation=PERSONAL, conversation_type="personal"
    )
    assert "in 1 week" in texts(answer["value"])
    # Not before the week is over, then again.
    again = await days_until_nudge(bot, date(2026, 3, 16), date(2026, 3, 31))
    assert again is not None
    assert again >= date(2026, 3, 20)

    # One click schedules the suggested session (the usual Thursday 14:00) and announces it.
    latest = nudges(bot)[-1]
    schedule = next(a for a in latest["actions"] if a.get("verb") == "nudge.schedule")
    suggested = datetime.fromisoformat(schedule["data"]["start"]).astimezone(HELSINKI)
    assert (suggested.weekday(), suggested.hour, suggested.minute) == (3, 14, 0)
    answer = await bot.click(
        "nudge.schedule", schedule["data"], conversation=PERSONAL, conversation_type="personal"
    )
    assert "Scheduled" in texts(answer["value"])
    await bot.run_jobs()
    announced = [
        r for r in bot.connector.received if r.conversation_id == "19:group-chat" and cards_of([r.activity])
    ]
    expected = Catalogs()["en"].datetime(suggested, "Europe/Helsinki")
    assert expected in texts(cards_of([announced[-1].activity])[0])
    # The cause is gone: no nudge the next days.
    assert (
        await days_until_nudge(bot, again + timedelta(days=1), suggested.date() - timedelta(days=1)) is None
    )


async def test_a_holiday_week_is_not_counted_as_missed(bot: Harness) -> None:
    bot.clock.set(datetime(2026, 4, 20, 7, 0, tzinfo=UTC))
    await bot.say('network create "Digisumpit" weekly')
    await confirm(bot, 'schedule Digisumpit "every thursday 14:00" until 7.5.2026')  # 23.4., 30.4., 7.5.
    await live_day(bot, date(2026, 5, 8))
    # Helatorstai (Ascension Day) 14.5. is a holiday: the next meeting is expected 21.5., so on
    # Monday 18.5. the network is only due, not overdue (due 14.5. + 2 days' grace would be).
    bot.clock.set(datetime(2026, 5, 18, 10, 0, tzinfo=HELSINKI))
    [overview] = cards_of(await bot.say("overview"))
    shown = texts(overview)
    assert "**Digisumpit** \u2013 due" in shown, shown
    bot.clock.set(datetime(2026, 5, 25, 10, 0, tzinfo=HELSINKI))
    [overview] = cards_of(await bot.say("overview"))
    assert "**Digisumpit** \u2013 overdue" in texts(overview)


async def test_a_fixed_term_network_ends_on_its_date(bot: Harness) -> None:
    await bot.say('network create "Kevätverkosto" weekly fixed-term until 27.2.2026')
    await confirm(bot, 'schedule Kevätverkosto "every thursday 14:00"')
    await bot.run_jobs()
    for day in (date(2026, 1, 26), date(2026, 1, 27), date(2026, 1, 28)):
        await live_day(bot, day)
    told = [
        r
        for r in bot.connector.received
        if r.conversation_id == PERSONAL and "ends on 27 Feb 2026" in (r.activity.get("text") or "")
    ]
    assert len(told) == 1, "coordinators are told 30 days before, once"
    day = date(2026, 1, 29)
    while day <= date(2026, 2, 27):
        await live_day(bot, day)
        day += timedelta(days=1)
    home = [
        r.activity.get("text") or "" for r in bot.connector.received if r.conversation_id == "19:group-chat"
    ]
    assert any("Kevätverkosto has ended" in text for text in home)
    [listing] = cards_of(await bot.say("sessions Kevätverkosto"))
    assert "cancelled" in texts(listing)
    assert "Upcoming\nNothing scheduled." in texts(listing) or "(cancelled)" in texts(listing)


async def test_only_administrators_evaluate_and_see_the_overview(bot: Harness) -> None:
    for command in ("evaluate", "overview"):
        [reply] = await bot.say(command, sender=user(5, "Someone Else"))
        assert reply["text"] == "Only Tapaamo's administrators can do that."
    [reply] = await bot.say("evaluate")
    assert reply["text"] == "Every network's cadence is evaluated now: 0 nudges are on their way."

"""The cadence watch as a coordinator and an administrator notice it, day by day with a FakeClock.

The daily tick is modelled as the ticker runs it: the evaluation job at 09:00, the nudge it
enqueues a tick (two seconds) later.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app import PARTS
from dialogs.i18n import Catalogs
from dialogs.stewardship import overview_card
from domain.cadence import CadenceReport, CadenceStatus
from domain.clock import FakeClock
from domain.jobs import NewJob
from domain.networks import Network, parse_cadence
from domain.stewardship import NUDGE
from storage.repositories import SqlJobStore
from storage.stewardship_repos import SqlNudgeStore
from tests.support.cards import assert_valid_card
from tests.support.harness import Harness, cards_of, running_bot, texts, user

HELSINKI = ZoneInfo("Europe/Helsinki")
COORDINATOR = user(1, "Aino Coordinator")
ADMIN = user(9, "Eero Admin")
COORDINATOR_CHAT = "a:personal-aino"
ADMIN_CHAT = "a:personal-eero"


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    clock = FakeClock(datetime(2026, 1, 5, 7, 0, tzinfo=UTC))
    # The administrator is configured by Entra object id, as the setting documents.
    async with running_bot(tmp_path, clock, admins=[ADMIN["aadObjectId"]]) as harness:
        for who, chat in ((COORDINATOR, COORDINATOR_CHAT), (ADMIN, ADMIN_CHAT)):
            await harness.say("help", conversation=chat, conversation_type="personal", sender=who)
        yield harness


async def live_day(bot: Harness, day: date) -> None:
    """03:00 housekeeping; 09:00 the evaluation, a tick later its nudges; 18:00 the rest."""
    runner = bot.app[PARTS].runner
    bot.clock.set(datetime.combine(day, time(3, 0), HELSINKI))
    await bot.app[PARTS].housekeeping()
    await bot.run_jobs()
    bot.clock.set(datetime.combine(day, time(9, 0, 1), HELSINKI))
    await runner.run_due()
    await bot.advance(timedelta(seconds=2))
    bot.clock.set(datetime.combine(day, time(18, 0), HELSINKI))
    await bot.run_jobs()


def nudges(bot: Harness, chat: str) -> list[dict]:
    return [
        card
        for r in bot.connector.received
        if r.kind == "send" and r.conversation_id == chat
        for card in cards_of([r.activity])
        if any(a.get("verb") == "nudge.schedule" for a in card.get("actions", []))
    ]


async def nudge_days(bot: Harness, first: date, last: date, chat: str = COORDINATOR_CHAT) -> list[date]:
    days = []
    day = first
    while day <= last:
        before = len(nudges(bot, chat))
        await live_day(bot, day)
        if len(nudges(bot, chat)) > before:
            days.append(day)
        day += timedelta(days=1)
    return days


def action(card: dict, verb: str, **match: object) -> dict:
    return next(
        a["data"]
        for a in card["actions"]
        if a.get("verb") == verb and all(a["data"].get(k) == v for k, v in match.items())
    )


async def test_weekly_nudges_come_on_the_same_weekday(bot: Harness) -> None:
    await bot.say('network create "Taloustorstai" weekly', sender=COORDINATOR)
    days = await nudge_days(bot, date(2026, 1, 6), date(2026, 2, 28))
    # 6.1. is Epiphany: the first nudge comes on Wednesday 7.1., then every Wednesday
    # (not a day later each week).
    assert days[:4] == [date(2026, 1, 7), date(2026, 1, 14), date(2026, 1, 21), date(2026, 1, 28)]
    assert {d.weekday() for d in days} == {2}


async def test_the_fourth_nudge_reaches_an_admin_set_by_entra_id_who_can_snooze(bot: Harness) -> None:
    await bot.say('network create "Taloustorstai" weekly', sender=COORDINATOR)
    days = await nudge_days(bot, date(2026, 1, 6), date(2026, 1, 27))
    assert len(days) == 3
    assert nudges(bot, ADMIN_CHAT) == [], "three unanswered nudges go to the coordinators only"
    assert await nudge_days(bot, date(2026, 1, 28), date(2026, 1, 28), ADMIN_CHAT) == [date(2026, 1, 28)]
    [card] = nudges(bot, ADMIN_CHAT)
    assert_valid_card(card)
    assert "Taloustorstai has not met yet; it usually meets weekly." in texts(card)

    answer = await bot.click(
        "nudge.snooze",
        action(card, "nudge.snooze", weeks=2),
        conversation=ADMIN_CHAT,
        conversation_type="personal",
        sender=ADMIN,
    )
    assert "I'll ask again about Taloustorstai in 2 weeks." in texts(answer["value"])
    # Snoozed for two weeks: the next nudge comes on 11.2., to the coordinator only (answered).
    before = len(nudges(bot, ADMIN_CHAT))
    assert (await nudge_days(bot, date(2026, 1, 29), date(2026, 2, 11)))[0] == date(2026, 2, 11)
    assert len(nudges(bot, ADMIN_CHAT)) == before


async def test_an_admin_can_schedule_from_the_nudge(bot: Harness) -> None:
    await bot.say('network create "Taloustorstai" weekly', sender=COORDINATOR)
    await nudge_days(bot, date(2026, 1, 6), date(2026, 1, 28))
    [card] = nudges(bot, ADMIN_CHAT)
    bot.clock.set(datetime(2026, 1, 28, 10, 0, tzinfo=HELSINKI))  # pressed in the morning
    answer = await bot.click(
        "nudge.schedule",
        action(card, "nudge.schedule"),
        conversation=ADMIN_CHAT,
        conversation_type="personal",
        sender=ADMIN,
    )
    assert "Scheduled" in texts(answer["value"])
    network = (await bot.app[PARTS].web.networks.all())[0]
    assert len(await bot.app[PARTS].web.sessions.for_network(network.id)) == 1


async def test_schedule_pressed_twice_makes_one_session(bot: Harness) -> None:
    await bot.say('network create "Taloustorstai" weekly', sender=COORDINATOR)
    await nudge_days(bot, date(2026, 1, 7), date(2026, 1, 7))
    [card] = nudges(bot, COORDINATOR_CHAT)
    bot.clock.set(datetime(2026, 1, 7, 10, 0, tzinfo=HELSINKI))
    data = action(card, "nudge.schedule")
    group_cards = len([r for r in bot.connector.received if r.conversation_id == "19:group-chat"])
    for _ in range(2):  # a stale card pressed again (or a second coordinator pressing it)
        answer = await bot.click(
            "nudge.schedule", data, conversation=COORDINATOR_CHAT, conversation_type="personal"
        )
        assert "Scheduled" in texts(answer["value"])
    await bot.run_jobs()
    network = (await bot.app[PARTS].web.networks.all())[0]
    sessions = await bot.app[PARTS].web.sessions.for_network(network.id)
    assert [s.starts_at for s in sessions] == [datetime.fromisoformat(data["start"])]
    posted = [r for r in bot.connector.received if r.conversation_id == "19:group-chat"][group_cards:]
    assert len(posted) == 1, "one announcement"


async def test_schedule_pressed_at_once_by_two_makes_one_session(bot: Harness) -> None:
    await bot.say('network create "Taloustorstai" weekly', sender=COORDINATOR)
    await nudge_days(bot, date(2026, 1, 7), date(2026, 1, 7))
    [card] = nudges(bot, COORDINATOR_CHAT)
    bot.clock.set(datetime(2026, 1, 7, 10, 0, tzinfo=HELSINKI))
    data = action(card, "nudge.schedule")
    answers = await asyncio.gather(
        bot.click("nudge.schedule", data, conversation=COORDINATOR_CHAT, conversation_type="personal"),
        bot.click("nudge.schedule", data, conversation=COORDINATOR_CHAT, conversation_type="personal"),
    )
    assert all("Scheduled" in texts(answer["value"]) for answer in answers)
    network = (await bot.app[PARTS].web.networks.all())[0]
    assert len(await bot.app[PARTS].web.sessions.for_network(network.id)) == 1


async def test_a_retried_nudge_job_counts_once_and_never_goes_out_of_hours(bot: Harness) -> None:
    await bot.say('network create "Taloustorstai" weekly', sender=COORDINATOR)
    network = (await bot.app[PARTS].web.networks.all())[0]
    parts = bot.app[PARTS]
    jobs = SqlJobStore(parts.database, bot.clock)
    nudge_store = SqlNudgeStore(parts.database)

    # A nudge job delayed to 20:00 (the bot was down) waits for the next working morning.
    bot.clock.set(datetime(2026, 1, 7, 20, 0, tzinfo=HELSINKI))
    payload = {"network_id": network.id, "cause": "due", "date": "2026-01-07"}
    await jobs.enqueue(NewJob(NUDGE, payload, bot.clock.now(), f"nudge:{network.id}:2026-01-07"))
    await bot.run_jobs()
    assert nudges(bot, COORDINATOR_CHAT) == []
    bot.clock.set(datetime(2026, 1, 8, 7, 59, tzinfo=HELSINKI))
    await bot.run_jobs()
    assert nudges(bot, COORDINATOR_CHAT) == []
    bot.clock.set(datetime(2026, 1, 8, 8, 0, tzinfo=HELSINKI))
    await bot.run_jobs()
    assert len(nudges(bot, COORDINATOR_CHAT)) == 1
    assert (await nudge_store.get(network.id)).unanswered == 1

    # The same day's job run again (a retry after a failure) neither counts nor sends again.
    payload = {"network_id": network.id, "cause": "due", "date": "2026-01-08"}
    await jobs.enqueue(NewJob(NUDGE, payload, bot.clock.now(), "nudge-retry"))
    await bot.advance(timedelta(minutes=5))
    assert (await nudge_store.get(network.id)).unanswered == 1
    assert len(nudges(bot, COORDINATOR_CHAT)) == 1


async def test_a_fixed_term_network_ends_on_a_saturday_and_when_paused(bot: Harness) -> None:
    await bot.say(
        'network create "Lauantai" weekly fixed-term until 28.2.2026',
        sender=COORDINATOR,
        conversation="19:g1",
    )
    await bot.say(
        'network create "Tauko" weekly fixed-term until 27.2.2026', sender=COORDINATOR, conversation="19:g2"
    )
    await bot.say("network pause Tauko", sender=COORDINATOR, conversation="19:g2")
    ended: dict[str, date] = {}
    day = date(2026, 2, 20)
    while day <= date(2026, 3, 3):
        await live_day(bot, day)
        for chat in ("19:g1", "19:g2"):
            said = [r.activity.get("text") or "" for r in bot.connector.received if r.conversation_id == chat]
            if chat not in ended and any("has ended" in text for text in said):
                ended[chat] = day
        day += timedelta(days=1)
    assert ended == {"19:g1": date(2026, 2, 28), "19:g2": date(2026, 2, 27)}
    [listing] = cards_of(await bot.say("networks", sender=COORDINATOR, conversation="19:g1"))
    assert "Lauantai" not in texts(listing)
    assert "Tauko" not in texts(listing)


def report(status: CadenceStatus, fading: bool) -> CadenceReport:
    return CadenceReport(
        network_id=0,
        status=status,
        last_held=None,
        next_scheduled=None,
        expected_interval=timedelta(days=7),
        held_last_12_months=12,
        bucket=">10",
        missed_intervals=0,
        fading_attendance=fading,
        recent_average=None,
        year_average=None,
        weeks_since_last=1,
    )


def network(name: str) -> Network:
    from domain.networks import NetworkKind, NetworkStatus

    return Network(
        id=0,
        slug=name.lower(),
        name=name,
        lang="en",
        cadence=parse_cadence("weekly"),
        kind=NetworkKind.CONTINUOUS,
        status=NetworkStatus.ACTIVE,
        timezone="Europe/Helsinki",
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
        home_conversation_id="19:x",
    )


def test_the_overview_lists_lapsed_then_fading_then_the_rest() -> None:
    reports = [
        (network("Aamu"), report(CadenceStatus.OVERDUE, fading=False)),
        (network("Bussi"), report(CadenceStatus.ON_TRACK, fading=True)),
        (network("Cello"), report(CadenceStatus.DUE, fading=False)),
        (network("Delta"), report(CadenceStatus.LAPSED, fading=False)),
    ]
    card = overview_card(Catalogs()["en"], reports)
    assert_valid_card(card)
    shown = [line.split("**")[1] for line in texts(card).splitlines() if line.startswith("**")]
    assert shown == ["Delta", "Bussi", "Aamu", "Cello"]


async def confirm_at(bot: Harness, network_name: str, when: str) -> None:
    [card] = cards_of(await bot.say(f'schedule {network_name} "{when}"', sender=COORDINATOR))
    draft = next(a["data"] for a in card["actions"] if a["verb"] == "session.confirm")
    await bot.click("session.confirm", draft, sender=COORDINATOR)


async def check_in(bot: Harness, at: datetime, people: tuple[int, ...]) -> None:
    bot.clock.set(at)
    await bot.run_jobs()
    for n in people:
        await bot.say("here", sender=user(n, f"Person {n}"))


def evaluations(bot: Harness) -> list[dict]:
    return [
        card
        for r in bot.connector.received
        if r.kind == "send" and r.conversation_id == COORDINATOR_CHAT
        for card in cards_of([r.activity])
        if any(a.get("verb") == "eval.continue" for a in card.get("actions", []))
    ]


async def test_the_yearly_evaluation_shows_new_and_returning_and_its_buttons_work(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2025, 6, 2, 7, 0, tzinfo=UTC))
    async with running_bot(tmp_path, clock) as bot:
        await bot.say("help", conversation=COORDINATOR_CHAT, conversation_type="personal", sender=COORDINATOR)
        await bot.say('network create "Jatkuva" monthly', sender=COORDINATOR)
        await confirm_at(bot, "Jatkuva", "5.6.2025 14:00")
        await check_in(bot, datetime(2025, 6, 5, 14, 5, tzinfo=HELSINKI), (2, 3))
        bot.clock.set(datetime(2026, 6, 1, 9, 0, tzinfo=HELSINKI))
        await confirm_at(bot, "Jatkuva", "4.6.2026 14:00")
        await confirm_at(bot, "Jatkuva", "11.6.2026 14:00")
        await check_in(bot, datetime(2026, 6, 4, 14, 5, tzinfo=HELSINKI), (2, 4))  # 2 returns, 4 is new
        await check_in(bot, datetime(2026, 6, 11, 14, 5, tzinfo=HELSINKI), (4, 5))  # 5 is new
        # The evaluation month is January: on its first business day (1.1. is a holiday, then a
        # weekend) the coordinator gets the card, once.
        for day, cards in ((date(2026, 12, 31), 0), (date(2027, 1, 1), 0), (date(2027, 1, 4), 1)):
            await live_day(bot, day)
            assert len(evaluations(bot)) == cards
        await live_day(bot, date(2027, 1, 5))
        [card] = evaluations(bot)
        assert_valid_card(card)
        shown = texts(card)
        assert "Yearly evaluation of Jatkuva" in shown
        for fact, value in (
            ("Sessions held", "2"),
            ("Participants", "3"),
            ("New participants", "2"),
            ("Returning participants", "1"),
        ):
            assert f"{fact}\n{value}" in shown, shown
        assert "Came more than once" not in shown

        chat = {"conversation": COORDINATOR_CHAT, "conversation_type": "personal", "sender": COORDINATOR}
        answer = await bot.click("eval.continue", action(card, "eval.continue"), **chat)
        assert "Jatkuva goes on." in texts(answer["value"])
        data = {**action(card, "eval.cadence"), "cadence": "biweekly"}  # the card's choice, as Teams sends it
        answer = await bot.click("eval.cadence", data, **chat)
        assert "Jatkuva now meets every other week." in texts(answer["value"])
        answer = await bot.click("nudge.end", action(card, "nudge.end"), **chat)
        confirm_card = answer["value"]
        assert_valid_card(confirm_card)
        assert "End Jatkuva?" in texts(confirm_card)
        answer = await bot.click("lifecycle.end_now", action(confirm_card, "lifecycle.end_now"), **chat)
        assert "Jatkuva has ended" in texts(answer["value"])
        await bot.run_jobs()
        assert any(
            "Jatkuva has ended" in (r.activity.get("text") or "")
            for r in bot.connector.received
            if r.conversation_id == "19:group-chat"
        )

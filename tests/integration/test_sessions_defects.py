"""Scheduling defects a coordinator would hit: stale confirmations, lost drafts, wrong weekdays,
misstated series, moved and paused announcements, one failing chat, whole series cancelled.

The clock starts on Friday 4 December 2026, 10:00 in Helsinki.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import PARTS
from dialogs.i18n import Catalogs
from domain.clock import FakeClock
from tests.support.cards import assert_valid_card
from tests.support.harness import Harness, cards_of, running_bot, texts, user

FI = Catalogs()["fi"]
SV = Catalogs()["sv"]
EN = Catalogs()["en"]
FRIDAY = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)  # Fri 4.12.2026 10:00 in Helsinki


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, FakeClock(FRIDAY)) as harness:
        yield harness


async def network(bot: Harness, extra: str = "") -> None:
    await bot.say(f'network create "Taloustorstai" weekly {extra}'.strip())


async def draft(bot: Harness, command: str, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The confirmation card of ``command`` and its buttons' data by verb."""
    [card] = cards_of(await bot.say(command, **kwargs))
    assert_valid_card(card)
    return card, {a["verb"]: a["data"] for a in card["actions"]}


def sent_cards(bot: Harness, since: int = 0) -> list[dict[str, Any]]:
    return [c for r in bot.connector.received[since:] if r.kind == "send" for c in cards_of([r.activity])]


async def session_ids(bot: Harness) -> list[int]:
    svc = bot.app[PARTS].web
    return [s.id for s in await svc.sessions.for_network(1, start=bot.clock.now())]


# --- 1. confirm checks the draft again ---------------------------------------------------------


async def test_a_confirmation_clicked_after_its_start_is_refused(bot: Harness) -> None:
    await network(bot)
    _, verbs = await draft(bot, 'schedule Taloustorstai "tomorrow 10:00"')
    bot.clock.advance(timedelta(days=2))

    answer = await bot.click("session.confirm", verbs["session.confirm"])

    assert "is already in the past" in answer["value"]
    assert "Saturday 5 December 2026 10:00" in answer["value"]  # written for people, not ISO
    await bot.run_jobs()
    assert sent_cards(bot) == []
    assert await session_ids(bot) == []


async def test_a_confirmation_after_the_network_ended_is_refused(bot: Harness) -> None:
    await network(bot)
    _, verbs = await draft(bot, 'schedule Taloustorstai "next friday 10:00"')
    await bot.say("network end Taloustorstai")

    answer = await bot.click("session.confirm", verbs["session.confirm"])

    assert answer["value"] == EN._("{network} has ended.", network="Taloustorstai")
    await bot.run_jobs()
    assert sent_cards(bot) == []


async def test_a_confirmation_while_paused_says_nothing_is_announced_yet(bot: Harness) -> None:
    await network(bot)
    await bot.say("network pause Taloustorstai")
    _, verbs = await draft(bot, 'schedule Taloustorstai "tuesday 10:00"')

    answer = await bot.click("session.confirm", verbs["session.confirm"])

    assert_valid_card(answer["value"])
    assert "is paused" in texts(answer["value"])


# --- 2. a typo in Change keeps the draft --------------------------------------------------------


async def test_a_typo_in_the_change_form_keeps_the_draft(bot: Harness) -> None:
    await network(bot, "lang fi")
    _, verbs = await draft(bot, 'sovi Taloustorstai "ensi perjantaina klo 10"', locale="fi-FI")
    change = {**verbs["session.change"], "minutes": 60, "topic": ""}

    typo = await bot.click("session.redraft", {**change, "when": "perjantaina kello"}, locale="fi-FI")
    assert isinstance(typo["value"], str)  # the reason, as text

    fixed = await bot.click("session.redraft", {**change, "when": "huomenna klo 10"}, locale="fi-FI")
    assert_valid_card(fixed["value"])
    assert "5.12.2026" in texts(fixed["value"])
    # and the original card's Confirm no longer applies: its draft was replaced
    old = await bot.click("session.confirm", verbs["session.confirm"], locale="fi-FI")
    assert old["value"] == FI._("That confirmation has already been handled.")


# --- 3. changing a series' date to another weekday ----------------------------------------------


async def test_changing_a_weekly_series_to_friday_makes_fridays(bot: Harness) -> None:
    await network(bot, "lang fi")
    _, verbs = await draft(bot, 'sovi Taloustorstai "joka torstai klo 14" 3 kertaa', locale="fi-FI")
    answer = await bot.click(
        "session.redraft",
        {**verbs["session.change"], "when": "11.12.2026 14:00", "minutes": 60, "topic": ""},
        locale="fi-FI",
    )
    card = answer["value"]
    assert "joka perjantai" in texts(card)
    confirm = next(a["data"] for a in card["actions"] if a["verb"] == "session.confirm")
    await bot.click("session.confirm", confirm, locale="fi-FI")

    svc = bot.app[PARTS].web
    starts = [s.starts_at for s in await svc.sessions.for_network(1, start=bot.clock.now())]
    assert [s.astimezone(FRIDAY.tzinfo).date().isoformat() for s in starts] == [
        "2026-12-11",
        "2026-12-18",
        "2026-12-25",
    ]


# --- 4. the Repeats line says the whole rule ---------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "command", "expected"),
    [
        ("en-US", 'schedule Taloustorstai "every monday and thursday 14:00"', "every Monday and Thursday"),
        ("fi-FI", 'sovi Taloustorstai "joka maanantai ja torstai klo 14"', "joka maanantai ja torstai"),
        ("sv-SE", 'planera Taloustorstai "varje måndag och torsdag kl 14"', "varje måndag och torsdag"),
        ("fi-FI", 'sovi Taloustorstai "joka kolmas torstai klo 14"', "torstai joka 3. viikko"),
        ("en-US", 'schedule Taloustorstai "every 3 weeks on thursday 14:00"', "every 3 weeks on Thursday"),
        ("sv-SE", 'planera Taloustorstai "var tredje torsdag kl 14"', "torsdag var 3:e vecka"),
        (
            "en-US",
            'schedule Taloustorstai "last friday of the month 14:00"',
            "the last Friday of every month",
        ),
        (
            "fi-FI",
            'sovi Taloustorstai "kuun viimeinen perjantai klo 14"',
            "joka kuukauden viimeinen perjantai",
        ),
        ("sv-SE", 'planera Taloustorstai "sista fredagen varje månad kl 14"', "sista fredagen i varje månad"),
    ],
)
async def test_the_repeats_line_states_the_rule(
    bot: Harness, locale: str, command: str, expected: str
) -> None:
    await network(bot)
    card, _ = await draft(bot, command, locale=locale)
    assert expected in texts(card)


async def confirm_series(bot: Harness, command: str, **kwargs: Any) -> None:
    _, verbs = await draft(bot, command, **kwargs)
    answer = await bot.click("session.confirm", verbs["session.confirm"], **kwargs)
    assert_valid_card(answer["value"])
    await bot.run_jobs()


def announced(bot: Harness, since: int = 0) -> list[str]:
    """The "When" of each session card posted (not updated) since ``since``."""
    return [
        texts(card).split("\n")[3]
        for card in sent_cards(bot, since)
        if any(a.get("verb") == "session.rsvp" for a in card.get("actions", []))
    ]


# --- 5. a moved session is announced for its new time --------------------------------------------


async def test_a_session_moved_before_its_announcement_is_announced_for_the_new_time(bot: Harness) -> None:
    await network(bot)
    await confirm_series(bot, 'schedule Taloustorstai "every thursday 14:00" 6 times')
    ids = await session_ids(bot)
    before = len(bot.connector.received)

    await bot.say(f'move #{ids[3]} "tomorrow 10:00"')  # the 31 December one, not yet announced
    await bot.run_jobs()
    assert announced(bot, before) == ["Saturday 5 December 2026 10:00 (Eastern European Standard Time)"]

    # and no card of it comes later, when its old announcement time passes
    later = len(bot.connector.received)
    for _ in range(4 * 24):
        await bot.advance(timedelta(hours=6))
        if bot.clock.now() > datetime(2026, 12, 28, tzinfo=UTC):
            break
    assert "Saturday 5 December" not in " ".join(announced(bot, later))


# --- 6. resume announces what the pause held back -----------------------------------------------


async def test_resume_announces_the_sessions_skipped_while_paused(bot: Harness) -> None:
    await network(bot)
    await confirm_series(bot, 'schedule Taloustorstai "every thursday 14:00"')
    await bot.say("network pause Taloustorstai")
    while bot.clock.now() < datetime(2026, 12, 11, 8, 0, tzinfo=UTC):  # past 17.12's announcement
        await bot.advance(timedelta(hours=1))
    before = len(bot.connector.received)

    await bot.say("network resume Taloustorstai")
    await bot.run_jobs()
    await bot.say("network pause Taloustorstai")
    await bot.say("network resume Taloustorstai")  # twice: still one card
    await bot.run_jobs()

    assert announced(bot, before) == ["Thursday 17 December 2026 14:00 (Eastern European Standard Time)"]


# --- 7. one refused chat does not stop the others -----------------------------------------------


@pytest.mark.parametrize("status", [403, 503])
async def test_a_refused_personal_chat_does_not_stop_the_others(bot: Harness, status: int) -> None:
    for n, chat in ((2, "a:u2"), (3, "a:u3")):
        await bot.say("help", sender=user(n), conversation=chat, conversation_type="personal")
    await network(bot)
    await confirm_series(bot, 'schedule Taloustorstai "next friday 10:00"')
    [session_id] = await session_ids(bot)
    for n in (2, 3):
        await bot.click("session.rsvp", {"session": session_id, "coming": True}, sender=user(n))
    bot.connector.force_status("a:u2", status, times=1)

    await bot.say(f"cancel #{session_id}")
    await bot.run_jobs()
    told = [r for r in bot.connector.for_conversation("a:u3") if r.kind == "send"]
    assert len(told) == 1
    assert "is cancelled" in told[0].activity["text"]

    await bot.advance(timedelta(minutes=30))  # the retry, when a retry may help
    u2 = [r for r in bot.connector.for_conversation("a:u2") if r.kind == "send"]
    assert len(u2) == (1 if status == 503 else 0)
    assert len([r for r in bot.connector.for_conversation("a:u3") if r.kind == "send"]) == 1


# --- 8. a whole series cancelled ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "command", "tr"), [("en-US", "cancel", EN), ("fi-FI", "peru", FI), ("sv-SE", "avboka", SV)]
)
async def test_a_whole_series_is_cancelled(bot: Harness, locale: str, command: str, tr: Any) -> None:
    await bot.say("help", sender=user(2), conversation="a:u2", conversation_type="personal")
    await network(bot)
    await confirm_series(bot, 'schedule Taloustorstai "every thursday 14:00"')
    ids = await session_ids(bot)
    await bot.click("session.rsvp", {"session": ids[0], "coming": True}, sender=user(2))
    await bot.run_jobs()
    word = {"en-US": "all", "fi-FI": "kaikki", "sv-SE": "alla"}[locale]

    [reply] = await bot.say(f"{command} #{ids[1]} {word}", locale=locale)
    await bot.run_jobs()

    assert reply["text"] == tr.n_(
        "Cancelled the series of {network}: {n} coming session. Those coming are told; no more are made.",
        "Cancelled the series of {network}: {n} coming sessions. Those coming are told; no more are made.",
        len(ids),
        network="Taloustorstai",
    )
    assert await session_ids(bot) == ids  # the rows stay, cancelled
    svc = bot.app[PARTS].web
    assert {s.status for s in await svc.sessions.for_network(1, start=bot.clock.now())} == {"cancelled"}
    [updated] = [r for r in bot.connector.received if r.kind == "update"][-1:]
    assert "Cancelled" in texts(cards_of([updated.activity])[0])  # the posted card says so
    told = [r for r in bot.connector.for_conversation("a:u2") if r.kind == "send"]
    assert any("is cancelled" in r.activity.get("text", "") for r in told)
    # and the daily extension makes no new ones
    bot.clock.advance(timedelta(days=30))
    await bot.app[PARTS].housekeeping()
    assert all(s.status == "cancelled" for s in await svc.sessions.for_network(1, start=bot.clock.now()))


async def test_cancelling_all_of_a_single_session_says_it_is_not_a_series(bot: Harness) -> None:
    await network(bot)
    await confirm_series(bot, 'schedule Taloustorstai "next friday 10:00"')
    [session_id] = await session_ids(bot)
    [reply] = await bot.say(f"cancel #{session_id} all")
    assert "not part of a series" in reply["text"]


# --- 9. dates in messages are written in the user's language ------------------------------------


@pytest.mark.parametrize(
    ("locale", "command", "expected"),
    [
        ("fi-FI", 'sovi Taloustorstai "3.12.2026 klo 10"', "torstaina 3.12.2026 10:00 on jo mennyt"),
        ("sv-SE", 'planera Taloustorstai "3.12.2026 kl 10"', "torsdag 3.12.2026 10:00"),
        ("fi-FI", 'sovi Taloustorstai "24.12. klo 10"', "24.12.2026"),
        ("en-US", 'schedule Taloustorstai "24.12. 10:00"', "24 December 2026"),
    ],
)
async def test_dates_in_messages_are_localised(
    bot: Harness, locale: str, command: str, expected: str
) -> None:
    await network(bot)
    replies = await bot.say(command, locale=locale)
    shown = " ".join([r.get("text") or "" for r in replies] + [texts(c) for c in cards_of(replies)])
    assert expected in shown
    assert "2026-12" not in shown


# --- 10. numbers in an unquoted topic; time ranges ----------------------------------------------


async def test_a_year_in_an_unquoted_topic_is_part_of_the_topic(bot: Harness) -> None:
    await network(bot, "lang fi")
    card, _ = await draft(bot, 'sovi Taloustorstai "ensi torstaina klo 14" Budjetti 2027', locale="fi-FI")
    assert "Budjetti 2027" in texts(card)
    assert FI.n_("{n} minute", "{n} minutes", 60) in texts(card)
    card, _ = await draft(bot, 'sovi Taloustorstai "ensi torstaina klo 14" 90 Budjetti', locale="fi-FI")
    assert FI.n_("{n} minute", "{n} minutes", 90) in texts(card)
    assert "Budjetti" in texts(card)


@pytest.mark.parametrize("when", ["huomenna klo 10-12", "huomenna klo 10\u201312", "huomenna 10-12"])
async def test_a_time_range_sets_the_length(bot: Harness, when: str) -> None:
    await network(bot, "lang fi")
    card, _ = await draft(bot, f'sovi Taloustorstai "{when}"', locale="fi-FI")
    assert FI.n_("{n} minute", "{n} minutes", 120) in texts(card)
    assert "10:00" in texts(card)


# --- 11. ambiguous dates are warned of on the confirmation card ----------------------------------


@pytest.mark.parametrize(
    ("locale", "command", "tr"),
    [
        ("en-US", 'schedule Taloustorstai "thursday at 3"', EN),
        ("fi-FI", 'sovi Taloustorstai "torstaina klo 3"', FI),
        ("sv-SE", 'planera Taloustorstai "torsdag kl 3"', SV),
    ],
)
async def test_a_night_hour_is_asked_about_on_the_card(
    bot: Harness, locale: str, command: str, tr: Any
) -> None:
    await network(bot)
    card, verbs = await draft(bot, command, locale=locale)
    assert tr._(
        "{time} is at night or early in the morning \u2014 did you mean {later}?", time="03:00", later="15:00"
    ) in texts(card)
    assert "session.change" in verbs  # one click to correct it


async def test_a_day_that_just_passed_is_refused_not_moved_a_year(bot: Harness) -> None:
    await network(bot)
    [reply] = await bot.say('sovi Taloustorstai "1.12. klo 10"', locale="fi-FI")
    assert "on jo mennyt" in reply["text"]


async def test_todays_weekday_is_warned_to_mean_next_week(bot: Harness) -> None:
    await network(bot)
    card, _ = await draft(bot, 'sovi Taloustorstai "perjantaina klo 14"', locale="fi-FI")
    assert FI._(
        "That is {date}, a week from today. For today, write \u201ctoday\u201d.", date="11.12.2026"
    ) in texts(card)


# --- 12. "I'm here" on the card during the check-in window ---------------------------------------


async def test_the_refreshed_card_has_im_here_only_during_the_checkin_window(bot: Harness) -> None:
    await network(bot)
    await confirm_series(bot, 'schedule Taloustorstai "tomorrow 10:00" 60 min')  # Sat 5.12. 08:00 UTC
    [session_id] = await session_ids(bot)

    async def verbs_at(moment: datetime) -> list[str]:
        bot.clock.advance(moment - bot.clock.now())
        answer = await bot.click("session.view", {"session": session_id}, sender=user(2))
        assert_valid_card(answer["value"])
        return [a.get("verb", "") for a in answer["value"]["actions"]]

    assert "session.checkin" not in await verbs_at(datetime(2026, 12, 5, 7, 44, tzinfo=UTC))
    inside = await verbs_at(datetime(2026, 12, 5, 7, 46, tzinfo=UTC))
    assert inside[0] == "session.checkin"
    assert "session.checkin" in await verbs_at(datetime(2026, 12, 5, 8, 59, tzinfo=UTC))
    answer = await bot.click("session.checkin", {"session": session_id}, sender=user(2))
    assert_valid_card(answer["value"])
    assert "session.checkin" not in await verbs_at(datetime(2026, 12, 5, 9, 1, tzinfo=UTC))

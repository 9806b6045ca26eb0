"""Moving a session warns like scheduling does, and refuses words it would otherwise ignore.

The clock starts on Friday 4 December 2026, 10:00 in Helsinki.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import PARTS
from dialogs.i18n import Catalogs
from domain.clock import FakeClock
from tests.support.cards import assert_valid_card
from tests.support.harness import Harness, cards_of, running_bot

FRIDAY = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)  # Fri 4.12.2026 10:00 in Helsinki
LOCALES = {"fi": "fi-FI", "sv": "sv-SE", "en": "en-GB"}
MOVE = {"fi": "siirrä", "sv": "flytta", "en": "move"}
SCHEDULE = {"fi": "sovi", "sv": "planera", "en": "schedule"}
WARNING = "\u26a0 "


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, FakeClock(FRIDAY)) as harness:
        yield harness


async def one_session(bot: Harness) -> int:
    """A 60-minute session next Friday; its id."""
    await bot.say('network create "Taloustorstai" weekly')
    [card] = cards_of(await bot.say('schedule Taloustorstai "next friday 10:00"'))
    verbs = {a["verb"]: a["data"] for a in card["actions"]}
    await bot.click("session.confirm", verbs["session.confirm"])
    [session] = await bot.app[PARTS].web.sessions.for_network(1, start=bot.clock.now())
    return session.id


async def card_warnings(bot: Harness, lang: str, when: str) -> list[str]:
    """The warnings the schedule confirmation card gives for ``when``."""
    [card] = cards_of(await bot.say(f'{SCHEDULE[lang]} Taloustorstai "{when}"', locale=LOCALES[lang]))
    assert_valid_card(card)
    return [block["text"] for block in card["body"] if str(block.get("text", "")).startswith(WARNING)]


async def move(bot: Harness, lang: str, rest: str) -> str:
    [reply] = await bot.say(f"{MOVE[lang]} {rest}", locale=LOCALES[lang])
    return str(reply["text"])


async def starts_at(bot: Harness, session_id: int) -> datetime:
    sessions = await bot.app[PARTS].web.sessions.for_network(1, start=bot.clock.now())
    return next(s.starts_at for s in sessions if s.id == session_id)


HOLIDAY = {"fi": "Itsenäisyyspäivä", "sv": "Självständighetsdagen", "en": "Independence Day"}
HOLIDAY_TIME = {"fi": "6.12.2027 klo 10", "sv": "6.12.2027 kl 10", "en": "6.12.2027 10:00"}
NIGHT_TIME = {"fi": "perjantaina klo 3", "sv": "fredag kl 3", "en": "friday at 3"}  # a week from today


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
async def test_a_move_to_a_public_holiday_warns_as_scheduling_does(bot: Harness, lang: str) -> None:
    session_id = await one_session(bot)
    expected = await card_warnings(bot, lang, HOLIDAY_TIME[lang])
    assert len(expected) == 1
    assert HOLIDAY[lang] in expected[0]

    text = await move(bot, lang, f'#{session_id} "{HOLIDAY_TIME[lang]}"')

    assert text.split("\n\n")[1:] == expected
    assert await starts_at(bot, session_id) == datetime(2027, 12, 6, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
async def test_a_move_to_a_small_hour_asks_whether_afternoon_was_meant(bot: Harness, lang: str) -> None:
    session_id = await one_session(bot)
    expected = await card_warnings(bot, lang, NIGHT_TIME[lang])
    assert len(expected) == 2  # the night hour, and today's weekday meaning next week
    assert "03:00" in expected[0]
    assert "15:00" in expected[0]
    assert "11.12.2026" in expected[1] or "11 Dec 2026" in expected[1]

    text = await move(bot, lang, f'#{session_id} "{NIGHT_TIME[lang]}"')

    assert text.split("\n\n")[1:] == expected


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
async def test_a_plain_move_has_no_warning(bot: Harness, lang: str) -> None:
    session_id = await one_session(bot)
    time = {"fi": "18.12.2026 klo 10", "sv": "18.12.2026 kl 10", "en": "18.12.2026 10:00"}[lang]
    text = await move(bot, lang, f'#{session_id} "{time}"')
    assert WARNING not in text
    assert "\n\n" not in text


EXTRA = {"fi": "aiheena budjetti", "sv": "ämne budget", "en": "about the budget"}
USAGE = {
    "fi": 'siirrä #12 "perjantaina klo 10"',
    "sv": 'flytta #12 "fredag kl 10"',
    "en": 'move #12 "friday 10:00"',
}


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
async def test_words_after_the_new_time_are_refused_and_nothing_moves(bot: Harness, lang: str) -> None:
    session_id = await one_session(bot)
    before = await starts_at(bot, session_id)
    catalog = Catalogs()[lang]

    text = await move(bot, lang, f'#{session_id} "{HOLIDAY_TIME[lang]}" {EXTRA[lang]}')

    assert text == catalog._(
        "I didn't understand \u201c{words}\u201d after the new time. Nothing was moved. Use: {usage}",
        words=EXTRA[lang],
        usage=USAGE[lang],
    )
    assert EXTRA[lang] in text
    assert USAGE[lang] in text
    assert await starts_at(bot, session_id) == before


@pytest.mark.parametrize("lang", ["fi", "sv", "en"])
async def test_a_new_length_after_the_time_is_refused_as_moves_keep_it(bot: Harness, lang: str) -> None:
    session_id = await one_session(bot)
    before = await starts_at(bot, session_id)

    text = await move(bot, lang, f'#{session_id} "{HOLIDAY_TIME[lang]}" 90 min')

    assert text == Catalogs()[lang]._(
        "Moving keeps the session's length ({minutes} min), so \u201c{words}\u201d can't be applied. "
        "Nothing was moved. Use: {usage}",
        minutes=60,
        words="90 min",
        usage=USAGE[lang],
    )
    assert await starts_at(bot, session_id) == before


async def test_the_sessions_own_length_and_an_unquoted_time_are_accepted(bot: Harness) -> None:
    session_id = await one_session(bot)

    text = await move(bot, "en", f"#{session_id} 18.12.2026 10:00 am 60 min")

    assert text.startswith("Moved: Taloustorstai is now Friday 18 December 2026 10:00")
    assert await starts_at(bot, session_id) == datetime(2026, 12, 18, 8, 0, tzinfo=UTC)

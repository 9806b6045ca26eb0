"""`sessions NAME`: upcoming sessions with how many are coming, past ones with how many took part."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from dialogs.i18n import Catalogs
from domain.clock import FakeClock
from tests.integration.test_participation_flow import session_today
from tests.support.cards import assert_valid_card
from tests.support.harness import Harness, cards_of, running_bot, texts, user


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, FakeClock()) as harness:
        yield harness


async def schedule(bot: Harness, when: str) -> int:
    [card] = cards_of(await bot.say(f'schedule Digisumpit "{when}"'))
    draft = next(a["data"] for a in card["actions"] if a["verb"] == "session.confirm")
    answer = await bot.click("session.confirm", draft)
    await bot.run_jobs()
    posted = [r for r in bot.connector.received if r.kind == "send" and cards_of([r.activity])]
    rsvp = next(a for a in cards_of([posted[-1].activity])[0]["actions"] if a.get("verb") == "session.rsvp")
    assert answer["type"] == "application/vnd.microsoft.card.adaptive"
    return int(rsvp["data"]["session"])


def line_of(card: dict, session_id: int) -> str:
    [line] = [t for t in texts(card).splitlines() if t.startswith(f"**#{session_id}**")]
    return line


async def test_past_sessions_show_who_took_part_and_upcoming_ones_who_is_coming(bot: Harness) -> None:
    held = await session_today(bot)  # today 12:00 Helsinki; Teams sends no meeting events
    dropped = await schedule(bot, "today 15:00")
    await bot.say(f"cancel #{dropped}")
    quiet = await schedule(bot, "tomorrow 12:00")  # held, but nobody checks in
    later = await schedule(bot, "next thursday 14:00")
    for n in (8, 9):
        await bot.click("session.rsvp", {"session": later, "coming": True}, sender=user(n))

    bot.clock.advance(timedelta(minutes=50))  # ten minutes before the first
    for n in (2, 3, 4, 5, 6):
        [reply] = await bot.say("here", sender=user(n))
        assert "You are checked in to Digisumpit" in reply["text"]
    await bot.say("here", sender=user(2))  # twice is still one person
    # RSVPs are intention, not attendance: one who said they'd come is not counted as there.
    await bot.click("session.rsvp", {"session": held, "coming": True}, sender=user(7))
    await bot.advance(timedelta(days=1, hours=3))  # both today's and tomorrow's are over

    for word, lang in (("sessions", "en"), ("tapaamiset", "fi"), ("träffar", "sv")):
        tr = Catalogs()[lang]
        [card] = cards_of(await bot.say(f"{word} Digisumpit"))
        assert_valid_card(card)
        assert card["lang"] == lang
        assert line_of(card, held).endswith(f"({tr.n_('held, {n} took part', 'held, {n} took part', 5)})")
        assert line_of(card, dropped).endswith(f"({tr._('cancelled')})")
        assert line_of(card, quiet).endswith(f"({tr._('held, no participants recorded')})")
        assert line_of(card, later).endswith(f"({tr.n_('{n} coming', '{n} coming', 2)})")
        recent = texts(card).split(tr._("Recent"))[1]
        assert f"**#{held}**" in recent
        assert f"**#{later}**" not in recent

    [card] = cards_of(await bot.say("sessions Digisumpit"))
    assert "(held, 5 took part)" in line_of(card, held)
    assert "(2 coming)" in line_of(card, later)

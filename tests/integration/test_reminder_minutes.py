"""TAPAAMO_REMINDER_MINUTES: how long before a session its reminder is posted in the network's chat."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.settings import Settings
from domain.clock import FakeClock
from tests.support.harness import Harness, cards_of, running_bot


async def session_at_noon(bot: Harness) -> None:
    """A network homed in the group chat, a session today at 12:00 Helsinki; it is now 11:00."""
    await bot.say('network create "Digisumpit" weekly')
    [card] = cards_of(await bot.say('schedule Digisumpit "today 12:00"'))
    draft = next(a["data"] for a in card["actions"] if a["verb"] == "session.confirm")
    await bot.click("session.confirm", draft)
    await bot.run_jobs()


def reminders(bot: Harness) -> list[str]:
    return [
        r.activity["text"]
        for r in bot.connector.received
        if r.kind == "send" and "starts soon" in (r.activity.get("text") or "")
    ]


@pytest.mark.parametrize("minutes", [30, 15])
async def test_the_home_reminder_comes_the_set_minutes_before(tmp_path: Path, minutes: int) -> None:
    async with running_bot(tmp_path, FakeClock(), reminder_minutes=minutes) as bot:
        await session_at_noon(bot)
        await bot.advance(timedelta(minutes=60 - minutes) - timedelta(seconds=1))
        assert reminders(bot) == []
        await bot.advance(timedelta(seconds=1))
        [reminder] = reminders(bot)
        assert reminder.startswith("Digisumpit starts soon: ")
        assert "12:00" in reminder


def test_the_default_is_fifteen_minutes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TAPAAMO_REMINDER_MINUTES", raising=False)
    assert Settings(_env_file=None).reminder_minutes == 15  # type: ignore[call-arg]
    monkeypatch.setenv("TAPAAMO_REMINDER_MINUTES", "30")
    assert Settings(_env_file=None).reminder_minutes == 30  # type: ignore[call-arg]

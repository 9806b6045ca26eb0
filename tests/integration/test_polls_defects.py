"""Feedback polls: a vote from another conversation, and counts of open polls in the web report."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.app import PARTS
from domain.clock import FakeClock
from tests.integration.test_polls_flow import held_session, poll_cards, vote_data
from tests.support.harness import Harness, cards_of, running_bot, texts, user


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, FakeClock()) as harness:
        yield harness


async def network_with_session(bot: Harness, name: str, conversation: str) -> None:
    await bot.say(f'network create "{name}" weekly', conversation=conversation)
    [card] = cards_of(await bot.say(f'schedule "{name}" "today 12:00"', conversation=conversation))
    draft = next(a["data"] for a in card["actions"] if a["verb"] == "session.confirm")
    await bot.click("session.confirm", draft, conversation=conversation)


async def test_a_vote_carrying_another_networks_poll_is_refused(
    bot: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    await network_with_session(bot, "Alpha", "19:group-chat")
    await network_with_session(bot, "Beta", "19:other-chat")
    await bot.advance(timedelta(hours=3))  # both sessions ended: both polls are posted
    database = bot.app[PARTS].database
    async with database.read() as session:
        polls = dict(
            (
                await session.execute(
                    text("SELECT n.name, p.id FROM polls p JOIN networks n ON n.id = p.network_id")
                )
            ).all()
        )
    # Someone in Alpha's chat sends a tap carrying Beta's poll id.
    response = await bot.click(
        "poll.vote",
        {"poll": polls["Beta"], "q": "work", "o": 1},
        sender=user(5),
        conversation="19:group-chat",
    )
    assert response["type"] == "application/vnd.microsoft.activity.message"
    assert "belongs to a poll of another conversation" in response["value"]
    assert any("refused a vote" in r.getMessage() for r in caplog.records)
    # The same in a personal chat, where no poll card is ever posted.
    await bot.click(
        "poll.vote",
        {"poll": polls["Alpha"], "q": "work", "o": 2},
        sender=user(5),
        conversation="a:personal-5",
        conversation_type="personal",
    )
    async with database.read() as session:
        assert (await session.execute(text("SELECT count(*) FROM votes"))).scalar() == 0
    # Beta's own chat answers Beta's poll.
    answered = await bot.click(
        "poll.vote",
        {"poll": polls["Beta"], "q": "work", "o": 4},
        sender=user(5),
        conversation="19:other-chat",
    )
    assert answered["type"] == "application/vnd.microsoft.card.adaptive"
    async with database.read() as session:
        assert (await session.execute(text("SELECT poll_id, option FROM votes"))).all() == [
            (polls["Beta"], 4)
        ]


def report_rows(page: str) -> list[tuple[str, str, str]]:
    return re.findall(
        r'<th scope="row">([^<]+)</th><td class="num">(\d+)</td><td class="num">(\d+\s?%)</td>', page
    )


async def test_the_web_report_shows_no_counts_of_an_open_poll(bot: Harness) -> None:
    await held_session(bot)
    await bot.advance(timedelta(hours=3))
    [card] = poll_cards(bot)
    for n in range(2, 8):
        await bot.click("poll.vote", vote_data(card, 5 if n < 4 else 2), sender=user(n))
    assert await report_page(bot) == []  # six answers, but the poll is open: nothing counted yet
    await bot.advance(timedelta(hours=73))
    rows = [(label, count, share.replace("\xa0", "")) for label, count, share in await report_page(bot)]
    assert ("2 Fairly poorly", "4", "67%") in rows


async def report_page(bot: Harness) -> list[tuple[str, str, str]]:
    [report] = cards_of(await bot.say('report "Kaffe med Uffe"'))
    path = report["actions"][0]["url"].split("://", 1)[1].split("/", 1)[1]
    return report_rows(await (await bot.client.get(f"/{path}?lang=en")).text())


async def test_questions_are_chosen_with_finnish_and_swedish_words(bot: Harness) -> None:
    await held_session(bot)
    [fi] = cards_of(await bot.say('kysymykset "Kaffe med Uffe" työ viestintä kommentti', locale="fi-FI"))
    assert "Miten hyödyllisenä pidit tapaamista oman työsi kannalta?" in texts(fi)
    database = bot.app[PARTS].database
    async with database.read() as session:
        chosen = (await session.execute(text("SELECT questions, comments FROM poll_settings"))).one()
    assert (json.loads(chosen[0]), bool(chosen[1])) == (["work", "communication"], True)
    await bot.say('frågor "Kaffe med Uffe" arbete kommun', locale="sv-SE")
    async with database.read() as session:
        chosen = (await session.execute(text("SELECT questions FROM poll_settings"))).one()
    assert json.loads(chosen[0]) == ["work", "municipality"]
    # A word not known: the answer names the words of the user's language.
    [wrong] = await bot.say('kysymykset "Kaffe med Uffe" palkka', locale="fi-FI")
    assert "työ, kunta, viestintä" in str(wrong)
    [usage] = await bot.say("kysymykset", locale="fi-FI")
    assert "kysymykset NIMI työ kunta viestintä [kommentti]" in str(usage)


async def test_the_poll_opens_the_configured_time_after_the_scheduled_end(tmp_path: Path) -> None:
    async with running_bot(tmp_path, FakeClock(), poll_open_delay_minutes=45) as bot:
        await held_session(bot)
        async with bot.app[PARTS].database.read() as session:
            ends_at = (await session.execute(text("SELECT ends_at FROM sessions"))).scalar()
        ends = ends_at if isinstance(ends_at, datetime) else datetime.fromisoformat(str(ends_at))
        now = bot.clock.now()
        await bot.advance(ends.replace(tzinfo=now.tzinfo) - now + timedelta(minutes=40))
        assert poll_cards(bot) == []  # 40 minutes after the end: not yet (the default would be 10)
        await bot.advance(timedelta(minutes=6))
        assert len(poll_cards(bot)) == 1

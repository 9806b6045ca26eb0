"""The report names organisations people recognise; `here` with two sessions open lets one pick."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from domain.clock import FakeClock
from tests.integration.test_participation_flow import session_today
from tests.support.cards import assert_valid_card
from tests.support.harness import Harness, cards_of, running_bot, texts, user

OTHER_TENANT = "7a9c3e10-5b2d-4f61-9e88-0c1d2e3f6789"


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, FakeClock()) as harness:
        yield harness


def joined(bot: Harness, people: list[dict[str, Any]]) -> dict[str, Any]:
    members = [{"user": person, "meeting": {"inMeeting": True}} for person in people]
    return bot.activity(
        "event", name="application/vnd.microsoft.meetingParticipantJoin", value={"members": members}
    )


async def report_texts(bot: Harness, text: str, **kwargs: Any) -> str:
    [card] = cards_of(await bot.say(text, **kwargs))
    assert_valid_card(card)
    return texts(card)


async def test_the_report_names_organisations_not_tenant_ids(bot: Harness) -> None:
    await session_today(bot)  # homed in the group chat of tenant-1
    bot.clock.advance(timedelta(minutes=55))
    await bot.say("here", sender=user(2))  # a check-in knows the tenant only: the home one
    await bot.post(
        joined(
            bot,
            [
                {**user(3), "tenantId": OTHER_TENANT},  # a guest from another tenant, no e-mail
                {**user(4), "tenantId": OTHER_TENANT},
                {**user(5), "tenantId": OTHER_TENANT, "email": "p5@Espoo.fi"},
            ],
        )
    )

    en = await report_texts(bot, "report Digisumpit")
    orgs = en.split("Organisations taking part most (participations)", 1)[1]
    assert "another organisation (\u20266789)\n2" in orgs
    assert "espoo.fi\n1" in orgs
    assert "this organisation\n1" in orgs
    assert OTHER_TENANT not in en
    assert "tenant-1" not in en

    fi = await report_texts(bot, "raportti Digisumpit", locale="fi-FI")
    assert "toinen organisaatio (\u20266789)" in fi
    assert "oma organisaatio" in fi
    sv = await report_texts(bot, "rapport Digisumpit", locale="sv-SE")
    assert "en annan organisation (\u20266789)" in sv
    assert "den egna organisationen" in sv


async def two_networks_open_at_once(bot: Harness) -> tuple[int, int]:
    """Digisumpit and Kaffe med Uffe, both homed in the group chat, each with a session at 12:00."""
    ids = []
    for name, topic in (("Digisumpit", "Tekoäly kunnissa"), ("Kaffe med Uffe", "Budget 2027")):
        await bot.say(f'network create "{name}" weekly')
        [card] = cards_of(await bot.say(f'schedule "{name}" "today 12:00" 60 min "{topic}"'))
        draft = next(a["data"] for a in card["actions"] if a["verb"] == "session.confirm")
        await bot.click("session.confirm", draft)
        await bot.run_jobs()
        announced = [
            a
            for r in bot.connector.received
            if r.kind == "send"
            for c in cards_of([r.activity])
            for a in c.get("actions", [])
            if a.get("verb") == "session.rsvp"
        ]
        ids.append(int(announced[-1]["data"]["session"]))
    bot.clock.advance(timedelta(minutes=55))
    return ids[0], ids[1]


def checkin_buttons(card: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("verb") == "session.checkin":
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(card)
    return found


async def test_here_with_two_sessions_open_offers_a_button_for_each(bot: Harness) -> None:
    digisumpit, kaffe = await two_networks_open_at_once(bot)

    [card] = cards_of(await bot.say("here", sender=user(2)))
    assert_valid_card(card)
    shown = texts(card)
    assert "Digisumpit: Tekoäly kunnissa" in shown
    assert "Kaffe med Uffe: Budget 2027" in shown
    assert "12:00" in shown
    buttons = checkin_buttons(card)
    assert [b["title"] for b in buttons] == ["I'm here", "I'm here"]
    assert sorted(b["data"]["session"] for b in buttons) == sorted([digisumpit, kaffe])

    pressed = next(b for b in buttons if b["data"]["session"] == kaffe)
    answer = await bot.click("session.checkin", pressed["data"], sender=user(2))
    assert answer["statusCode"] == 200
    assert_valid_card(answer["value"])

    assert "held: 1 participant (1 new, 0 returning)" in await report_texts(bot, 'report "Kaffe med Uffe"')
    assert "held: 1 participant" not in await report_texts(bot, "report Digisumpit")


async def test_the_choice_speaks_finnish_and_swedish(bot: Harness) -> None:
    await two_networks_open_at_once(bot)
    [fi] = cards_of(await bot.say("paikalla", sender=user(2), locale="fi-FI"))
    assert_valid_card(fi)
    assert "Olen paikalla" in texts(fi)
    assert "Useampaan tapaamiseen voi nyt ilmoittaa" in texts(fi)
    [sv] = cards_of(await bot.say("närvarande", sender=user(3), locale="sv-SE"))
    assert_valid_card(sv)
    assert "Flera träffar är just nu öppna" in texts(sv)

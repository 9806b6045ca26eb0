"""The report card in chat and the report page count sessions one way; the card tells per session
held or not, new and returning, the organisations taking part and the feedback of closed polls;
a network's public page shows participant counts only when its coordinators turn them on.

Everything goes through the running app (chat through /api/messages, pages over HTTP); the
clock is a FakeClock starting Monday 5 January 2026, 11:00 in Helsinki.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.app import PARTS
from domain.clock import FakeClock
from tests.integration.test_web_pages import (
    confirm,
    get,
    poll_cards,
    report_path,
    session_ids,
    visible_text,
    vote_data,
)
from tests.support.cards import assert_valid_card
from tests.support.harness import Harness, cards_of, running_bot, texts, user

HELSINKI = ZoneInfo("Europe/Helsinki")
JOIN = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_rep%40thread.v2/0"
MAX_CARD_BYTES = 28 * 1024
ORGS = {2: "espoo.fi", 3: "espoo.fi", 4: "vantaa.fi", 5: "espoo.fi", 6: "vantaa.fi", 7: "vantaa.fi"}


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, FakeClock()) as harness:
        yield harness


def joined(bot: Harness, *numbers: int) -> dict[str, Any]:
    """Teams' participant-join event in the network's chat, people with their work e-mail."""
    people = [
        {
            "user": {**user(n, f"Person {n} Surname"), "tenantId": "tenant-1", "email": f"p{n}@{ORGS[n]}"},
            "meeting": {"inMeeting": True},
        }
        for n in numbers
    ]
    return bot.activity(
        "event", name="application/vnd.microsoft.meetingParticipantJoin", value={"members": people}
    )


async def report_card(bot: Harness, text: str = "report Digisumpit", **kwargs: Any) -> dict[str, Any]:
    [card] = cards_of(await bot.say(text, **kwargs))
    assert_valid_card(card)
    assert len(json.dumps(card, ensure_ascii=False).encode("utf-8")) < MAX_CARD_BYTES
    return card


# --- 1. one meaning of "held" -----------------------------------------------------------------


async def test_the_chat_card_and_the_report_page_count_the_same_sessions_held(bot: Harness) -> None:
    """Three sessions took place, one with check-ins, one has not started: both say three."""
    await bot.say('network create "Digisumpit" weekly')
    for when in ("today 12:00", "6.1.2026 12:00", "7.1.2026 12:00", "8.1.2026 12:00"):
        await confirm(bot, f'schedule Digisumpit "{when}"')
    bot.clock.advance(timedelta(minutes=55))
    for n in (2, 3, 4):
        await bot.say("here", sender=user(n))
    bot.clock.set(datetime(2026, 1, 8, 11, 50, tzinfo=HELSINKI))  # ten minutes before the fourth
    await bot.run_jobs()

    card = await report_card(bot)
    shown = texts(card)
    assert "Sessions held\n3" in shown  # was 1: only the session with check-ins counted
    assert "held, no attendance recorded" in shown
    assert "held: 3 participants (3 new, 0 returning)" in shown
    assert "8.1." not in shown.split("Latest sessions", 1)[1]  # not started
    _, page = await get(bot, f"{await report_path(bot)}?lang=en")
    assert "<dt>Sessions held</dt><dd>3</dd>" in page
    assert "over 3 sessions" in next(b for b in card["body"] if b.get("type") == "Image")["altText"]


# --- 2. what the card tells ---------------------------------------------------------------------


async def two_sessions_two_organisations_one_closed_poll(bot: Harness) -> None:
    """Digisumpit: Monday 5.1. 12:00 with five people (espoo.fi ×3, vantaa.fi ×2) and a poll that
    five answered and that closed; 6.1. cancelled; Monday 12.1. 12:00 with one of them again and
    one new (vantaa.fi)."""
    await bot.say('network create "Digisumpit" weekly')
    await confirm(bot, f'schedule Digisumpit "today 12:00" link {JOIN}')
    await confirm(bot, 'schedule Digisumpit "6.1.2026 12:00"')
    await confirm(bot, 'schedule Digisumpit "12.1.2026 12:00"')
    ids = await session_ids(bot, "digisumpit")
    await bot.say(f"cancel #{ids[1]}")
    bot.clock.advance(timedelta(minutes=55))
    await bot.post(joined(bot, 2, 3, 4, 5, 6))
    await bot.advance(timedelta(hours=3))  # the session has ended: its poll opens
    [poll] = poll_cards(bot)
    for n, option in zip((2, 3, 4, 5, 6), (5, 4, 4, 3, 5), strict=True):
        await bot.click("poll.vote", vote_data(poll, option), sender=user(n))
    await bot.advance(timedelta(hours=73))  # closed
    bot.clock.set(datetime(2026, 1, 12, 11, 58, tzinfo=HELSINKI))
    await bot.post(joined(bot, 2, 7))
    bot.clock.set(datetime(2026, 1, 12, 13, 30, tzinfo=HELSINKI))
    await bot.run_jobs()


async def test_the_card_tells_sessions_organisations_and_feedback(bot: Harness) -> None:
    await two_sessions_two_organisations_one_closed_poll(bot)
    card = await report_card(bot)
    shown = texts(card)
    assert "Sessions held\n2" in shown
    assert "Participants\n6" in shown
    # The latest sessions, newest first: held or not, participants, new and returning.
    latest = shown.split("Latest sessions\n", 1)[1].split("\n")[:3]
    newest = r"Mon 12 Jan 2026 12:00 · held: 2 participants \(1 new, 1 returning\)$"
    assert re.match(newest, latest[0]), latest
    assert re.match(r"Tue 6 Jan 2026 12:00 · cancelled, not held$", latest[1]), latest
    assert re.match(r"Mon 5 Jan 2026 12:00 · held: 5 participants \(5 new, 0 returning\)$", latest[2]), latest
    # The organisations over the period, by participations, most first.
    assert "Organisations taking part most (participations)\nespoo.fi\n4\nvantaa.fi\n3" in shown
    # The closed poll's mean: (5 + 4 + 4 + 3 + 5) / 5.
    assert "How useful was this session for your work?\nmean 4.2 on the 1–5 scale (5 answers)" in shown
    assert "Surname" not in shown  # figures, not names

    fi = texts(await report_card(bot, "raportti Digisumpit", locale="fi-FI"))
    assert "pidetty: osallistujia 2 (uusia 1, palaavia 1)" in fi
    assert "peruttu, ei pidetty" in fi
    assert "Eniten osallistuneet organisaatiot (osallistumiset)\nespoo.fi\n4" in fi
    assert "Päättyneiden kyselyjen palaute" in fi
    assert "keskiarvo 4,2 asteikolla 1–5 (vastauksia 5)" in fi
    sv = texts(await report_card(bot, "rapport Digisumpit", locale="sv-SE"))
    assert "hölls: 2 deltagare (1 nya, 1 återkommande)" in sv
    assert "inställd, hölls inte" in sv
    assert "Respons från avslutade enkäter" in sv


async def test_an_open_polls_answers_and_a_small_polls_mean_are_not_on_the_card(bot: Harness) -> None:
    await bot.say('network create "Digisumpit" weekly')
    await confirm(bot, f'schedule Digisumpit "today 12:00" link {JOIN}')
    bot.clock.advance(timedelta(minutes=55))
    await bot.post(joined(bot, 2, 3, 4))
    await bot.advance(timedelta(hours=3))
    [poll] = poll_cards(bot)
    for n in (2, 3, 4):
        await bot.click("poll.vote", vote_data(poll, 5), sender=user(n))
    assert "Feedback of closed polls" not in texts(await report_card(bot))  # still open
    await bot.advance(timedelta(hours=73))
    shown = texts(await report_card(bot))
    assert "Feedback of closed polls" in shown
    assert "3 answers. Results are shown from five answers on" in shown
    assert "mean" not in shown


# --- 3. counts on the public page, when the coordinators want them -----------------------------


async def test_public_counts_are_off_until_a_coordinator_turns_them_on(bot: Harness) -> None:
    await two_sessions_two_organisations_one_closed_poll(bot)
    _, page = await get(bot, "/n/digisumpit?lang=en")
    assert "Past sessions" not in page
    assert not re.search(r"\b\d+ (people|participants?)\b", visible_text(page))

    [reply] = await bot.say("verkosto muokkaa Digisumpit määrät päälle", locale="fi-FI")
    assert "julkisella sivulla näkyy nyt" in reply["text"]
    _, page = await get(bot, "/n/digisumpit?lang=en")
    text = re.sub(r"\s+", " ", visible_text(page))
    assert "Past sessions" in page
    past = text.split("Past sessions", 1)[1]
    assert re.search(r"Monday 12 January 2026 12:00 [^:]*: 2 participants .*: 5 participants", past), past
    for secret in ("Surname", "Person", "aad-", "29:user", "espoo.fi", "vantaa.fi", "Aino Coordinator"):
        assert secret not in page, secret
    # The cancelled session is not counted as one that took place.
    assert text.count("participants") == 2
    _, fi = await get(bot, "/n/digisumpit?lang=fi")
    assert "Menneet tapaamiset" in fi
    assert "5 osallistujaa" in fi

    # Someone who does not coordinate the network cannot turn them off.
    [refused] = await bot.say("network edit Digisumpit counts off", sender=user(2))
    assert "Only the coordinators" in refused["text"]
    [reply] = await bot.say("nätverk ändra Digisumpit antal av", locale="sv-SE")
    assert "visar inte längre antalet deltagare" in reply["text"]
    _, page = await get(bot, "/n/digisumpit?lang=en")
    assert "Past sessions" not in page
    assert "participants" not in visible_text(page)

    [bad] = await bot.say("network edit Digisumpit counts maybe")
    assert "network edit NAME counts on|off" in bad["text"]


async def test_the_setting_is_kept_in_the_database(bot: Harness) -> None:
    await bot.say('network create "Digisumpit" weekly')
    parts = bot.app[PARTS]
    [network] = await parts.web.networks.all()
    assert network.public_counts is False
    await bot.say("network edit Digisumpit counts on")
    [network] = await parts.web.networks.all()
    assert network.public_counts is True
    assert (await parts.web.networks.get(network.id)) == network

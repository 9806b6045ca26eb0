"""What a Finnish-speaking coordinator met in the Teams emulator, whose Teams locale is en-US:
Finnish commands get Finnish cards, and the clicks on those cards answer in Finnish too.

The clock starts on Friday 4 December 2026, 10:00 in Helsinki.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dialogs.i18n import Catalogs
from domain.clock import FakeClock
from tests.support.cards import assert_valid_card
from tests.support.harness import Harness, cards_of, running_bot, texts

FI = Catalogs()["fi"]
FRIDAY = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)  # Fri 4.12.2026 10:00 in Helsinki
EN_US = {"locale": "en-US"}  # the Playground user's Teams locale


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, FakeClock(FRIDAY)) as harness:
        yield harness


async def finnish_draft(bot: Harness, command: str) -> dict[str, dict[str, Any]]:
    await bot.say('verkosto luo "Taloustorstai" viikoittain kieli fi', **EN_US)
    [card] = cards_of(await bot.say(command, **EN_US))
    assert_valid_card(card)
    assert FI._("Is this right?") in texts(card)
    return {a["verb"]: a["data"] for a in card["actions"]}


async def test_confirming_a_finnish_draft_answers_in_finnish(bot: Harness) -> None:
    verbs = await finnish_draft(bot, 'sovi Taloustorstai "joka torstai klo 14" 90 min "Budjetti 2027"')

    answer = await bot.click("session.confirm", verbs["session.confirm"], **EN_US)

    card = answer["value"]
    assert_valid_card(card)
    assert FI._("Scheduled \u2714") in texts(card)
    assert "Taloustorstai: torstaina 10.12.2026 14:00" in texts(card)  # mid-sentence: no capital
    assert "Scheduled" not in texts(card)


async def test_changing_a_finnish_draft_is_a_finnish_form_that_reads_finnish_dates(bot: Harness) -> None:
    verbs = await finnish_draft(bot, 'sovi Taloustorstai "ensi tiistaina klo 10" 60 min "Verotulot"')

    form = (await bot.click("session.change", verbs["session.change"], **EN_US))["value"]
    assert_valid_card(form)
    assert FI._("Change the session of {network}", network="Taloustorstai") in texts(form)
    assert "8.12.2026 10:00" in texts(form)

    redraft = next(a["data"] for a in form["actions"] if a["verb"] == "session.redraft")
    data = {**redraft, "when": "keskiviikkona klo 13", "minutes": 60, "topic": "Verotulot"}
    again = (await bot.click("session.redraft", data, **EN_US))["value"]
    assert_valid_card(again)
    assert "Keskiviikkona 9.12.2026 13:00" in texts(again)

    discard = next(a["data"] for a in again["actions"] if a["verb"] == "session.discard")
    gone = (await bot.click("session.discard", discard, **EN_US))["value"]
    assert FI._("Nothing was scheduled.") in texts(gone)
    # a second click on the old card: the error is in Finnish too
    old = await bot.click("session.confirm", verbs["session.confirm"], **EN_US)
    assert old["value"] == FI._("That confirmation has already been handled.")


async def test_move_cancel_and_the_list_read_as_finnish_sentences(bot: Harness) -> None:
    verbs = await finnish_draft(bot, 'sovi Taloustorstai "joka torstai klo 14" 3 kertaa "Budjetti 2027"')
    await bot.click("session.confirm", verbs["session.confirm"], **EN_US)

    [moved] = await bot.say('siirrä #2 "perjantaina 18.12. klo 10"', **EN_US)
    assert moved["text"].startswith("Siirretty: Taloustorstai. Uusi aika: perjantaina 18.12.2026 10:00 (")
    [cancelled] = await bot.say("peru #3", **EN_US)
    assert cancelled["text"].startswith("Peruttu: Taloustorstai, torstaina 24.12.2026 14:00 (")

    [listing] = cards_of(await bot.say("tapaamiset Taloustorstai", **EN_US))
    assert_valid_card(listing)
    lines = texts(listing)
    assert "**#1** torstaina 10.12.2026 14:00 \u2013 Budjetti 2027\n" in lines  # no "(0 tulossa)"
    assert "(0 " not in lines
    assert "(peruttu)" in lines


async def test_a_past_date_is_a_sentence_that_starts_with_a_capital(bot: Harness) -> None:
    await bot.say('verkosto luo "Taloustorstai" viikoittain kieli fi', **EN_US)
    [reply] = await bot.say('sovi Taloustorstai "1.12.2026 klo 10"', **EN_US)
    assert reply["text"] == "Ajankohta tiistaina 1.12.2026 10:00 on jo mennyt. Anna tuleva ajankohta."


async def test_a_typo_of_a_finnish_command_is_answered_in_finnish(bot: Harness) -> None:
    [reply] = await bot.say("tapaamset Taloustorstai", **EN_US)
    assert reply["text"] == FI._(
        "I don't know \u201c{command}\u201d. Did you mean \u201c{suggestion}\u201d? "
        "Type \u201c{help}\u201d to see what I can do.",
        command="tapaamset",
        suggestion="tapaamiset",
        help="apua",
    )


async def test_a_report_with_nothing_held_says_so_instead_of_eight_zeros(bot: Harness) -> None:
    await bot.say('verkosto luo "Taloustorstai" viikoittain kieli fi', **EN_US)

    [card] = cards_of(await bot.say("raportti Taloustorstai", **EN_US))

    assert_valid_card(card)
    shown = texts(card)
    assert FI._("No sessions were held in this period, so there is nothing to count yet.") in shown
    assert FI._("Sessions held") not in shown


@pytest.mark.parametrize(
    "command",
    [
        'sovi Taloustorstai "joka torstai klo 14" 90 min "Budjetti 2027" asti 31.3.2027',
        'sovi Taloustorstai "joka torstai klo 14" 90 min "Budjetti 2027" 31.3.2027 asti',
    ],
)
async def test_a_topic_before_asti_stays_the_topic(bot: Harness, command: str) -> None:
    await bot.say('verkosto luo "Taloustorstai" viikoittain kieli fi', **EN_US)

    [card] = cards_of(await bot.say(command, **EN_US))

    assert_valid_card(card)
    shown = texts(card)
    assert "Budjetti 2027" in shown
    assert "joka torstai 31.3.2027 asti" in shown


async def test_verkosto_alone_lists_what_can_be_done_with_a_network(bot: Harness) -> None:
    [reply] = await bot.say("verkosto", **EN_US)

    assert reply["text"].startswith(FI._("Something is missing. Use: {usage}", usage=""))
    for word in ("luo", "tiedot", "muokkaa", "tauko", "jatka", "lopeta", "koordinaattorit"):
        assert word in reply["text"]
    # and each word listed is one the command knows
    [info] = await bot.say("verkosto tiedot Kahvitauko", **EN_US)
    assert info["text"] == FI._("I don't know a network called \u201c{name}\u201d.", name="Kahvitauko")


async def test_kysymykset_with_only_the_name_shows_the_questions_asked_now(bot: Harness) -> None:
    await bot.say('verkosto luo "Taloustorstai" viikoittain kieli fi', **EN_US)
    await bot.say("kysymykset Taloustorstai työ kunta kommentti", **EN_US)

    [card] = cards_of(await bot.say("kysymykset Taloustorstai", **EN_US))

    assert_valid_card(card)
    shown = texts(card)
    assert FI._("Feedback questions of {network}", network="Taloustorstai") in shown
    assert FI._("With an optional anonymous comment.") in shown
    assert "kysymykset NIMI työ kunta viestintä [kommentti]" in shown


async def test_changing_a_series_to_another_weekday_keeps_its_end(bot: Harness) -> None:
    verbs = await finnish_draft(
        bot, 'sovi Taloustorstai "joka torstai klo 14" 90 min "Budjetti 2027" asti 31.3.2027'
    )
    form = (await bot.click("session.change", verbs["session.change"], **EN_US))["value"]
    redraft = next(a["data"] for a in form["actions"] if a["verb"] == "session.redraft")

    data = {**redraft, "when": "joka keskiviikko klo 13", "minutes": 90, "topic": "Budjetti 2027"}
    again = (await bot.click("session.redraft", data, **EN_US))["value"]

    assert_valid_card(again)
    assert "joka keskiviikko 31.3.2027 asti" in texts(again)


async def test_a_cancelled_series_does_not_crowd_the_new_one_out_of_the_list(bot: Harness) -> None:
    verbs = await finnish_draft(bot, 'sovi Taloustorstai "joka torstai klo 14" "Budjetti 2027"')
    await bot.click("session.confirm", verbs["session.confirm"], **EN_US)
    await bot.say("peru #1 kaikki", **EN_US)
    [card] = cards_of(await bot.say('sovi Taloustorstai "joka keskiviikko klo 13" "Verotulot"', **EN_US))
    confirm = next(a["data"] for a in card["actions"] if a["verb"] == "session.confirm")
    await bot.click("session.confirm", confirm, **EN_US)

    [listing] = cards_of(await bot.say("tapaamiset Taloustorstai", **EN_US))

    assert_valid_card(listing)
    rows = [line for line in texts(listing).splitlines() if line.startswith("**#")]
    assert len([row for row in rows if row.endswith("(peruttu)")]) == 3
    assert len([row for row in rows if "Verotulot" in row]) == 10  # all the new series made so far
    assert FI.n_("and {n} more cancelled", "and {n} more cancelled", 7) in texts(listing)  # 10 - 3


async def test_asking_for_a_pdf_export_says_csv_or_excel(bot: Harness) -> None:
    await bot.say('verkosto luo "Taloustorstai" viikoittain kieli fi', **EN_US)

    [reply] = await bot.say("vie Taloustorstai pdf", **EN_US)

    assert reply["text"] == FI._(
        "I can export as CSV or Excel, not \u201c{text}\u201d. Use: {usage}",
        text="pdf",
        usage="vie NIMI [csv|xlsx] [12 kk]",
    )


async def test_an_unknown_field_to_edit_is_named(bot: Harness) -> None:
    await bot.say('verkosto luo "Taloustorstai" viikoittain kieli fi', **EN_US)

    [reply] = await bot.say("verkosto muokkaa Taloustorstai väri sininen", **EN_US)

    assert reply["text"].startswith("Verkostolla ei ole muutettavaa tietoa ”väri”. Kirjoita näin: verkosto")


async def test_the_finnish_reminder_writes_the_weekday_in_lower_case(bot: Harness) -> None:
    verbs = await finnish_draft(bot, 'sovi Taloustorstai "tänään klo 12"')
    await bot.click("session.confirm", verbs["session.confirm"], **EN_US)
    await bot.run_jobs()

    await bot.advance(timedelta(hours=1, minutes=45))  # 11:45, a quarter before

    [reminder] = [
        r.activity["text"]
        for r in bot.connector.received
        if r.kind == "send" and "alkaa pian" in (r.activity.get("text") or "")
    ]
    assert reminder.startswith("Taloustorstai alkaa pian: perjantaina 4.12.2026 12:00 (")


async def test_an_edit_shows_the_network_as_it_now_is(bot: Harness) -> None:
    await bot.say('verkosto luo "Taloustorstai" viikoittain kieli fi', **EN_US)

    [card] = cards_of(
        await bot.say('verkosto muokkaa Taloustorstai kuvaus "Kuntatalouden torstaikahvit"', **EN_US)
    )

    assert_valid_card(card)
    shown = texts(card)
    assert FI._("{network} is updated.", network="Taloustorstai") in shown
    assert "Kuntatalouden torstaikahvit" in shown
    assert "viikoittain" in shown

"""What a Swedish-speaking participant met in the Teams emulator, fixed: the announcement card
stays whole after Följ, the forgetme buttons answer in the card's language, the report link opens
the page in the asker's language."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from domain.clock import FakeClock
from tests.support.cards import assert_valid_card
from tests.support.harness import BOT, Harness, cards_of, running_bot, texts, user

AINO_CHAT = "a:1AinoPersonalChat"


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, FakeClock()) as harness:
        yield harness


def personal(who: dict[str, str], chat: str = AINO_CHAT) -> dict[str, Any]:
    return {"sender": who, "conversation": chat, "conversation_type": "personal"}


async def announced(bot: Harness) -> dict[str, Any]:
    """A Swedish network with a session confirmed; the announcement card posted in the group chat."""
    await bot.say('nätverk skapa "Kaffe med Uffe" veckovis språk sv')
    [card] = cards_of(await bot.say('planera "Kaffe med Uffe" "idag kl 14"'))
    draft = next(a["data"] for a in card["actions"] if a["verb"] == "session.confirm")
    await bot.click("session.confirm", draft)
    await bot.run_jobs()
    sent = [r.activity for r in bot.connector.received if r.kind == "send"]
    return next(
        c for c in cards_of(sent) if any(a.get("verb") == "session.rsvp" for a in c.get("actions", []))
    )


async def test_follow_on_the_announcement_keeps_the_card_with_its_other_buttons(bot: Harness) -> None:
    announced_card = await announced(bot)
    follow = next(a for a in announced_card["actions"] if a.get("verb") == "network.follow")
    body = await bot.click("network.follow", follow["data"], sender=user(2, "Ebba Lindqvist"))
    card = body["value"]
    assert_valid_card(card)
    verbs = [a.get("verb") for a in card["actions"]]
    # Still the session's card, so "Jag kommer" and the calendar remain to be pressed.
    assert "session.rsvp" in verbs, texts(card)
    assert any(a.get("type") == "Action.OpenUrl" for a in card["actions"])
    assert "Sluta följa" in [a["title"] for a in card["actions"]]  # in the network's language
    # and the follow did happen
    [mine] = cards_of(await bot.say("minadata", **personal(user(2, "Ebba Lindqvist"))))
    assert "Kaffe med Uffe" in texts(mine)


async def test_forgetme_buttons_answer_in_the_language_of_the_card(bot: Harness) -> None:
    aino, ebba = user(1, "Aino Coordinator"), user(2, "Ebba Lindqvist")
    await bot.say('nätverk skapa "Kaffe med Uffe" veckovis språk sv')
    # The last coordinator is told at once, in Swedish, how to hand over: no button to press first.
    [blocked] = cards_of(await bot.say("glömmig", **personal(aino)))
    shown = texts(blocked)
    assert "Ingenting raderades" in shown, shown
    assert "nätverk koordinatorer lägg-till NAMN @person" in shown
    assert not blocked.get("actions")
    # Teams in English, the person typed the Swedish word: the card and what follows are Swedish.
    await bot.say("följ Kaffe", **personal(ebba, "a:1Ebba"))
    [card] = cards_of(await bot.say("glömmig", **personal(ebba, "a:1Ebba")))
    cancel = next(a for a in card["actions"] if a["verb"] == "privacy.forget_cancel")
    body = await bot.click("privacy.forget_cancel", cancel["data"], **personal(ebba, "a:1Ebba"))
    assert "Ingenting raderades" in texts(body["value"])
    confirm = next(a for a in card["actions"] if a["verb"] == "privacy.forget_confirm")
    body = await bot.click("privacy.forget_confirm", confirm["data"], **personal(ebba, "a:1Ebba"))
    assert "Tapaamo har glömt dig" in texts(body["value"])


async def test_forgetme_cards_of_before_the_fix_still_answer(bot: Harness) -> None:
    body = await bot.click("privacy.forget_cancel", {}, **personal(user(1)))
    assert "Nothing was erased" in texts(body["value"])


async def test_the_report_link_opens_the_page_in_the_language_it_was_asked_in(bot: Harness) -> None:
    await announced(bot)
    [card] = cards_of(await bot.say('rapport "Kaffe med Uffe"'))
    link = next(a["url"] for a in card["actions"] if a.get("type") == "Action.OpenUrl")
    parts = urlsplit(link)
    # A browser in English still gets the Swedish page the coordinator asked for.
    response = await bot.client.get(f"{parts.path}?{parts.query}", headers={"Accept-Language": "en-US"})
    assert response.status == 200
    page = await response.text()
    assert '<html lang="sv">' in page
    assert "Kaffe med Uffe: deltagande" in page


async def test_the_welcome_card_points_a_participant_to_the_networks(bot: Harness) -> None:
    before = len(bot.connector.received)
    ebba = user(2, "Ebba Lindqvist")
    await bot.post(bot.activity("conversationUpdate", locale="sv-SE", membersAdded=[BOT], **personal(ebba)))
    [card] = cards_of([r.activity for r in bot.connector.received[before:]])
    assert_valid_card(card)
    shown = texts(card)
    assert "Välkommen till Tapaamo" in shown
    assert "Skriv \u201dnätverken\u201d så ser du nätverken och när de träffas nästa gång." in shown


async def test_the_networks_list_leads_to_the_network_pages_in_the_same_language(bot: Harness) -> None:
    await announced(bot)
    [card] = cards_of(await bot.say("nätverken", **personal(user(2, "Ebba Lindqvist"))))
    assert_valid_card(card)
    [link] = [a for a in card["actions"] if a["type"] == "Action.OpenUrl"]
    assert link["title"] == "Nätverkens sidor och kalendrar"
    parts = urlsplit(link["url"])
    response = await bot.client.get(f"{parts.path}?{parts.query}", headers={"Accept-Language": "en-US"})
    page = await response.text()
    assert '<html lang="sv">' in page
    assert "Kaffe med Uffe" in page


async def test_an_expired_download_link_says_in_swedish_how_to_get_a_new_one(bot: Harness) -> None:
    ebba = user(2, "Ebba Lindqvist")
    [card] = cards_of(await bot.say("minadata", **personal(ebba)))
    [link] = [a["url"] for a in card["actions"] if a["type"] == "Action.OpenUrl"]
    parts = urlsplit(link)
    path = f"{parts.path}?{parts.query}"
    assert (await bot.client.get(path)).status == 200
    bot.clock.advance(timedelta(minutes=61))
    # Opened in a browser in English an hour later: a page, in the language the card was in.
    response = await bot.client.get(path, headers={"Accept-Language": "en-US"})
    assert response.status == 403
    assert response.content_type == "text/html"
    page = await response.text()
    assert '<html lang="sv">' in page
    assert "Länken fungerar inte" in page
    assert "\u201dminadata\u201d" in page
    assert 'href="/static/site.css"' in page


async def test_a_broken_export_link_is_a_page_in_the_readers_language(bot: Harness) -> None:
    response = await bot.client.get("/export/not-a-link", headers={"Accept-Language": "sv-FI"})
    assert response.status == 403
    page = await response.text()
    assert '<html lang="sv">' in page
    assert "Länken fungerar inte" in page


async def test_the_welcome_card_in_a_group_chat_says_to_mention_the_bot(bot: Harness) -> None:
    before = len(bot.connector.received)
    await bot.post(bot.activity("conversationUpdate", locale="sv-SE", membersAdded=[BOT]))  # group chat
    [card] = cards_of([r.activity for r in bot.connector.received[before:]])
    assert_valid_card(card)
    shown = texts(card)
    assert "Skriv \u201d@Tapaamo hjälp\u201d så ser du vad jag kan" in shown
    assert "(här svarar jag bara när jag nämns)" in shown
    assert "\u201d@Tapaamo nätverken\u201d" in shown


async def test_a_session_under_way_without_a_link_does_not_promise_one_before_it(bot: Harness) -> None:
    await announced(bot)  # today 14:00, no join link
    page = await (await bot.client.get("/n/kaffe-med-uffe?lang=sv")).text()
    assert "Möteslänken läggs till före träffen." in page
    bot.clock.advance(timedelta(hours=3, minutes=5))  # 11:00 → 14:05 local, under way
    page = await (await bot.client.get("/n/kaffe-med-uffe?lang=sv")).text()
    assert "Pågår nu" in page
    assert "Möteslänken läggs till före träffen." not in page
    assert "Ingen möteslänk har lagts till för den här träffen." in page


async def test_the_report_says_until_when_its_link_works_mid_sentence_in_lower_case(bot: Harness) -> None:
    await announced(bot)
    [card] = cards_of(await bot.say('rapport "Kaffe med Uffe"'))
    link = next(a["url"] for a in card["actions"] if a.get("type") == "Action.OpenUrl")
    page = await (await bot.client.get(urlsplit(link).path)).text()
    # 09:00 UTC + 24 h, a Tuesday in Helsinki: "till: tisdag", not "till: Tisdag"
    assert "Länken gäller till: tisdag 6.1.2026" in page, page[page.find("Länken") :][:120]

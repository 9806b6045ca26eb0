"""Chatting with the running bot through the Teams client emulator: help, languages, buttons, welcome."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.e2e.playground import CARD, PlaygroundClient, Roster, card_actions, cards

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]
log = logging.getLogger(__name__)


def only_card(activity: dict[str, Any]) -> dict[str, Any]:
    found = cards(activity)
    assert len(found) == 1, f"expected one Adaptive Card, got {activity}"
    return found[0]


def language_buttons(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The help card's language buttons by the language they switch to."""
    return {
        str(action["data"]["lang"]): action
        for action in card_actions(card)
        if action.get("type") == "Action.Execute" and action.get("verb") == "help.language"
    }


async def finish_turn(playground: PlaygroundClient, conversation: str) -> None:
    """Wait for the bot to answer the turn, and check it sent nothing more than was read."""
    turn = await playground.next_turn(conversation)
    assert turn["response"]["statusCode"] == 200, turn["response"]
    extra = playground.pending_bot_messages(conversation)
    assert not extra, f"more replies than expected: {[a.get('text') or cards(a) for a in extra]}"


@pytest.mark.parametrize(("command", "lang"), [("help", "en"), ("apua", "fi"), ("hjälp", "sv")])
async def test_help_answers_in_the_language_of_the_command(
    playground: PlaygroundClient, roster: Roster, command: str, lang: str
) -> None:
    chat = roster.personal_chat_id
    await playground.send_text(chat, command)

    reply = await playground.next_bot_message(chat)
    card = only_card(reply)
    assert card["lang"] == lang
    assert set(language_buttons(card)) >= {"fi", "sv", "en"} - {lang}
    await finish_turn(playground, chat)


async def test_unknown_command_suggests_help(playground: PlaygroundClient, roster: Roster) -> None:
    chat = roster.personal_chat_id
    await playground.send_text(chat, "halp")

    reply = await playground.next_bot_message(chat)
    log.info("reply to 'halp': %s", reply.get("text"))
    assert reply.get("text") == (
        "I don't know \u201chalp\u201d. Did you mean \u201chelp\u201d? "
        "Type \u201chelp\u201d to see what I can do."
    )
    await finish_turn(playground, chat)


async def test_language_button_swaps_the_help_card(playground: PlaygroundClient, roster: Roster) -> None:
    chat = roster.group_chat_id
    await playground.send_text(chat, "help", mention_bot=True)
    reply = await playground.next_bot_message(chat)
    card = only_card(reply)
    assert card["lang"] == "en"
    finnish = language_buttons(card)["fi"]
    await finish_turn(playground, chat)
    log.info("pressing %r on message %s", finnish.get("title"), reply["id"])

    # Someone else in the chat presses "Suomeksi" on the English card.
    answer = await playground.invoke(
        chat, reply["id"], "help.language", finnish["data"], from_user=roster.user("Ebba")
    )

    assert answer["type"] == CARD
    assert answer["value"]["lang"] == "fi"
    assert set(language_buttons(answer["value"])) >= {"sv", "en"}
    turn = await playground.next_turn(chat)
    assert turn["activityName"] == "invoke"
    assert turn["request"]["body"]["from"]["id"] == roster.user("Ebba").id


@pytest.mark.parametrize(
    ("where", "locale", "lang"),
    [("group_chat_id", "fi-FI", "fi"), ("channel_id", "sv-SE", "sv"), ("group_chat_id", "de-DE", "en")],
)
async def test_welcome_card_when_added(
    playground: PlaygroundClient, roster: Roster, where: str, locale: str, lang: str
) -> None:
    chat = getattr(roster, where)
    activity = await playground.activity_template(chat, "botAdded")
    activity["locale"] = locale
    assert activity["membersAdded"] == [{"id": roster.bot_id}]

    await playground.send_custom_activity(activity)

    welcome = await playground.next_bot_message(chat)
    assert only_card(welcome)["lang"] == lang
    await finish_turn(playground, chat)


async def test_help_in_group_chat_needs_the_mention_and_strips_it(
    playground: PlaygroundClient, roster: Roster
) -> None:
    chat = roster.group_chat_id
    await playground.send_text(chat, "help", mention_bot=True)

    reply = await playground.next_bot_message(chat)
    assert only_card(reply)["lang"] == "en"
    await finish_turn(playground, chat)


async def test_another_member_asks_for_help_in_swedish(playground: PlaygroundClient, roster: Roster) -> None:
    chat = roster.group_chat_id
    await playground.send_text(chat, "hjälp", from_user="Ebba", mention_bot=True, locale="sv-SE")

    reply = await playground.next_bot_message(chat)
    assert only_card(reply)["lang"] == "sv"
    turn = await playground.next_turn(chat)
    assert turn["request"]["body"]["from"]["id"] == roster.user("Ebba").id
    assert turn["response"]["statusCode"] == 200

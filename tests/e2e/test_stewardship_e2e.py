"""A coordinator receives a nudge in Teams and presses Schedule: the session is created and announced.

A new network with nothing scheduled is due at once. The administrator (the current user, who
also coordinates the network) runs ``evaluate``, which sends the nudges due right away; the nudge
comes to her personal chat with Tapaamo, and one click schedules the suggested session, whose
announcement appears in the network's group chat.
"""

from __future__ import annotations

from typing import Any

import pytest

from dialogs.i18n import Catalogs
from tests.e2e.playground import CARD, PlaygroundClient, Roster, card_text, cards
from tests.e2e.test_sessions_e2e import create_network, is_announcement_of, only_card, verbs

pytestmark = pytest.mark.e2e

EN = Catalogs()["en"]
NETWORK = "Seutuverkosto"


def is_nudge_of(network: str) -> Any:
    def wanted(activity: dict[str, Any]) -> bool:
        return any(
            "nudge.schedule" in verbs(card)
            and EN._("How is {network} doing?", network=network) in card_text(card)
            for card in cards(activity)
        )

    return wanted


async def test_a_nudge_is_answered_with_one_click_that_schedules_and_announces(
    playground: PlaygroundClient, roster: Roster
) -> None:
    group, personal = roster.group_chat_id, roster.personal_chat_id
    # The coordinator has a personal chat with Tapaamo: that is where nudges come.
    await playground.send_text(personal, "help")
    await playground.next_bot_message(personal)
    await create_network(playground, group, f'network create "{NETWORK}" weekly', NETWORK)

    await playground.send_text(personal, "evaluate")
    await playground.next_bot_message(personal, wanted=lambda a: bool(a.get("text")))
    nudge = await playground.next_bot_message(personal, wanted=is_nudge_of(NETWORK))
    card = only_card(nudge)
    text = card_text(card)
    assert EN._("has not met yet") in text
    assert EN._("Nothing is scheduled yet.") in text
    buttons = verbs(card)
    assert {"nudge.schedule", "nudge.pick", "nudge.snooze", "nudge.pause", "nudge.end"} <= set(buttons)

    answer = await playground.invoke(
        personal, nudge["id"], "nudge.schedule", buttons["nudge.schedule"]["data"]
    )
    assert answer["type"] == CARD, answer
    assert EN._("Scheduled \u2714") in card_text(answer["value"])
    posted = await playground.next_bot_message(group, wanted=is_announcement_of(NETWORK))
    assert "session.rsvp" in verbs(only_card(posted))

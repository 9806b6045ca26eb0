"""A coordinator runs a network from a Teams group chat, through the Teams client emulator.

Create a network, schedule a weekly series, confirm it on its card, see the announcement posted by
the durable jobs, three people say they come (each sees their own view and the count), the shared
card is updated in place, and cancelling the occurrence turns the card into "Peruttu". Bad input
gets a clear answer in the language it was typed in.

The helpers here (creating a network, scheduling and confirming, finding the announcement) are
shared with the participation and poll tests.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dialogs.i18n import Catalogs
from tests.e2e.playground import CARD, PlaygroundClient, Roster, User, card_actions, card_text, cards

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]
log = logging.getLogger(__name__)

CATALOGS = Catalogs()
EN, FI = CATALOGS["en"], CATALOGS["fi"]
HELSINKI = ZoneInfo("Europe/Helsinki")
NETWORK = "Taloustorstai"


# --- shared helpers ----------------------------------------------------------------------------


def only_card(activity: dict[str, Any]) -> dict[str, Any]:
    found = cards(activity)
    assert len(found) == 1, f"expected one Adaptive Card, got {activity}"
    return found[0]


def verbs(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The card's Action.Execute buttons by verb (the first of each)."""
    found: dict[str, dict[str, Any]] = {}
    for action in card_actions(card):
        if action.get("type") == "Action.Execute":
            found.setdefault(str(action.get("verb")), action)
    return found


def soon(minutes: int) -> str:
    """A start about ``minutes`` from now (rounded down to the minute), as a coordinator types it:
    "today 14:35" (or "26.11.2026 00:03" just before midnight)."""
    now = datetime.now(HELSINKI)
    start = now + timedelta(minutes=minutes)
    clock = f"{start:%H:%M}"
    return (
        f"today {clock}" if start.date() == now.date() else f"{start.day}.{start.month}.{start.year} {clock}"
    )


async def say(playground: PlaygroundClient, chat: str, text: str, user: str | User | None = None) -> str:
    """Someone @mentions the bot in the chat; returns the text of the bot's (text) reply."""
    await playground.send_text(chat, text, from_user=user, mention_bot=True)
    reply = await playground.next_bot_message(chat)
    log.info("%r -> %r", text, reply.get("text") or card_text(only_card(reply)))
    return str(reply.get("text") or "")


async def create_network(playground: PlaygroundClient, chat: str, command: str, name: str) -> None:
    """``network create ...`` by the current user, who then coordinates the network; homed in ``chat``.

    A network left by an earlier run of the test in this session is fine too.
    """
    await playground.send_text(chat, command, mention_bot=True)
    reply = await playground.next_bot_message(chat)
    if reply.get("text"):
        assert EN._("There is already a network called \u201c{name}\u201d.", name=name) in reply["text"]
        return
    text = card_text(only_card(reply))
    assert EN._("{network} is created and you coordinate it.", network=name) in text
    assert EN._("Its sessions are announced in this conversation.") in text


async def schedule_and_confirm(playground: PlaygroundClient, chat: str, command: str) -> dict[str, Any]:
    """``schedule ...``: the confirmation card, its Confirm pressed by the coordinator; returns the
    "Scheduled" card the button answered with."""
    await playground.send_text(chat, command, mention_bot=True)
    reply = await playground.next_bot_message(chat)
    confirm = only_card(reply)
    assert confirm["lang"] == "en"  # the coordinator's language, whatever the network's
    buttons = verbs(confirm)
    assert set(buttons) == {"session.confirm", "session.change", "session.discard"}
    assert [buttons[v]["title"] for v in ("session.confirm", "session.change", "session.discard")] == [
        "Confirm",
        "Change",
        "Discard",
    ]
    assert EN._("Nothing is posted before you confirm.") in card_text(confirm)

    answer = await playground.invoke(chat, reply["id"], "session.confirm", buttons["session.confirm"]["data"])
    assert answer["type"] == CARD, answer
    scheduled: dict[str, Any] = answer["value"]
    assert EN._("Scheduled \u2714") in card_text(scheduled)
    return scheduled


def is_announcement_of(network: str) -> Any:
    """A predicate: a bot message that is the announcement card of a session of ``network``."""

    def wanted(activity: dict[str, Any]) -> bool:
        return any(
            "session.rsvp" in verbs(card) and card_text(card).startswith(network + "\n")
            for card in cards(activity)
        )

    return wanted


async def announcement(playground: PlaygroundClient, chat: str, network: str) -> tuple[dict[str, Any], int]:
    """The announcement the jobs post in the network's home after the confirmation: the message
    (its ``id`` for button presses) and the session's number."""
    posted = await playground.next_bot_message(chat, wanted=is_announcement_of(network))
    card = only_card(posted)
    session = int(verbs(card)["session.rsvp"]["data"]["session"])
    return posted, session


# --- tests -------------------------------------------------------------------------------------


async def test_series_is_confirmed_announced_rsvped_and_cancelled(
    playground: PlaygroundClient, roster: Roster
) -> None:
    chat = roster.group_chat_id
    await create_network(playground, chat, f'network create "{NETWORK}" weekly lang fi', NETWORK)
    scheduled = await schedule_and_confirm(
        playground, chat, f'schedule {NETWORK} "every thursday 14:00" 90 min "Budjetti"'
    )
    assert EN._("Repeats {repeats}.", repeats=EN._("every {weekday}", weekday="Thursday")) in card_text(
        scheduled
    )

    # The announcement: posted by a job in the network's home, in the network's language.
    posted, session = await announcement(playground, chat, NETWORK)
    card = only_card(posted)
    assert card["lang"] == "fi"
    shown = card_text(card)
    assert "Budjetti" in shown
    assert FI.n_("{n} minute", "{n} minutes", 90) in shown
    assert FI.n_("{n} person", "{n} people", 0) in shown
    rsvp = verbs(card)["session.rsvp"]
    assert rsvp["title"] == FI._("I'll come")
    assert rsvp["data"] == {"session": session, "coming": True}
    assert card["refresh"]["action"]["verb"] == "session.view"

    # Three people press "Tulen": each gets their own view of the card, with the count so far.
    for count, user in enumerate(roster.others[:3], start=1):
        answer = await playground.invoke(chat, posted["id"], "session.rsvp", rsvp["data"], from_user=user)
        assert answer["type"] == CARD, answer
        mine = answer["value"]
        assert mine["lang"] == "fi"
        assert FI._("\u2714 You are coming.") in card_text(mine)
        assert FI.n_("{n} person", "{n} people", count) in card_text(mine)
        assert verbs(mine)["session.rsvp"]["data"] == {"session": session, "coming": False}
        assert user.id in mine["refresh"]["userIds"]
    # A double click is still one RSVP.
    again = await playground.invoke(
        chat, posted["id"], "session.rsvp", rsvp["data"], from_user=roster.others[2]
    )
    assert FI.n_("{n} person", "{n} people", 3) in card_text(again["value"])

    # The shared card (no personal line) is updated in place with the count.
    def shared_with_three(update: dict[str, Any]) -> bool:
        text = "\n".join(card_text(c) for c in cards(update))
        return FI.n_("{n} person", "{n} people", 3) in text and FI._("\u2714 You are coming.") not in text

    counted = await playground.next_bot_update(chat, wanted=shared_with_three)
    assert counted["id"] == posted["id"]

    # Cancelling this occurrence turns the card into "Peruttu", without the buttons.
    reply = await say(playground, chat, f"cancel #{session}")
    assert reply.startswith(f"Cancelled: {NETWORK}, "), reply

    def cancelled(update: dict[str, Any]) -> bool:
        return any(FI._("Cancelled") in card_text(c).split("\n") for c in cards(update))

    update = await playground.next_bot_update(chat, wanted=cancelled)
    assert update["id"] == posted["id"]
    [card] = cards(update)
    assert "session.rsvp" not in verbs(card)
    assert "refresh" not in card

    # The series goes on: the sessions list shows this one cancelled and the next ones.
    await playground.send_text(chat, f"sessions {NETWORK}", mention_bot=True)
    listing = card_text(only_card(await playground.next_bot_message(chat)))
    rows = [line for line in listing.split("\n") if line.startswith("**#")]
    assert rows[0].startswith(f"**#{session}** ")
    assert rows[0].endswith(f"({EN._('cancelled')})")
    assert len(rows) > 1
    assert all(not row.endswith(")") for row in rows[1:])  # none coming: no "(0 coming)" on each row


@pytest.mark.parametrize(
    ("command", "user", "expected"),
    [
        (
            'schedule Nosuch "next thursday 14:00"',
            None,
            EN._("I don't know a network called \u201c{name}\u201d.", name="Nosuch"),
        ),
        (
            'sovi Taloustorstaj "ensi torstaina klo 14"',
            None,
            FI._(
                "I don't know a network called \u201c{name}\u201d. Did you mean \u201c{suggestion}\u201d?",
                name="Taloustorstaj",
                suggestion=NETWORK,
            ),
        ),
        ("schedule", None, EN._("Something is missing. Use: {usage}", usage="")),
        (
            f'schedule {NETWORK} "1.1.2020 14:00"',
            None,
            "is already in the past. Please give a time in the future.",
        ),
        (
            f'schedule {NETWORK} "next thursday 14:00"',
            "Ebba",
            EN._(
                "Only the coordinators of {network} can do that: {coordinators}.",
                network=NETWORK,
                coordinators="Aino Virtanen",
            ),
        ),
    ],
    ids=["unknown-network", "did-you-mean-fi", "missing-parts", "past-date", "not-a-coordinator"],
)
async def test_bad_input_gets_a_clear_answer(
    playground: PlaygroundClient, roster: Roster, command: str, user: str | None, expected: str
) -> None:
    chat = roster.group_chat_id
    await create_network(playground, chat, f'network create "{NETWORK}" weekly lang fi', NETWORK)

    reply = await say(playground, chat, command, user)

    assert expected in reply, reply
    assert "Traceback" not in reply
    assert "went wrong" not in reply

"""The feedback poll through the Teams client emulator: opened by the meeting's end, one tap per
person, closed early by the coordinator, results as count and percent.

"Kaffe med Uffe" (in Swedish) holds a session: Teams says the meeting started and ended, and the
job that follows the end posts the poll card in the group chat. Six people tap an answer (one
changes it, another taps the same one twice, one doesn't know); each sees their own answer marked.
The coordinator closes the poll with "poll #ID close": the results card is posted and replaces the
poll card, with six answers (five on the scale), their counts and percentages and the mean.
A tap after that gets the "closed" card.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from domain.polls import DONT_KNOW, OPTION_LABELS, SCALE
from tests.e2e.playground import CARD, PlaygroundClient, Roster, card_actions, card_text, cards
from tests.e2e.test_participation_e2e import handled, now_iso
from tests.e2e.test_sessions_e2e import (
    CATALOGS,
    EN,
    announcement,
    create_network,
    only_card,
    schedule_and_confirm,
    soon,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]
log = logging.getLogger(__name__)

SV = CATALOGS["sv"]
NETWORK = "Kaffe med Uffe"
MEETING_ID = "MCMxOTplMmUta2FmZmVAdGhyZWFkLnYyIzA="
JOIN_URL = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_e2e-kaffe%40thread.v2/0"


def label(option: int) -> str:
    """An answer's button label on the Swedish card: "5 Mycket bra", "Vet inte"."""
    text = SV._(OPTION_LABELS[option])
    return text if option == DONT_KNOW else f"{option} {text}"


def vote_buttons(card: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {int(a["data"]["o"]): a for a in card_actions(card) if a.get("verb") == "poll.vote"}


def of_network(*texts: str) -> Any:
    """A predicate: a bot message or update with a card of this network showing all ``texts``."""

    def wanted(message: dict[str, Any]) -> bool:
        return any(
            card_text(card).startswith(NETWORK + "\n") and all(t in card_text(card) for t in texts)
            for card in cards(message)
        )

    return wanted


async def test_poll_opens_after_the_meeting_and_shows_the_results_when_closed(
    playground: PlaygroundClient, roster: Roster
) -> None:
    chat = roster.group_chat_id
    await create_network(playground, chat, f'network create "{NETWORK}" weekly lang sv', NETWORK)
    # Later than the other tests' sessions in this chat, so that their check-ins stay unambiguous.
    await schedule_and_confirm(playground, chat, f'schedule "{NETWORK}" "{soon(20)}" link {JOIN_URL}')
    _, session = await announcement(playground, chat, NETWORK)

    for name, times in (("meetingStart", {"StartTime": now_iso()}), ("meetingEnd", {"EndTime": now_iso()})):
        value = {"Id": MEETING_ID, "JoinUrl": JOIN_URL, "Title": NETWORK, **times}
        await handled(playground, chat, await playground.send_meeting_event(chat, name, value, MEETING_ID))

    # The job after the meeting's end posts the poll, in the network's language.
    posted = await playground.next_bot_message(chat, wanted=of_network(SV._("How was the session?")))
    card = only_card(posted)
    assert card["lang"] == "sv"
    assert card["refresh"]["action"]["verb"] == "poll.view"
    assert "userIds" not in card["refresh"]  # who answered is written nowhere on the card
    buttons = vote_buttons(card)
    assert [buttons[o]["title"] for o in (*SCALE, DONT_KNOW)] == [label(o) for o in (*SCALE, DONT_KNOW)]

    # Six people: Mikko changes his answer, Johanna taps the same answer twice, Elina doesn't know.
    mikko, ebba, johanna, oskar, elina = roster.others
    me = roster.me
    taps = [
        (me, 5),
        (mikko, 3),
        (ebba, 4),
        (johanna, 4),
        (oskar, 3),
        (elina, DONT_KNOW),
        (mikko, 5),
        (johanna, 4),
    ]
    for user, option in taps:
        answer = await playground.invoke(
            chat, posted["id"], "poll.vote", buttons[option]["data"], from_user=user
        )
        assert answer["type"] == CARD, answer
        mine = answer["value"]
        chosen = [o for o, button in vote_buttons(mine).items() if button["title"].startswith("\u2714 ")]
        assert chosen == [option], f"{user.name} tapped {option}, the card marks {chosen}"
        assert SV._(
            "Your answer: {answer}. You can change it until the poll closes.",
            answer=SV._(OPTION_LABELS[option]),
        ) in card_text(mine)

    # The coordinator closes it early; the results follow in the chat.
    await playground.send_text(chat, f"poll #{session} close", mention_bot=True)
    reply = only_card(await playground.next_bot_message(chat))
    assert EN._(
        "The poll of session #{session} closes now; its results follow.", session=session
    ) in card_text(reply)

    results = await playground.next_bot_message(chat, wanted=of_network(SV._("Feedback results")))
    shown = card_text(only_card(results))
    log.info("results:\n%s", shown)
    # One answer a person (Mikko's last, Johanna's once); five on the scale, one "don't know".
    expected = {5: 2, 4: 2, 3: 1, 2: 0, 1: 0, DONT_KNOW: 1}
    for option, count in expected.items():
        assert f"{label(option)}\n{count}\n{SV.percent(count / 6)}\n" in shown + "\n", label(option)
    assert SV.n_("{n} answer", "{n} answers", 6) in shown
    assert SV._("mean {mean} on the 1\u20135 scale", mean=SV.number(4.2, 2)) in shown

    # The poll card itself turns into the results: no more buttons.
    update = await playground.next_bot_update(
        chat, wanted=lambda u: u["id"] == posted["id"] and of_network(SV._("Feedback results"))(u)
    )
    assert not vote_buttons(only_card(update))

    # A late tap (from a stale card) stores nothing and says the poll has closed.
    late = await playground.invoke(chat, posted["id"], "poll.vote", buttons[1]["data"], from_user=roster.me)
    assert SV._("This poll has closed. Thank you!") in card_text(late["value"])
    assert SV.n_("{n} answer", "{n} answers", 6) in card_text(late["value"])

"""Participation through the Teams client emulator: check-ins, meeting events and the report.

A session of "Digisumpit" starts in a few minutes (so check-in, which opens 15 minutes before the
start, is open). Teams tells the bot the meeting started; five people check in with "here" in the
group chat (one twice), Teams reports two of them joining (once redelivered); the meeting ends.
The coordinator's report counts five participants, all new, in one session held, and the end of
the meeting opens the session's feedback poll in the chat.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.e2e.playground import PlaygroundClient, Roster, card_text, cards
from tests.e2e.test_sessions_e2e import (
    EN,
    announcement,
    create_network,
    only_card,
    schedule_and_confirm,
    soon,
    verbs,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]
log = logging.getLogger(__name__)

NETWORK = "Digisumpit"
MEETING_ID = "MCMxOTplMmUtZGlnaXN1bXBpdEB0aHJlYWQudjIjMA=="
JOIN_URL = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_e2e-digisumpit%40thread.v2/0"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def handled(playground: PlaygroundClient, chat: str, activity: dict[str, Any]) -> None:
    """Wait until the bot has answered the activity (each delivery of it), with 200."""
    turn = await playground.next_turn(
        chat, wanted=lambda e: ((e.get("request") or {}).get("body") or {}).get("id") == activity["id"]
    )
    assert turn["response"]["statusCode"] == 200, turn["response"]


def meeting_value(**times: str) -> dict[str, Any]:
    return {"Id": MEETING_ID, "JoinUrl": JOIN_URL, "Title": NETWORK, "MeetingType": "Scheduled", **times}


async def test_check_ins_and_meeting_events_make_the_report(
    playground: PlaygroundClient, roster: Roster
) -> None:
    chat = roster.group_chat_id
    await create_network(playground, chat, f'network create "{NETWORK}" weekly', NETWORK)
    await schedule_and_confirm(playground, chat, f'schedule {NETWORK} "{soon(5)}" link {JOIN_URL}')
    posted, session = await announcement(playground, chat, NETWORK)
    assert {a.get("url") for a in only_card(posted)["actions"]} >= {JOIN_URL}

    started = await playground.send_meeting_event(
        chat, "meetingStart", meeting_value(StartTime=now_iso()), MEETING_ID
    )
    await handled(playground, chat, started)

    # Five people check in, each in their own name and language of the chat; Mikko twice.
    people = roster.others
    for user in (*people, people[0]):
        await playground.send_text(chat, "here", from_user=user, mention_bot=True)
        reply = await playground.next_bot_message(chat)
        assert reply["text"] == EN._(
            "Welcome, {name}! You are checked in to {network}.", name=user.name, network=NETWORK
        )

    # Teams says two of them joined the meeting (and redelivers that event).
    joined = await playground.send_meeting_event(
        chat,
        "meetingParticipantJoin",
        {"members": [playground.meeting_member(user) for user in people[:2]]},
        MEETING_ID,
    )
    await handled(playground, chat, joined)
    # Teams redelivers it once the bot answered (one still under way would get 503 Retry-After).
    await playground.send_custom_activity(joined)
    await handled(playground, chat, joined)
    ended = await playground.send_meeting_event(
        chat, "meetingEnd", meeting_value(EndTime=now_iso()), MEETING_ID
    )
    await handled(playground, chat, ended)

    # The end of the meeting opens the feedback poll, posted in the chat by the jobs.
    poll = await playground.next_bot_message(
        chat,
        wanted=lambda a: any("poll.vote" in verbs(c) and card_text(c).startswith(NETWORK) for c in cards(a)),
    )
    assert EN._("How was the session?") in card_text(only_card(poll))

    await playground.send_text(chat, f"report {NETWORK}", mention_bot=True)
    report = card_text(only_card(await playground.next_bot_message(chat)))
    log.info("report:\n%s", report)
    assert EN._("{network}: participation", network=NETWORK) in report
    assert f"{EN._('Sessions held')}\n1\n" in report
    assert f"{EN._('Participants')}\n5\n" in report
    assert f"{EN._('New participants')}\n5\n" in report
    assert f"{EN._('Came more than once')}\n0\n" in report
    assert "5 participants (5 new, 0 returning)" in report

    # The meeting's events went to this session (by its join link), which is now held.
    await playground.send_text(chat, f"sessions {NETWORK}", mention_bot=True)
    listing = card_text(only_card(await playground.next_bot_message(chat))).split("\n")
    [row] = [line for line in listing if line.startswith(f"**#{session}** ")]
    assert row.endswith(f"({EN._('held')})"), row

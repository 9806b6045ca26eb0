"""Teams redelivers: every kind of activity the bot takes, twice with one id, then with a new id.

Method: the whole app in process (tests/support/harness.py: dev mode, a SQLite file, a FakeClock, a
local fake Bot Connector), driven only through POST /api/messages. After every delivery the test
counts the rows of *every* table of the schema directly with SQL, and compares with the counts
before it: the first delivery must change exactly the rows its action writes, a redelivery with
the same activity id must change nothing at all (not even the inbound ledger) and must answer an
invoke with the very body of the first answer, and the same action with a new activity id (a second
click, the same command typed again) must change exactly what a repetition of that action should,
usually nothing but its own inbound-ledger row. What the bot posted to the connector is counted too:
a redelivery never posts a second reply. At the end everything is delivered once more with the
original ids, an hour later, and again nothing changes.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import text

from bot.app import PARTS
from tests.support.harness import Harness, cards_of, user

JOIN = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_rel%40thread.v2/0"
BOT_ID = "28:tapaamo-bot"
Counts = dict[str, int]


async def table_counts(bot: Harness) -> Counts:
    """Rows of every table of the schema (Alembic's own excepted)."""
    async with bot.app[PARTS].database.read() as session:
        names = (
            await session.scalars(
                text(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%' AND name <> 'alembic_version'"
                )
            )
        ).all()
        return {
            name: int((await session.execute(text(f'SELECT count(*) FROM "{name}"'))).scalar() or 0)
            for name in sorted(names)
        }


def delta(before: Counts, after: Counts) -> Counts:
    return {name: after[name] - before.get(name, 0) for name in after if after[name] != before.get(name, 0)}


class Redelivery:
    """Delivers an activity, then the same again, then a copy under a new id; checks each step."""

    def __init__(self, bot: Harness) -> None:
        self.bot = bot
        self.delivered: list[dict[str, Any]] = []
        self.answers: dict[str, Any] = {}

    def replies(self, conversation: str) -> int:
        return sum(
            1 for r in self.bot.connector.received if r.conversation_id == conversation and r.kind == "reply"
        )

    async def post(self, activity: dict[str, Any]) -> Any:
        answer = await self.bot.post(activity)
        # The finish of a turn is written in a batch after the answer; a redelivery that comes
        # before it is a concurrent one (see test_concurrent_duplicates...), not the case here.
        await self.bot.app[PARTS].endpoint.drain()
        return answer

    async def check(
        self,
        activity: dict[str, Any],
        first: Mapping[str, int],
        new_id: Mapping[str, int] | None = None,
        *,
        replies: tuple[int, int] = (0, 0),
    ) -> Any:
        """``first``/``new_id``: the exact row changes of the first delivery and of the copy with a
        new id, besides the one inbound_activities row each adds; ``replies``: the bot's replies
        in the conversation to the first delivery and to the copy."""
        conversation = activity["conversation"]["id"]
        before, replied = await table_counts(self.bot), self.replies(conversation)
        answer = await self.post(activity)
        after_first = await table_counts(self.bot)
        assert delta(before, after_first) == {**first, "inbound_activities": 1}, activity.get("text")
        assert self.replies(conversation) == replied + replies[0]

        again = await self.post(copy.deepcopy(activity))
        assert await table_counts(self.bot) == after_first, "a redelivery changed rows"
        assert again == answer, "a redelivered invoke must get the first answer"
        assert self.replies(conversation) == replied + replies[0], "a redelivery replied again"

        fresh = {**copy.deepcopy(activity), "id": f"{activity['id']}-new"}
        await self.post(fresh)
        assert delta(after_first, await table_counts(self.bot)) == {
            **(new_id or {}),
            "inbound_activities": 1,
        }, activity.get("text")
        assert self.replies(conversation) == replied + replies[0] + replies[1]
        self.delivered += [activity, fresh]
        self.answers[activity["id"]] = answer
        return answer


def meeting_event(bot: Harness, name: str, **value: Any) -> dict[str, Any]:
    return bot.activity(
        "event",
        name=f"application/vnd.microsoft.{name}",
        value={"Id": "meeting-rel", "JoinUrl": JOIN, **value},
        channelData={"tenant": {"id": "tenant-1"}, "meeting": {"id": "meeting-rel"}},
    )


async def test_every_activity_kind_redelivered_changes_nothing(bot: Harness) -> None:
    r = Redelivery(bot)
    added = bot.activity("conversationUpdate", membersAdded=[{"id": BOT_ID}, user(1)])
    await r.check(added, {"conversation_refs": 1}, replies=(1, 1))  # a new id is a new welcome

    await r.check(
        bot.activity(text='network create "Digisumpit" weekly'),
        {"networks": 1, "coordinators": 1, "audit_log": 1},
        replies=(1, 1),  # the copy is told the network exists
    )
    schedule = bot.activity(text=f'schedule Digisumpit "today 12:00" link {JOIN}')
    await r.check(schedule, {"drafts": 1}, {"drafts": 1}, replies=(1, 1))  # typed twice: two drafts
    confirm_card = cards_of([bot.connector.received[-2].activity])[0]
    draft = next(a["data"] for a in confirm_card["actions"] if a["verb"] == "session.confirm")

    confirm = bot.activity(
        "invoke",
        name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": "session.confirm", "data": draft}},
    )
    # a session, its announcement, home reminder (11:45) and end jobs, and the audit entry
    answer = await r.check(confirm, {"sessions": 1, "jobs": 3, "audit_log": 1})
    assert answer["type"] == "application/vnd.microsoft.card.adaptive"

    assert await bot.run_jobs() == 1
    [announcement] = [x for x in bot.connector.received if x.kind == "send"]
    rsvp_data = next(
        a["data"] for a in cards_of([announcement.activity])[0]["actions"] if a.get("verb") == "session.rsvp"
    )
    session_id = int(rsvp_data["session"])

    rsvp = bot.activity(
        "invoke",
        name="adaptiveCard/action",
        value={
            "action": {
                "type": "Action.Execute",
                "verb": "session.rsvp",
                "data": {**rsvp_data, "coming": True},
            }
        },
        sender=user(2),
    )
    await r.check(rsvp, {"rsvps": 1, "jobs": 1})  # one card update for the window

    bot.clock.advance(timedelta(minutes=50))  # 11:50: check-in is open
    await r.check(bot.activity(text="here", sender=user(3)), {"participations": 1}, replies=(1, 1))
    await r.check(
        meeting_event(bot, "meetingStart", StartTime="2026-01-05T09:58:00Z"),
        {"meeting_events": 1},
        {"meeting_events": 1},  # a new id is another event in the log; the session is unchanged
    )
    members = [{"user": {**user(n), "tenantId": "tenant-1"}, "meeting": {"inMeeting": True}} for n in (4, 5)]
    await r.check(
        bot.activity(
            "event", name="application/vnd.microsoft.meetingParticipantJoin", value={"members": members}
        ),
        {"meeting_events": 1, "participations": 2},
        {"meeting_events": 1},
    )

    await r.check(bot.activity(text=f"poll #{session_id}"), {"polls": 1, "jobs": 2}, replies=(1, 1))
    await bot.run_jobs()
    [poll_post] = [x for x in bot.connector.received if x.kind == "send" and "poll.vote" in str(x.activity)]
    vote_data = next(
        action["data"]
        for block in cards_of([poll_post.activity])[0]["body"]
        if block.get("type") == "ActionSet"
        for action in block["actions"]
        if action["data"]["o"] == 4
    )
    vote = bot.activity(
        "invoke",
        name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": "poll.vote", "data": vote_data}},
        sender=user(6),
    )
    answer = await r.check(vote, {"votes": 1})
    assert "\u2714" in str(answer["value"])

    bot.clock.advance(timedelta(minutes=70))
    await r.check(
        meeting_event(bot, "meetingEnd", EndTime="2026-01-05T11:02:00Z"),
        {"meeting_events": 1, "jobs": 1},  # the end's job has one dedupe key: not enqueued twice
        {"meeting_events": 1},
    )
    removed = bot.activity("conversationUpdate", membersRemoved=[{"id": BOT_ID}])
    # uninstalled: the conversation is forgotten, and the network homed there loses its home (audited)
    await r.check(removed, {"conversation_refs": -1, "audit_log": 1})

    # Everything once more with the first ids, an hour later (long past a stale claim's takeover):
    # a finished turn is never taken again while the ledger keeps it.
    bot.clock.advance(timedelta(hours=1))
    before = await table_counts(bot)
    sent = len(bot.connector.received)
    for activity in r.delivered:
        answer = await r.post(copy.deepcopy(activity))
        if activity["id"] in r.answers:
            assert answer == r.answers[activity["id"]]
    assert await table_counts(bot) == before
    assert len(bot.connector.received) == sent

    # Exact contents, read directly: one network, one session, one RSVP, one vote, three people.
    async with bot.app[PARTS].database.read() as session:
        assert (await session.execute(text("SELECT count(*) FROM sessions"))).scalar() == 1
        assert (await session.execute(text("SELECT option FROM votes"))).scalars().all() == [4]
        assert (await session.execute(text("SELECT user_id FROM rsvps"))).scalars().all() == ["29:user-2"]
        people = (
            (await session.execute(text("SELECT user_id FROM participations ORDER BY 1"))).scalars().all()
        )
        assert people == ["29:user-3", "29:user-4", "29:user-5"]
        keys = (await session.execute(text("SELECT dedupe_key FROM jobs ORDER BY 1"))).scalars().all()
        assert len(keys) == len(set(keys))


async def held_poll(bot: Harness) -> int:
    """A network, a session today, its poll opened with ``poll #id``; the poll's id."""
    await bot.say('network create "Kaffe" weekly')
    [card] = cards_of(await bot.say('schedule Kaffe "today 12:00"'))
    draft = next(a["data"] for a in card["actions"] if a["verb"] == "session.confirm")
    await bot.click("session.confirm", draft)
    await bot.run_jobs()
    async with bot.app[PARTS].database.read() as session:
        session_id = (await session.execute(text("SELECT id FROM sessions"))).scalar()
    await bot.say(f"poll #{session_id}")
    async with bot.app[PARTS].database.read() as session:
        return int((await session.execute(text("SELECT id FROM polls"))).scalar() or 0)


def vote(bot: Harness, poll_id: int, n: int, option: int) -> dict[str, Any]:
    data = {"poll": poll_id, "q": "work", "o": option}
    return bot.activity(
        "invoke",
        name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": "poll.vote", "data": data}},
        sender=user(n),
    )


async def post_raw(bot: Harness, activity: dict[str, Any]) -> tuple[int, Any]:
    response = await bot.client.post("/api/messages", json=activity)
    raw = await response.text()
    return response.status, (await response.json() if raw else None)


async def test_concurrent_duplicates_of_a_vote_count_once(bot: Harness) -> None:
    """Method: the same vote activity posted ten times at once (Teams retrying while the first is
    still being handled) together with ten other voters' votes; then every copy that was told to
    retry (503, Retry-After) is delivered again. The votes table holds exactly one row per voter;
    no copy got a 500 or an empty 200; every copy ends with the first copy's answer."""
    poll_id = await held_poll(bot)
    duplicated = vote(bot, poll_id, 2, 5)
    others = [vote(bot, poll_id, n, n % 6) for n in range(3, 13)]

    answers = await asyncio.gather(
        *(post_raw(bot, copy.deepcopy(duplicated)) for _ in range(10)), *(post_raw(bot, a) for a in others)
    )
    assert {status for status, _ in answers} <= {200, 503}
    assert all(body for status, body in answers if status == 200), "a 200 without the answer"
    handled = [body for status, body in answers[:10] if status == 200]
    assert handled, "one copy is handled"
    await bot.app[PARTS].endpoint.drain()
    for status, _ in answers[:10]:
        if status == 503:
            assert await post_raw(bot, copy.deepcopy(duplicated)) == (200, handled[0])
    async with bot.app[PARTS].database.read() as session:
        assert (await session.execute(text("SELECT count(*) FROM votes"))).scalar() == 11
        fives = (await session.execute(text("SELECT count(*) FROM votes WHERE option = 5"))).scalar()
    assert fives == 1 + sum(1 for n in range(3, 13) if n % 6 == 5)


async def test_a_turn_cut_by_a_crash_is_handled_when_redelivered(bot: Harness) -> None:
    """Method: a vote's activity is claimed in the inbound ledger the way a turn begins, and never
    finished (its process died before the vote was written). Its redelivery is answered 503 with
    Retry-After -- not a 200, after which Teams would never send it again and the vote would be
    lost -- and so is every redelivery while the claim may still belong to a live turn; once the
    claim is stale (two minutes on the clock) the redelivery takes it over: the vote is counted
    once and answered with the card, and a later copy gets that same answer."""
    from bot.teams import conversation_ref
    from storage.repositories import STALE_CLAIM

    poll_id = await held_poll(bot)
    ballot = vote(bot, poll_id, 2, 4)
    key = f"{ballot['conversation']['id']}|{ballot['id']}"
    endpoint = bot.app[PARTS].endpoint
    assert await endpoint.inbound.begin(key, conversation_ref(ballot, bot.clock.now()))

    response = await bot.client.post("/api/messages", json=ballot)
    assert response.status == 503
    assert response.headers["Retry-After"] == "1"
    bot.clock.advance(STALE_CLAIM - timedelta(seconds=1))
    assert (await post_raw(bot, ballot))[0] == 503
    async with bot.app[PARTS].database.read() as session:
        assert (await session.execute(text("SELECT count(*) FROM votes"))).scalar() == 0

    bot.clock.advance(timedelta(seconds=2))
    status, answer = await post_raw(bot, ballot)
    assert status == 200
    assert answer["type"] == "application/vnd.microsoft.card.adaptive"
    await endpoint.drain()
    assert await post_raw(bot, ballot) == (200, answer)
    async with bot.app[PARTS].database.read() as session:
        assert (await session.execute(text("SELECT option FROM votes"))).scalars().all() == [4]

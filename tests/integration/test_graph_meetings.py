"""Teams meetings made through Graph for sessions scheduled without a link: one session, one meeting.

Graph's ``createOrGet`` (``POST /users/{id}/onlineMeetings/createOrGet`` with an ``externalId``)
is what makes this hold when the announcement job crashes after Graph made the meeting and before
its join link was saved. FakeGraph implements the endpoint; msal signs in at its local authority.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app import PARTS
from bot.graph import GraphClient
from dialogs.session_jobs import SessionJobs
from domain import planning
from domain.clock import FakeClock
from domain.ports import DeliveryFailed, OnlineMeeting
from tests.fakes.graph import FakeGraph
from tests.integration.test_sessions_flow import announcements, create_network, schedule_and_confirm
from tests.support.cards import assert_valid_card
from tests.support.graph import graph_tokens
from tests.support.harness import Harness, cards_of, running_bot

START = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)
END = START + timedelta(minutes=90)


class Sleeps:
    async def __call__(self, delay: float) -> None:
        return None


class CrashAfterCreating:
    """The Graph client, but the first call 'dies' after Graph has made the meeting: the process
    went down between Graph's answer and saving the join link."""

    def __init__(self, graph: GraphClient) -> None:
        self.graph = graph
        self.crashed = False

    async def create_meeting(
        self, *, subject: str, start: dt.datetime, end: dt.datetime, external_id: str | None = None
    ) -> OnlineMeeting:
        meeting = await self.graph.create_meeting(
            subject=subject, start=start, end=end, external_id=external_id
        )
        if not self.crashed:
            self.crashed = True
            raise RuntimeError("process killed after Graph made the meeting")
        return meeting


@pytest.fixture
async def fake(tmp_path: Path) -> AsyncIterator[FakeGraph]:
    async with FakeGraph(directory=tmp_path / "graph", page_size=2) as graph:
        yield graph


@pytest.fixture
async def graph(fake: FakeGraph) -> AsyncIterator[GraphClient]:
    tokens = graph_tokens(fake)
    async with aiohttp.ClientSession() as http:
        client = GraphClient(
            http, tokens, fake.graph_url, fake.organizer_id, fake.client_ssl(), sleep=Sleeps()
        )
        try:
            yield client
        finally:
            client.close()


def session_jobs(bot: Harness) -> SessionJobs:
    jobs = bot.app[PARTS].runner._handlers[planning.ANNOUNCE].__self__
    assert isinstance(jobs, SessionJobs)
    return jobs


def create_or_get_calls(fake: FakeGraph) -> list[Any]:
    return [c for c in fake.requests if c.method == "POST" and c.path.endswith("/onlineMeetings/createOrGet")]


def join_urls(card: dict[str, Any]) -> list[str]:
    return [
        a["url"]
        for a in card.get("actions", [])
        if a["type"] == "Action.OpenUrl" and "meetup-join" in a["url"]
    ]


async def test_the_same_external_id_gives_the_same_meeting(fake: FakeGraph, graph: GraphClient) -> None:
    first = await graph.create_meeting(
        subject="Taloustorstai", start=START, end=END, external_id="tapaamo-session-7"
    )
    again = await graph.create_meeting(
        subject="changed", start=START, end=END, external_id="tapaamo-session-7"
    )
    other = await graph.create_meeting(
        subject="Taloustorstai", start=START, end=END, external_id="tapaamo-session-8"
    )

    assert again == first
    assert other.meeting_id != first.meeting_id
    assert len(fake.meetings) == 2
    calls = create_or_get_calls(fake)
    assert [c.status for c in calls] == [201, 200, 201]  # made, found, made
    assert calls[0].body == {
        "startDateTime": "2026-03-02T15:00:00Z",
        "endDateTime": "2026-03-02T16:30:00Z",
        "subject": "Taloustorstai",
        "externalId": "tapaamo-session-7",
    }
    assert fake.meetings[first.meeting_id]["externalId"] == "tapaamo-session-7"
    assert fake.meetings[first.meeting_id]["subject"] == "Taloustorstai"  # the repeat changed nothing


async def test_the_announcement_carries_the_graph_meeting_and_a_crash_makes_no_second(
    tmp_path: Path, fake: FakeGraph, graph: GraphClient
) -> None:
    async with running_bot(tmp_path, FakeClock()) as bot:
        crashing = CrashAfterCreating(graph)
        session_jobs(bot).meetings = crashing
        await create_network(bot)
        await schedule_and_confirm(bot, 'schedule Taloustorstai "next thursday 14:00" "Budjetti 2027"')

        await bot.run_jobs()
        assert crashing.crashed
        assert announcements(bot) == []  # the job died before posting anything
        assert len(fake.meetings) == 1

        await bot.advance(timedelta(minutes=10))  # the job's retry
        [posted] = announcements(bot)
        [card] = cards_of([posted.activity])
        assert_valid_card(card)
        [meeting] = fake.meetings.values()
        assert join_urls(card) == [meeting["joinWebUrl"]]
        assert meeting["subject"] == "Taloustorstai: Budjetti 2027"
        assert meeting["startDateTime"].startswith("2026-01-08T12:00:00")  # 14:00 in Helsinki
        assert [c.status for c in create_or_get_calls(fake)] == [201, 200]
        assert not any(c.path.endswith("/onlineMeetings") for c in fake.requests)  # never the plain create

        # Later jobs use the saved link: Graph is not asked again.
        await bot.advance(timedelta(days=3, hours=2, minutes=45))  # past the home reminder
        assert len(create_or_get_calls(fake)) == 2
        assert len(announcements(bot)) == 1
        reminders = [r.activity.get("text", "") for r in bot.connector.received if r.kind == "send"]
        assert any(meeting["joinWebUrl"] in text for text in reminders)


async def test_a_refusal_that_will_not_pass_still_announces_the_session(
    tmp_path: Path, fake: FakeGraph, graph: GraphClient
) -> None:
    fake.policy_users.clear()  # no application access policy for the organizer: 403
    async with running_bot(tmp_path, FakeClock()) as bot:
        session_jobs(bot).meetings = graph
        await create_network(bot)
        await schedule_and_confirm(bot, 'schedule Taloustorstai "next thursday 14:00"')
        await bot.run_jobs()
        [posted] = announcements(bot)
        [card] = cards_of([posted.activity])
        assert join_urls(card) == []
        assert fake.meetings == {}


async def test_a_passing_failure_retries_the_job(fake: FakeGraph, graph: GraphClient) -> None:
    fake.fail_next(10, status=503, retry_after=None)
    with pytest.raises(DeliveryFailed) as failed:
        await graph.create_meeting(subject="x", start=START, end=END, external_id="tapaamo-session-9")
    assert failed.value.retryable
    assert fake.meetings == {}

"""The Teams attendance report reaches the ledger: fetched after the meeting, once it exists,
through the local fake Graph (paging, a 429 on a page of records)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import pytest
from sqlalchemy import text

from bot.app import PARTS
from bot.graph import GraphClient
from domain.clock import FakeClock
from domain.participation import ATTENDANCE_FETCH
from tests.fakes.graph import FakeGraph, attendance_record
from tests.integration.test_participation_flow import meeting_with_two_today, session_today
from tests.support.graph import Sleeps, graph_tokens
from tests.support.harness import Harness, cards_of, running_bot, texts

MEETING = "meeting-1"  # the id the meeting events carry (tests.integration.test_participation_flow)


def at(hour: int, minute: int) -> dt.datetime:
    return dt.datetime(2026, 1, 5, hour, minute, tzinfo=dt.UTC)


@pytest.fixture
async def fake(tmp_path: Path) -> AsyncIterator[FakeGraph]:
    async with FakeGraph(directory=tmp_path, page_size=2) as graph:
        yield graph


async def test_the_attendance_report_is_merged_once_teams_has_it(tmp_path: Path, fake: FakeGraph) -> None:
    # A 429 on the second page of attendance records, as Graph throttles a long report.
    async def on_request_start(
        session: aiohttp.ClientSession, context: SimpleNamespace, params: aiohttp.TraceRequestStartParams
    ) -> None:
        url = str(params.url)
        if "/attendanceRecords" in url and "skiptoken" in url.lower() and not throttled:
            throttled.append(url)
            fake.fail_next(1, status=429, retry_after="2")

    throttled: list[str] = []
    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    sleeps = Sleeps()
    tokens = graph_tokens(fake)
    async with (
        aiohttp.ClientSession(trace_configs=[trace]) as http,
        running_bot(tmp_path, FakeClock()) as bot,
    ):
        graph = GraphClient(http, tokens, fake.graph_url, fake.organizer_id, fake.client_ssl(), sleep=sleeps)
        # The app as it runs with Graph configured: its session jobs read attendance from the fake.
        session_jobs = bot.app[PARTS].runner._handlers[ATTENDANCE_FETCH].__self__  # type: ignore[attr-defined]
        session_jobs.attendance = graph
        try:
            await meeting_held(bot, fake)
        finally:
            tokens.close()
        assert throttled, "the second page of records was throttled"
        assert 2.0 in sleeps.delays  # Retry-After honoured
        [report] = cards_of(await bot.say("report Digisumpit"))
        # Two checked in through the meeting events; three more only in the attendance report.
        assert "5 participants (5 new, 0 returning)" in texts(report)
        async with bot.app[PARTS].database.read() as session:
            minutes = dict(
                (
                    await session.execute(
                        text("SELECT display_name, minutes FROM participations WHERE minutes > 0")
                    )
                ).all()
            )
        assert minutes == {"Eero": 45, "Fanni": 50, "Gösta": 30}


async def test_a_report_that_never_comes_is_asked_for_four_times_and_given_up_quietly(
    tmp_path: Path, fake: FakeGraph
) -> None:
    tokens = graph_tokens(fake)
    async with aiohttp.ClientSession() as http, running_bot(tmp_path, FakeClock()) as bot:
        graph = GraphClient(http, tokens, fake.graph_url, fake.organizer_id, fake.client_ssl())
        session_jobs = bot.app[PARTS].runner._handlers[ATTENDANCE_FETCH].__self__  # type: ignore[attr-defined]
        session_jobs.attendance = graph
        try:
            await meeting_ended(bot, fake)
            for _ in range(4):
                await bot.advance(timedelta(days=1))
        finally:
            tokens.close()
        fetches = [c for c in fake.requests if c.path.endswith("/attendanceReports") and c.method == "GET"]
        assert len(fetches) == 4  # 15 min after the end, then an hour, four and a day after each try
        async with bot.app[PARTS].database.read() as session:
            jobs = (
                await session.execute(
                    text("SELECT status FROM jobs WHERE kind = :k"), {"k": ATTENDANCE_FETCH}
                )
            ).all()
        # Nothing dead or failed for /healthz to raise: a meeting nobody joined has no report.
        assert [row[0] for row in jobs] == ["done"] * 4


async def meeting_ended(bot: Harness, fake: FakeGraph) -> None:
    # The meeting exists in Graph (its organizer is the app's), with no attendance report yet.
    fake.meetings[MEETING] = {"id": MEETING, "subject": "Digisumpit"}
    fake._organizer_of[MEETING] = fake.organizer_id
    await session_today(bot)
    await meeting_with_two_today(bot)


async def meeting_held(bot: Harness, fake: FakeGraph) -> None:
    await meeting_ended(bot, fake)
    fetches = lambda: [  # noqa: E731
        c for c in fake.requests if c.path.endswith("/attendanceReports") and c.method == "GET"
    ]
    assert fetches() == []  # not asked at once: Teams has no report yet
    await bot.advance(timedelta(minutes=15))
    assert len(fetches()) == 1  # asked; none yet, so it asks again in an hour
    await bot.advance(timedelta(minutes=59))
    assert len(fetches()) == 1
    await bot.advance(timedelta(minutes=1))
    assert len(fetches()) == 2
    fake.add_attendance_report(
        MEETING,
        [
            attendance_record(
                f"e{n}e{n}0000-0000-4000-8000-00000000000{n}", name, [(at(10, 0), at(10, mins))]
            )
            for n, (name, mins) in enumerate((("Eero", 45), ("Fanni", 50), ("Gösta", 30)), start=1)
        ],
    )
    await bot.advance(timedelta(hours=4))
    async with bot.app[PARTS].database.read() as session:
        jobs = (
            await session.execute(text("SELECT status FROM jobs WHERE kind = :k"), {"k": ATTENDANCE_FETCH})
        ).all()
    assert [row[0] for row in jobs] == ["done", "done", "done"]  # none failed: no report yet is no error

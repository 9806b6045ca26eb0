"""bot.graph against FakeGraph: msal over real HTTPS to a local authority, Graph over aiohttp.

Nothing here really waits: the client's sleep is a recorder.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import certifi
import pytest

from bot.graph import AttendanceRecord, GraphClient, GraphTokens, build_graph
from bot.settings import Settings
from domain.participation import Member, ReportRecord
from domain.ports import AttendanceSource, DeliveryFailed, MeetingProvider, OnlineMeeting
from tests.fakes.graph import GRAPH_DEFAULT_SCOPE, FakeGraph, attendance_record
from tests.support.graph import Sleeps, graph_tokens

HELSINKI = ZoneInfo("Europe/Helsinki")
START = dt.datetime(2026, 3, 2, 17, 0, tzinfo=HELSINKI)  # 15:00 UTC
END = dt.datetime(2026, 3, 2, 18, 30, tzinfo=HELSINKI)


OPEN_TOKENS: list[GraphTokens] = []  # closed by the fake fixture


@pytest.fixture
async def fake(tmp_path: Path) -> AsyncIterator[FakeGraph]:
    async with FakeGraph(directory=tmp_path, page_size=2) as graph:
        yield graph
        while OPEN_TOKENS:  # msal's connections end before the fake stops: no unclosed sockets
            OPEN_TOKENS.pop().close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make_tokens(fake: FakeGraph, *, secret: str | None = None, tenant: str | None = None) -> GraphTokens:
    tokens = graph_tokens(fake, secret=secret, tenant=tenant)
    OPEN_TOKENS.append(tokens)
    return tokens


def make_client(
    fake: FakeGraph, session: aiohttp.ClientSession, sleeps: Sleeps, tokens: GraphTokens | None = None
) -> GraphClient:
    return GraphClient(
        session,
        tokens or make_tokens(fake),
        fake.graph_url,
        fake.organizer_id,
        fake.client_ssl(),
        sleep=sleeps,
    )


async def test_creates_meetings_with_one_token(
    fake: FakeGraph, session: aiohttp.ClientSession, sleeps: Sleeps
) -> None:
    tokens = make_tokens(fake)
    client = make_client(fake, session, sleeps, tokens)
    provider: MeetingProvider = client

    first = await provider.create_meeting(subject="Avoin verkosto", start=START, end=END)
    second = await provider.create_meeting(subject="Avoin verkosto 2", start=START, end=END)

    assert isinstance(first, OnlineMeeting)
    assert first.meeting_id in fake.meetings
    assert second.meeting_id in fake.meetings
    assert first.meeting_id != second.meeting_id
    assert first.join_url == fake.meetings[first.meeting_id]["joinWebUrl"]
    assert first.join_url.startswith("https://teams.microsoft.com/l/meetup-join/")

    # one token, asked for once by client credentials and carried by both calls
    assert len(fake.discovery_requests) == 1
    [token_request] = fake.token_requests
    assert token_request.client_id == fake.client_id
    assert token_request.grant_type == "client_credentials"
    assert token_request.scope == GRAPH_DEFAULT_SCOPE
    assert token_request.secret_ok
    assert tokens.acquisitions == 1
    calls = fake.requests
    assert [(c.method, c.status) for c in calls] == [("POST", 201), ("POST", 201)]
    assert calls[0].path == f"/users/{fake.organizer_id}/onlineMeetings"
    assert calls[0].token is not None
    assert calls[0].token == calls[1].token

    assert calls[0].body == {
        "startDateTime": "2026-03-02T15:00:00Z",
        "endDateTime": "2026-03-02T16:30:00Z",
        "subject": "Avoin verkosto",
    }
    assert sleeps.delays == []


async def test_concurrent_calls_share_one_token_request(
    fake: FakeGraph, session: aiohttp.ClientSession, sleeps: Sleeps
) -> None:
    client = make_client(fake, session, sleeps)
    meetings = await asyncio.gather(
        *(client.create_meeting(subject=f"s{i}", start=START, end=END) for i in range(5))
    )
    assert len({m.meeting_id for m in meetings}) == 5
    assert len(fake.token_requests) == 1


async def test_token_is_renewed_five_minutes_before_expiry(fake: FakeGraph) -> None:
    now = [1000.0]
    tokens = graph_tokens(fake, monotonic=lambda: now[0])
    OPEN_TOKENS.append(tokens)
    first = await tokens.token()
    now[0] += fake.expires_in - 301  # still more than five minutes left
    assert await tokens.token() == first
    assert tokens.acquisitions == 1
    now[0] += 2  # under five minutes left: asked again (msal's own cache answers, by real time)
    await tokens.token()
    assert tokens.acquisitions == 2


async def test_wrong_secret_is_not_retryable(
    fake: FakeGraph, session: aiohttp.ClientSession, sleeps: Sleeps
) -> None:
    client = make_client(fake, session, sleeps, make_tokens(fake, secret="not-the-secret"))

    with pytest.raises(DeliveryFailed) as failure:
        await client.create_meeting(subject="x", start=START, end=END)

    assert failure.value.retryable is False
    reason = str(failure.value)
    assert "secret is wrong" in reason
    assert "AADSTS7000215" in reason
    assert "not-the-secret" not in reason
    [token_request] = fake.token_requests
    assert token_request.status == 401
    assert not token_request.secret_ok
    assert fake.requests == []  # Graph itself was never called
    assert sleeps.delays == []


async def test_unknown_tenant_is_not_retryable(
    fake: FakeGraph, session: aiohttp.ClientSession, sleeps: Sleeps
) -> None:
    client = make_client(fake, session, sleeps, make_tokens(fake, tenant="no-such-tenant"))
    with pytest.raises(DeliveryFailed) as failure:
        await client.create_meeting(subject="x", start=START, end=END)
    assert failure.value.retryable is False
    assert "sign-in failed" in str(failure.value)
    assert fake.discovery_requests == ["no-such-tenant"]
    assert fake.token_requests == []


async def test_429_honours_retry_after_then_succeeds(
    fake: FakeGraph, session: aiohttp.ClientSession, sleeps: Sleeps
) -> None:
    client = make_client(fake, session, sleeps)
    fake.fail_next(2, status=429, retry_after="1")

    meeting = await client.create_meeting(subject="x", start=START, end=END)

    assert meeting.meeting_id in fake.meetings
    assert fake.graph_statuses() == [429, 429, 201]
    assert sleeps.delays == [1.0, 1.0]
    assert len(fake.token_requests) == 1


async def test_503_without_retry_after_backs_off_with_jitter(
    fake: FakeGraph, session: aiohttp.ClientSession, sleeps: Sleeps
) -> None:
    client = make_client(fake, session, sleeps)
    fake.fail_next(2, status=503, retry_after=None)

    await client.create_meeting(subject="x", start=START, end=END)

    assert fake.graph_statuses() == [503, 503, 201]
    first, second = sleeps.delays
    assert 1.0 <= first <= 1.5
    assert 2.0 <= second <= 3.0


async def test_throttling_that_does_not_end_is_retryable(
    fake: FakeGraph, session: aiohttp.ClientSession, sleeps: Sleeps
) -> None:
    client = make_client(fake, session, sleeps)
    fake.fail_next(10, status=429, retry_after="1")

    with pytest.raises(DeliveryFailed) as failure:
        await client.create_meeting(subject="x", start=START, end=END)

    assert failure.value.retryable is True
    assert "429" in str(failure.value)
    assert fake.graph_statuses() == [429] * 4  # bounded: four tries, three waits
    assert sleeps.delays == [1.0, 1.0, 1.0]
    assert fake.meetings == {}


async def test_retry_after_longer_than_the_bound_is_left_to_the_job_queue(
    fake: FakeGraph, session: aiohttp.ClientSession, sleeps: Sleeps
) -> None:
    client = make_client(fake, session, sleeps)
    fake.fail_next(1, status=503, retry_after="120")
    with pytest.raises(DeliveryFailed) as failure:
        await client.create_meeting(subject="x", start=START, end=END)
    assert failure.value.retryable is True
    assert sleeps.delays == []


async def test_revoked_token_is_replaced_once(
    fake: FakeGraph, session: aiohttp.ClientSession, sleeps: Sleeps
) -> None:
    client = make_client(fake, session, sleeps)
    await client.create_meeting(subject="x", start=START, end=END)
    fake.revoke_tokens()

    await client.create_meeting(subject="y", start=START, end=END)

    assert fake.graph_statuses() == [201, 401, 201]
    assert len(fake.token_requests) == 2
    assert fake.requests[1].token != fake.requests[2].token


async def test_missing_access_policy_is_not_retryable(
    fake: FakeGraph, session: aiohttp.ClientSession, sleeps: Sleeps
) -> None:
    client = make_client(fake, session, sleeps)
    fake.policy_users.clear()
    with pytest.raises(DeliveryFailed) as failure:
        await client.create_meeting(subject="x", start=START, end=END)
    assert failure.value.retryable is False
    reason = str(failure.value)
    assert "OnlineMeetings.ReadWrite.All" in reason
    assert "application access policy" in reason
    assert "No application access policy found" in reason
    assert sleeps.delays == []


async def test_network_error_is_retryable(
    fake: FakeGraph, session: aiohttp.ClientSession, sleeps: Sleeps
) -> None:
    client = make_client(fake, session, sleeps)
    await client.create_meeting(subject="x", start=START, end=END)  # the token is in hand
    await fake.close()

    with pytest.raises(DeliveryFailed) as failure:
        await client.create_meeting(subject="y", start=START, end=END)

    assert failure.value.retryable is True
    assert "unreachable" in str(failure.value)
    assert len(sleeps.delays) == 3


def at(hour: int, minute: int, second: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, 2, hour, minute, second, tzinfo=dt.UTC)


async def test_attendance_merges_reports_and_pages_per_person(
    fake: FakeGraph, session: aiohttp.ClientSession, sleeps: Sleeps
) -> None:
    client = make_client(fake, session, sleeps)
    meeting = await client.create_meeting(subject="x", start=START, end=END)
    alice, bob, carol = (
        "a1a1a1a1-0000-4000-8000-000000000001",
        "b2b2b2b2-0000-4000-8000-000000000002",
        ("c3c3c3c3-0000-4000-8000-000000000003"),
    )
    # first run of the meeting: three people, two pages of records
    fake.add_attendance_report(
        meeting.meeting_id,
        [
            attendance_record(
                alice,
                "Alice Aalto",
                [(at(15, 2), at(15, 40))],
                email="alice@example.org",
                tenant_id=fake.tenant_id,
                role="Organizer",
            ),
            attendance_record(
                bob,
                "Bob Berg",
                [(at(15, 5), at(15, 20)), (at(15, 25), at(15, 50))],
                email="bob@example.org",
                tenant_id=fake.tenant_id,
            ),
            attendance_record("", "Guest (Unverified)", [(at(15, 10), at(15, 11, 30))]),
        ],
    )
    # second run (the meeting was restarted): Alice again, and Carol; one page
    fake.add_attendance_report(
        meeting.meeting_id,
        [
            attendance_record(
                alice,
                "Alice Aalto",
                [(at(16, 0), at(16, 29, 59))],
                email="alice@example.org",
                tenant_id=fake.tenant_id,
                role="Organizer",
            ),
            attendance_record(
                carol,
                "Carol Creutz",
                [(at(16, 1), at(16, 11))],
                email="carol@partner.example",
                tenant_id="99999999-0000-4000-8000-000000000009",
            ),
        ],
    )

    people = await client.attendance(meeting.meeting_id)

    by_id = {p.user_id: p for p in people}
    assert by_id[alice] == AttendanceRecord(
        user_id=alice,
        display_name="Alice Aalto",
        tenant_id=fake.tenant_id,
        email="alice@example.org",
        first_join=at(15, 2),
        last_leave=at(16, 29, 59),
        total_seconds=38 * 60 + 29 * 60 + 59,
        role="Organizer",
    )
    assert by_id[bob].first_join == at(15, 5)
    assert by_id[bob].last_leave == at(15, 50)
    assert by_id[bob].total_seconds == 40 * 60
    assert by_id[carol].tenant_id == "99999999-0000-4000-8000-000000000009"
    assert by_id[carol].total_seconds == 600
    guest = by_id[""]
    assert guest.display_name == "Guest (Unverified)"
    assert guest.email is None
    assert guest.total_seconds == 90
    assert [p.display_name for p in people] == [
        "Alice Aalto",
        "Bob Berg",
        "Guest (Unverified)",
        "Carol Creutz",
    ]
    assert all(p.first_join is not None and p.first_join.tzinfo is not None for p in people)

    # one page of reports, then two pages of the first report's records and one of the second's
    gets = [c for c in fake.requests if c.method == "GET"]
    assert [c.path.rsplit("/", 1)[-1] for c in gets] == [
        "attendanceReports",
        "attendanceRecords",
        "attendanceRecords",
        "attendanceRecords",
    ]
    assert "$skiptoken" in gets[2].query
    assert all(c.status == 200 for c in gets)
    assert len(fake.token_requests) == 1


async def test_attendance_records_for_the_ledger(
    fake: FakeGraph, session: aiohttp.ClientSession, sleeps: Sleeps
) -> None:
    client = make_client(fake, session, sleeps)
    source: AttendanceSource = client
    meeting_id = "MSpsZWRnZXIqMCoqMTk6bWVldGluZ19sZWRnZXJAdGhyZWFkLnYy"
    person = "e5e5e5e5-0000-4000-8000-000000000005"
    fake.add_attendance_report(
        meeting_id,
        [
            attendance_record(
                person, "Eero", [(at(15, 0), at(15, 45))], email="eero@example.org", tenant_id=fake.tenant_id
            ),
            attendance_record("", "Dial-in +358 40 ***", [(at(15, 5), at(15, 6))]),
        ],
    )
    [record] = await source.attendance_records(meeting_id)
    assert record == ReportRecord(
        member=Member(
            user_id=None, aad_id=person, name="Eero", tenant_id=fake.tenant_id, email="eero@example.org"
        ),
        first_join=at(15, 0),
        last_leave=at(15, 45),
        total_seconds=45 * 60,
    )


async def test_attendance_pages_reports_too(
    fake: FakeGraph, session: aiohttp.ClientSession, sleeps: Sleeps
) -> None:
    client = make_client(fake, session, sleeps)
    meeting_id = "MSpzZWVkZWQqMCoqMTk6bWVldGluZ19zZWVkZWRAdGhyZWFkLnYy"
    person = "d4d4d4d4-0000-4000-8000-000000000004"
    for run in range(3):  # three reports: two pages of reports
        fake.add_attendance_report(
            meeting_id, [attendance_record(person, "Dana", [(at(15 + run, 0), at(15 + run, 10))])]
        )
    [dana] = await client.attendance(meeting_id)
    assert (dana.first_join, dana.last_leave, dana.total_seconds) == (at(15, 0), at(17, 10), 1800)
    reports_pages = [c for c in fake.requests if c.path.endswith("/attendanceReports")]
    assert len(reports_pages) == 2


async def test_attendance_of_unknown_meeting_is_not_retryable(
    fake: FakeGraph, session: aiohttp.ClientSession, sleeps: Sleeps
) -> None:
    client = make_client(fake, session, sleeps)
    with pytest.raises(DeliveryFailed) as failure:
        await client.attendance("MSpub3N1Y2gqMCoqMTk6bWVldGluZ19ub3N1Y2hAdGhyZWFkLnYy")
    assert failure.value.retryable is False
    assert "no such meeting" in str(failure.value)
    assert fake.graph_statuses() == [404]
    assert sleeps.delays == []


async def test_attendance_of_a_meeting_without_reports_is_empty(
    fake: FakeGraph, session: aiohttp.ClientSession, sleeps: Sleeps
) -> None:
    client = make_client(fake, session, sleeps)
    meeting = await client.create_meeting(subject="x", start=START, end=END)
    assert await client.attendance(meeting.meeting_id) == []


async def test_build_graph_needs_everything(fake: FakeGraph, session: aiohttp.ClientSession) -> None:
    complete: dict[str, Any] = {
        "graph_enabled": True,
        "app_id": fake.client_id,
        "app_password": fake.client_secret,
        "tenant_id": fake.tenant_id,
        "graph_organizer_user_id": fake.organizer_id,
        "login_authority": fake.authority,
        "graph_base_url": fake.graph_url,
        "graph_ca_bundle": str(fake.ca_path),
    }
    for missing in ("graph_enabled", "app_id", "app_password", "tenant_id", "graph_organizer_user_id"):
        settings = Settings(
            _env_file=None, **{**complete, missing: "" if missing != "graph_enabled" else False}
        )
        assert build_graph(settings, session) is None, missing

    client = build_graph(Settings(_env_file=None, **complete), session)
    assert client is not None
    try:
        meeting = await client.create_meeting(subject="from settings", start=START, end=END)
    finally:
        client.close()
    assert meeting.meeting_id in fake.meetings


async def test_naive_times_are_refused(session: aiohttp.ClientSession) -> None:
    client = GraphClient(session, GraphTokens("a", tenant_id="t"), "https://g.example", "u")
    with pytest.raises(ValueError, match="timezone-aware"):
        await client.create_meeting(subject="x", start=dt.datetime(2026, 1, 1, 9), end=END)


async def test_sign_in_outage_is_retryable(
    fake: FakeGraph, session: aiohttp.ClientSession, sleeps: Sleeps
) -> None:
    client = make_client(fake, session, sleeps)
    fake.fail_next(1, status=503, retry_after=None, on="token")
    with pytest.raises(DeliveryFailed) as failure:
        await client.create_meeting(subject="x", start=START, end=END)
    assert failure.value.retryable is True
    assert [r.status for r in fake.token_requests] == [503]
    assert fake.requests == []


async def test_ca_bundle_wins_over_requests_environment(
    fake: FakeGraph, session: aiohttp.ClientSession, sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch
) -> None:
    # requests would let these replace a session-wide verify= (psf/requests#3829)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    monkeypatch.setenv("CURL_CA_BUNDLE", certifi.where())
    client = make_client(fake, session, sleeps)
    meeting = await client.create_meeting(subject="x", start=START, end=END)
    assert meeting.meeting_id in fake.meetings

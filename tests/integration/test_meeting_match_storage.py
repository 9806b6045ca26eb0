"""A meeting's events find their session by id or join link nearest in time, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.clock import FakeClock
from domain.participation import MATCH_WINDOW
from domain.sessions import NewSession, Person
from storage.db import Database
from tests.integration.test_privacy import a_network, stores_on

LINK = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_series%40thread.v2/0"
FIRST = datetime(2026, 1, 5, 10, tzinfo=UTC)


async def test_a_series_sharing_one_link_matches_the_session_nearest_in_time(database: Database) -> None:
    s = stores_on(database, FakeClock())
    network = await a_network(s, "Digisumpit", Person("29:aino", "Aino", "aad-aino"))
    weeks = [
        NewSession(network.id, FIRST + timedelta(weeks=n), FIRST + timedelta(weeks=n, hours=1), "", LINK)
        for n in range(10)
    ]
    sessions = await s.sessions.add_sessions(weeks, FIRST - timedelta(days=1))

    async def near(moment: datetime) -> int | None:
        found = await s.sessions.by_meeting(None, LINK, moment, MATCH_WINDOW)
        return found.id if found else None

    assert await near(FIRST - timedelta(minutes=2)) == sessions[0].id
    assert await near(FIRST + timedelta(weeks=3, hours=1)) == sessions[3].id
    assert await near(FIRST + timedelta(days=3)) is None  # no session within three hours
    # The id learnt from the first week's event counts for the whole series sharing its link.
    await s.sessions.set_meeting(sessions[0].id, "meeting-series")
    found = await s.sessions.by_meeting("meeting-series", None, FIRST + timedelta(weeks=5), MATCH_WINDOW)
    assert found is not None
    assert found.id == sessions[5].id

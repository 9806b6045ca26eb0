"""The observed roles of the network workbook: strong participants at a large share of sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.participation import LedgerSession, Participation, Source, figures

START = datetime(2026, 1, 5, 10, tzinfo=UTC)


def row(session_id: int, key: str) -> Participation:
    at = START + timedelta(weeks=session_id)
    return Participation(session_id, key, None, key, None, Source.CHECKIN, at, at, 0)


def test_half_of_five_sessions_means_three_of_them() -> None:
    sessions = [LedgerSession(i, START + timedelta(weeks=i), True) for i in range(5)]
    # "twice" came to 2 of 5 sessions (40 %), "thrice" to 3 of 5 (60 %).
    rows = [row(i, "twice") for i in (0, 1)] + [row(i, "thrice") for i in (0, 2, 4)]
    data = figures(
        sessions,
        rows,
        period_start=START - timedelta(days=1),
        period_end=START + timedelta(weeks=10),
        strong_share=0.5,
        recent_sessions=10,
    )
    assert data.roles.strong == 1  # 2.5 sessions round up to 3: "twice" is occasional
    assert data.roles.occasional == 1

"""Fading attendance is judged only over sessions whose attendance was recorded."""

from __future__ import annotations

from domain.cadence import HeldSession, evaluate
from tests.unit.test_cadence import NOW_LATE, network, sessions


def test_sessions_without_recorded_attendance_do_not_make_a_network_fading() -> None:
    # Six sessions with check-ins, then three that nobody recorded (no check-ins, no Teams events):
    # the ledger reads them as 0 participants, but nobody knows that attendance fell.
    report = evaluate(network(), sessions([12, 10, 11, 9, 10, 8, 0, 0, 0]), [], NOW_LATE)
    assert report.held_last_12_months == 9  # they were held all the same
    assert report.recent_average == 9.0  # the last three with attendance: 9, 10, 8
    assert not report.fading_attendance


def test_recorded_attendance_that_falls_is_still_fading() -> None:
    report = evaluate(network(), sessions([20, 20, 20, 20, 0, 20, 20, 4, 5, 3]), [], NOW_LATE)
    assert report.recent_average == 4.0
    assert report.fading_attendance


def test_too_few_recorded_sessions_are_not_judged() -> None:
    held = [
        HeldSession(s.starts_at, n)
        for s, n in zip(sessions([0] * 9), [30, 0, 0, 0, 0, 0, 2, 2, 0], strict=True)
    ]
    report = evaluate(network(), held, [], NOW_LATE)
    assert not report.fading_attendance

"""Clocks: the system one tells aware UTC time; the fake one moves only when told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from domain.clock import FakeClock, SystemClock


def test_system_clock_is_aware_utc() -> None:
    before = datetime.now(UTC)
    now = SystemClock().now()

    assert now.tzinfo is UTC
    assert before <= now <= datetime.now(UTC)


def test_fake_clock_stands_still() -> None:
    clock = FakeClock()

    assert clock.now() == clock.now() == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def test_fake_clock_advances_by_delta_or_keywords() -> None:
    clock = FakeClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))

    assert clock.advance(timedelta(minutes=90)) == datetime(2026, 1, 5, 10, 30, tzinfo=UTC)
    assert clock.advance(days=1, seconds=30) == datetime(2026, 1, 6, 10, 30, 30, tzinfo=UTC)
    assert clock.now() == datetime(2026, 1, 6, 10, 30, 30, tzinfo=UTC)


def test_fake_clock_keeps_utc_whatever_zone_it_is_given() -> None:
    helsinki = ZoneInfo("Europe/Helsinki")
    clock = FakeClock(datetime(2026, 7, 1, 12, 0, tzinfo=helsinki))

    assert clock.now() == datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
    assert clock.now().tzinfo is UTC

    clock.set(datetime(2026, 12, 24, 18, 0, tzinfo=timezone(timedelta(hours=2))))
    assert (clock.now(), clock.now().tzinfo) == (datetime(2026, 12, 24, 16, 0, tzinfo=UTC), UTC)


def test_fake_clock_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        FakeClock(datetime(2026, 1, 5, 9, 0))
    clock = FakeClock()
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set(datetime(2026, 1, 5, 9, 0))

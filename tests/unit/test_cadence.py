"""Cadence evaluation: on track, due, overdue, lapsed; holidays; buckets; fading attendance."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.cadence import (
    CadenceReport,
    CadenceStatus,
    HeldSession,
    bucket_of,
    business_day,
    default_grace,
    evaluate,
    expected_slots,
    holiday_week,
    next_business_day,
    suggest_next,
)
from domain.clock import FakeClock
from domain.networks import Cadence, Network, NetworkKind, NetworkStatus

HEL = ZoneInfo("Europe/Helsinki")
ON_TRACK, DUE, OVERDUE, LAPSED = (
    CadenceStatus.ON_TRACK,
    CadenceStatus.DUE,
    CadenceStatus.OVERDUE,
    CadenceStatus.LAPSED,
)


def local(y: int, mo: int, d: int, h: int = 14, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=HEL)


def network(code: str = "weekly", created: datetime | None = None) -> Network:
    return Network(
        id=7,
        slug="taloustorstai",
        name="Taloustorstai",
        lang="fi",
        cadence=Cadence.from_code(code),
        kind=NetworkKind.CONTINUOUS,
        status=NetworkStatus.ACTIVE,
        timezone="Europe/Helsinki",
        created_at=created or local(2025, 12, 1, 9),
    )


def thursdays(first: date, last: date, skip: tuple[date, ...] = ()) -> list[datetime]:
    out = []
    day = first
    while day <= last:
        if day not in skip:
            out.append(datetime(day.year, day.month, day.day, 14, 0, tzinfo=HEL))
        day += timedelta(days=7)
    return out


def held(starts: list[datetime], participants: int = 10) -> list[HeldSession]:
    return [HeldSession(s, participants) for s in starts]


def business_days(clock: FakeClock, until: date) -> Iterator[datetime]:
    """Advance ``clock`` a day at a time, yielding its time on business days only."""
    while clock.now().astimezone(HEL).date() <= until:
        if business_day(clock.now().astimezone(HEL).date()):
            yield clock.now()
        clock.advance(days=1)


def first_days(series: list[datetime], start: datetime, until: date) -> dict[CadenceStatus, date]:
    """Run the ledger day by day: held = series up to now, scheduled = the rest of the series."""
    clock = FakeClock(start)
    net = network()
    firsts: dict[CadenceStatus, date] = {}
    for now in business_days(clock, until):
        report = evaluate(net, held([s for s in series if s <= now]), [s for s in series if s > now], now)
        firsts.setdefault(report.status, now.astimezone(HEL).date())
    return firsts


# ---------------------------------------------------------------------------------------------
# A year of a weekly network (FakeClock, evaluated at 15:00 on business days)

ASCENSION = date(2026, 5, 14)  # helatorstai


def test_weekly_network_stops_after_may_due_overdue_lapsed_on_the_right_days() -> None:
    series = thursdays(date(2026, 1, 8), date(2026, 5, 28), skip=(ASCENSION,))
    firsts = first_days(series, local(2026, 1, 8, 15), date(2026, 7, 31))
    # Meets every Thursday (the holiday Thursday was cancelled): on track until the last one.
    # 28.5 15:00: nothing scheduled by 4.6 -> due; 4.6 14:00 + 2 d grace -> Saturday 6.6, so
    # the first business day overdue is Monday 8.6; the third missed slot is 18.6 14:00.
    assert firsts == {
        ON_TRACK: date(2026, 1, 8),
        DUE: date(2026, 5, 28),
        OVERDUE: date(2026, 6, 8),
        LAPSED: date(2026, 6, 18),
    }


def test_holiday_thursday_is_not_counted_as_missed() -> None:
    # Stops after 7.5; 14.5 is Ascension Day, so the next session is expected on 21.5.
    series = thursdays(date(2026, 1, 8), date(2026, 5, 7))
    firsts = first_days(series, local(2026, 1, 8, 15), date(2026, 7, 31))
    # Without the holiday rule: overdue on Monday 18.5 and lapsed on 28.5.
    assert firsts == {
        ON_TRACK: date(2026, 1, 8),
        DUE: date(2026, 5, 7),
        OVERDUE: date(2026, 5, 25),
        LAPSED: date(2026, 6, 4),
    }
    report = evaluate(network(), held(series), [], local(2026, 5, 15, 9))
    assert report.status == DUE
    assert report.missed_intervals == 0
    assert report.due_at == local(2026, 5, 21)
    assert report.skipped_holidays == ((ASCENSION, "Helatorstai"),)
    assert report.weeks_since_last == 1


def test_scheduled_after_the_holiday_keeps_the_network_on_track() -> None:
    # On 8.5 the next session is 13 days away (21.5), but 14.5 is a holiday: still on track.
    series = thursdays(date(2026, 1, 8), date(2026, 5, 28), skip=(ASCENSION,))
    now = local(2026, 5, 8, 9)
    report = evaluate(network(), held([s for s in series if s <= now]), [local(2026, 5, 21)], now)
    assert report.status == ON_TRACK
    assert report.next_scheduled == local(2026, 5, 21)
    assert report.due_at == local(2026, 5, 21)


def test_christmas_week_is_a_holiday_week() -> None:
    assert holiday_week(date(2026, 12, 22))  # Thu 24.12 and Fri 25.12
    assert not holiday_week(date(2026, 12, 29))  # only Fri 1.1.2027
    assert not holiday_week(date(2026, 5, 12))  # only Thu 14.5
    tuesday = [local(2026, 12, 15)]  # a Tuesday network; Tue 22.12 is in Christmas week
    report = evaluate(network(), held(tuesday), [], local(2026, 12, 28, 9))
    assert report.status == DUE
    assert report.missed_intervals == 0
    assert report.due_at == local(2026, 12, 29)
    assert report.skipped_holidays[0][0] == date(2026, 12, 22)
    # 29.12, 5.1 (Loppiainen is on Wednesday: not a holiday week) and 12.1 are counted.
    assert evaluate(network(), held(tuesday), [], local(2027, 1, 12, 13)).status == OVERDUE
    lapsed = evaluate(network(), held(tuesday), [], local(2027, 1, 12, 14))
    assert lapsed.status == LAPSED
    assert lapsed.missed_intervals == 3


def test_christmas_eve_thursday_is_skipped() -> None:
    report = evaluate(network(), held([local(2026, 12, 17)]), [], local(2026, 12, 28, 9))
    assert report.due_at == local(2026, 12, 31)
    assert report.missed_intervals == 0
    assert report.status == DUE


def test_biweekly_holiday_extends_by_the_interval() -> None:
    net = network("biweekly")
    report = evaluate(net, held([local(2026, 4, 30)]), [], local(2026, 5, 20, 9))
    assert report.due_at == local(2026, 5, 28)
    assert report.expected_interval == timedelta(weeks=2)
    assert report.status == DUE
    # grace 3.5 days: overdue from Mon 1.6 02:00
    assert evaluate(net, held([local(2026, 4, 30)]), [], local(2026, 6, 1, 1)).status == DUE
    assert evaluate(net, held([local(2026, 4, 30)]), [], local(2026, 6, 1, 3)).status == OVERDUE


def test_slots_keep_local_time_across_dst() -> None:
    slots = expected_slots(network(), local(2026, 3, 19), count=3)
    assert slots == [local(2026, 3, 26), local(2026, 4, 2), local(2026, 4, 9)]
    assert [s.astimezone(UTC).hour for s in slots] == [12, 11, 11]


# ---------------------------------------------------------------------------------------------
# On track / due rules


def test_on_track_when_scheduled_within_the_interval() -> None:
    last = [local(2026, 3, 5)]
    now = local(2026, 3, 20, 9)  # two weeks after the last session
    report = evaluate(network(), held(last), [local(2026, 3, 26)], now)
    assert report.status == ON_TRACK
    assert report.missed_intervals == 2


def test_on_track_when_last_held_within_the_interval_and_next_is_scheduled() -> None:
    report = evaluate(network(), held([local(2026, 3, 5)]), [local(2026, 3, 26)], local(2026, 3, 6, 9))
    assert report.status == ON_TRACK
    # the day after the due date the late session no longer keeps it on track
    late = evaluate(network(), held([local(2026, 3, 5)]), [local(2026, 4, 9)], local(2026, 3, 13, 9))
    assert late.status == DUE


def test_scheduled_late_is_due_never_lapsed() -> None:
    report = evaluate(network(), held([local(2026, 1, 8)]), [local(2026, 6, 4)], local(2026, 3, 2, 9))
    assert report.status == DUE
    assert report.missed_intervals >= 3


def test_past_scheduled_and_future_held_are_ignored() -> None:
    now = local(2026, 3, 10, 9)
    report = evaluate(
        network(),
        held([local(2026, 3, 5), local(2026, 3, 12)]),
        [local(2026, 3, 9)],
        now,
    )
    assert report.last_held == local(2026, 3, 5)
    assert report.next_scheduled is None
    assert report.status == DUE


def test_never_held_counts_from_creation() -> None:
    net = network(created=local(2026, 2, 2, 10))  # Monday
    report = evaluate(net, [], [], local(2026, 2, 3, 9))
    assert (report.status, report.last_held, report.weeks_since_last) == (DUE, None, None)
    assert report.due_at == local(2026, 2, 9, 10)
    assert report.bucket == "<1"
    assert report.recent_average is None
    assert report.year_average is None
    assert evaluate(net, [], [], local(2026, 2, 12, 9)).status == OVERDUE
    assert evaluate(net, [], [], local(2026, 2, 23, 10)).status == LAPSED


def test_any_network_status_is_evaluated() -> None:
    paused = network().with_status(NetworkStatus.PAUSED)
    assert evaluate(paused, [], [], local(2026, 6, 1)).status == LAPSED


def test_grace_default_and_override() -> None:
    assert default_grace(timedelta(weeks=1)) == timedelta(days=2)
    assert default_grace(timedelta(weeks=2)) == timedelta(days=3.5)
    assert default_grace(timedelta(days=30)) == timedelta(days=7.5)
    now = local(2026, 3, 13, 9)  # a day after the due date
    assert evaluate(network(), held([local(2026, 3, 5)]), [], now).status == DUE
    assert evaluate(network(), held([local(2026, 3, 5)]), [], now, grace=timedelta(hours=1)).status == OVERDUE


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate(network(), [], [], datetime(2026, 3, 1, 9))
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate(network(), [], [datetime(2026, 3, 1, 9)], local(2026, 3, 1))


# ---------------------------------------------------------------------------------------------
# Monthly and N a year


def test_monthly_network_moves_weekend_due_dates_to_business_days() -> None:
    net = network("monthly")
    last = held([local(2026, 1, 15)])
    # 15.1 + 30 d = Saturday 14.2 -> Monday 16.2 14:00; grace 7.5 d -> 24.2 02:00; the third
    # slot is 15.4 14:00, so at 09:00 the first lapsed day is 16.4.
    firsts: dict[CadenceStatus, date] = {}
    clock = FakeClock(local(2026, 1, 16, 9))
    for now in business_days(clock, date(2026, 5, 29)):
        firsts.setdefault(evaluate(net, last, [], now).status, now.astimezone(HEL).date())
    assert firsts == {DUE: date(2026, 1, 16), OVERDUE: date(2026, 2, 24), LAPSED: date(2026, 4, 16)}
    report = evaluate(net, last, [], local(2026, 2, 20))
    assert report.due_at == local(2026, 2, 16)
    assert report.missed_intervals == 1
    assert report.expected_interval == timedelta(days=30)
    assert report.weeks_since_last == 5
    assert evaluate(net, last, [local(2026, 3, 10)], local(2026, 2, 20)).status == ON_TRACK


def test_per_year_network() -> None:
    net = network("4/year")  # 91.25 days
    last = held([local(2025, 10, 2), local(2026, 1, 15)])
    report = evaluate(net, last, [], local(2026, 4, 10, 9))
    assert report.expected_interval == timedelta(days=91.25)
    assert report.due_at == local(2026, 4, 16, 20)  # Thursday, 14:00 + 6 h
    assert report.status == DUE
    assert report.held_last_12_months == 2
    assert report.bucket == "1-2"
    # grace 22.8 days: overdue after Sat 9.5 15:30; the third slot is Fri 16.10 08:00 (lapsed)
    assert evaluate(net, last, [], local(2026, 5, 8, 9)).status == DUE
    assert evaluate(net, last, [], local(2026, 5, 11, 9)).status == OVERDUE
    assert evaluate(net, last, [], local(2026, 10, 14, 9)).status == OVERDUE
    assert evaluate(net, last, [], local(2026, 10, 16, 9)).status == LAPSED
    assert evaluate(net, last, [local(2026, 6, 1)], local(2026, 4, 10, 9)).status == ON_TRACK


# ---------------------------------------------------------------------------------------------
# Buckets and attendance


@pytest.mark.parametrize(
    ("count", "bucket"),
    [
        (0, "<1"),
        (0.5, "<1"),
        (1, "1-2"),
        (2, "1-2"),
        (2.5, "1-2"),
        (3, "3-5"),
        (5, "3-5"),
        (6, "6-10"),
        (10, "6-10"),
        (10.5, ">10"),
        (11, ">10"),
        (52, ">10"),
    ],
)
def test_bucket_edges(count: float, bucket: str) -> None:
    assert bucket_of(count) == bucket


def test_bucket_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="sessions a year"):
        bucket_of(-1)
    with pytest.raises(ValueError, match="sessions a year"):
        bucket_of(float("nan"))


def test_bucket_counts_the_last_12_months() -> None:
    starts = [local(2025, 1, 9), *thursdays(date(2025, 6, 5), date(2025, 8, 7))]  # 1 + 10
    now = local(2025, 12, 1)
    report = evaluate(network(), held(starts), [], now)
    assert report.held_last_12_months == 11
    assert report.bucket == ">10"
    assert evaluate(network(), held(starts), [], local(2026, 1, 9, 15)).bucket == "6-10"


def sessions(counts: list[int]) -> list[HeldSession]:
    starts = thursdays(date(2026, 1, 8), date(2026, 12, 31), skip=(ASCENSION,))
    return [HeldSession(s, n) for s, n in zip(starts, counts, strict=False)]


NOW_LATE = local(2026, 12, 31, 9)


def test_fading_attendance() -> None:
    report = evaluate(network(), sessions([20, 20, 20, 20, 20, 20, 4, 5, 3]), [], NOW_LATE)
    assert report.recent_average == 4.0
    assert report.year_average == pytest.approx(132 / 9)
    assert report.fading_attendance


def test_steady_attendance_is_not_fading() -> None:
    report = evaluate(network(), sessions([12, 10, 11, 9, 10, 8]), [], NOW_LATE)
    assert not report.fading_attendance
    assert report.recent_average == 9.0


def test_exactly_half_is_not_fading() -> None:
    # year average 10, recent average 5: not *below* half
    report = evaluate(network(), sessions([15, 15, 15, 5, 5, 5]), [], NOW_LATE)
    assert report.year_average == 10.0
    assert report.recent_average == 5.0
    assert not report.fading_attendance


def test_fading_needs_enough_history() -> None:
    three = evaluate(network(), sessions([30, 1, 1]), [], NOW_LATE)  # only 3 in total
    assert not three.fading_attendance
    # 4 in total but only 2 in the last 12 months
    old = [HeldSession(local(2025, 1, 9), 40), HeldSession(local(2025, 1, 16), 40)]
    recent = [HeldSession(local(2026, 6, 4), 2), HeldSession(local(2026, 6, 11), 2)]
    report = evaluate(network(), old + recent, [], local(2026, 6, 12))
    assert report.held_last_12_months == 2
    assert not report.fading_attendance
    # 4 in total and 3 in the last 12 months: judged
    recent3 = [HeldSession(local(2025, 12, 4), 60), *recent, HeldSession(local(2026, 6, 18), 2)]
    judged = evaluate(network(), old[:1] + recent3, [], local(2026, 6, 19))
    assert judged.held_last_12_months == 4
    assert judged.fading_attendance


def test_report_is_a_frozen_value() -> None:
    report = evaluate(network(), [], [], local(2026, 3, 1))
    assert isinstance(report, CadenceReport)
    assert replace(report, status=ON_TRACK).status == ON_TRACK
    assert report.network_id == 7
    assert CadenceStatus("lapsed") is LAPSED


# ---------------------------------------------------------------------------------------------
# Business days and suggestions


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2024, 12, 6), False),  # Independence Day, a Friday
        (date(2027, 12, 6), False),  # Independence Day, a Monday
        (date(2025, 12, 24), False),  # Christmas Eve, a Wednesday
        (date(2026, 5, 1), False),  # vappu, a Friday
        (date(2026, 5, 14), False),  # helatorstai
        (date(2026, 6, 19), False),  # juhannusaatto
        (date(2026, 5, 9), False),  # a Saturday
        (date(2026, 5, 10), False),  # a Sunday
        (date(2026, 5, 6), True),  # an ordinary Wednesday
        (date(2026, 12, 23), True),
    ],
)
def test_business_day(day: date, expected: bool) -> None:
    assert business_day(day) is expected


def test_next_business_day() -> None:
    assert next_business_day(date(2026, 4, 30)) == date(2026, 5, 4)  # past vappu and the weekend
    assert next_business_day(date(2026, 12, 23)) == date(2026, 12, 28)
    assert next_business_day(date(2026, 4, 2)) == date(2026, 4, 7)  # Easter
    assert next_business_day(date(2026, 5, 5)) == date(2026, 5, 6)


def test_suggest_next_skips_ascension_day_and_keeps_local_time_across_dst() -> None:
    winter = thursdays(date(2026, 1, 8), date(2026, 3, 19))  # 14:00 EET = 12:00 UTC
    history = held([*winter, local(2026, 3, 24, 10)])  # one odd Tuesday session
    suggestion = suggest_next(network(), history, local(2026, 5, 8, 10).astimezone(UTC))
    assert suggestion == local(2026, 5, 21)
    assert suggestion.astimezone(HEL).hour == 14
    assert suggestion.astimezone(UTC).hour == 11  # EEST
    # on the Thursday itself, before 14:00, it suggests that day
    assert suggest_next(network(), history, local(2026, 5, 21, 13)) == local(2026, 5, 21)
    assert suggest_next(network(), history, local(2026, 5, 21, 14)) == local(2026, 5, 28)


def test_suggest_next_uses_the_recent_habit_and_tz() -> None:
    moved = held([*thursdays(date(2026, 1, 8), date(2026, 2, 26)), *[local(2026, 3, d, 9) for d in (3, 10)]])
    # last 8 sessions: 6 Thursdays 14:00 and 2 Tuesdays 09:00
    assert suggest_next(network(), moved, local(2026, 3, 11)) == local(2026, 3, 12)
    stockholm = ZoneInfo("Europe/Stockholm")
    got = suggest_next(network(), moved, local(2026, 3, 11), tz="Europe/Stockholm")
    assert got == datetime(2026, 3, 12, 13, 0, tzinfo=stockholm)
    assert got.tzinfo == stockholm


def test_suggest_next_without_history() -> None:
    assert suggest_next(network(), [], local(2026, 4, 30, 15)) == local(2026, 5, 4)
    assert suggest_next(network(), [], local(2026, 5, 4, 9)) == local(2026, 5, 4)

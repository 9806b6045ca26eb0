"""How well a network keeps its meeting cadence: on track, due, overdue or lapsed.

Everything here is pure: ``now`` is a parameter, nothing reads the clock or does I/O. The
caller gives the network, the sessions the participation ledger says were held (with how many
took part) and the start times of the sessions still scheduled.

The rules, exactly
==================

``interval``
    The network's target cadence (:attr:`domain.networks.Cadence.interval`): weekly 7 days,
    biweekly 14 days, monthly 30 days, N a year 365/N days.

reference
    The start of the last session held at or before ``now``; a network that never held one
    counts from its creation (``network.created_at``). Held sessions after ``now`` and
    scheduled starts before ``now`` are ignored (the ledger is the truth about the past).

expected slots
    The moments the cadence expects a meeting after the reference: ``reference + k × interval``
    (k = 1, 2, …), computed in the network's local wall-clock time so that 14:00 stays 14:00
    across daylight saving time. Holidays move them (see :func:`expected_slots`):

    * weekly and biweekly: a slot whose local date is a Finnish public holiday, or whose
      Monday–Friday week has two or more public holidays on weekdays (a *holiday week*, e.g.
      Christmas week), is **skipped**: it is not expected and is never counted as missed, so
      the due date moves on by one whole interval (the next week's slot for a weekly network).
    * monthly and N a year: a slot that falls on a non-business day (weekend or public holiday)
      moves to the next business day at the same local time.

``due_at``
    The first expected slot: when the next session should have happened.

``missed_intervals``
    How many expected slots are at or before ``now`` (skipped holiday slots are not counted).

``grace``
    A quarter of the interval, at least two days (weekly 2 d, biweekly 3.5 d, monthly 7.5 d).

status (``next_scheduled`` is the first scheduled start at or after ``now``)
    * **ON_TRACK** when a session is scheduled no later than ``now + interval`` or no later than
      ``due_at``; or when ``now`` is still before ``due_at`` and any session is scheduled.
    * **DUE** otherwise, when nothing is scheduled and ``now <= due_at + grace`` -- i.e. right
      after the last session as soon as nothing is scheduled by ``due_at``: the next session is
      due and needs scheduling. A network whose next session *is* scheduled, but later than the
      cadence wants, is also DUE (never OVERDUE or LAPSED: its coordinator has acted).
    * **OVERDUE** when nothing is scheduled and ``now > due_at + grace``.
    * **LAPSED** when nothing is scheduled and ``missed_intervals >= 3`` (without holidays this
      is ``now - reference >= 3 × interval``). LAPSED wins over OVERDUE.

Any network can be evaluated, whatever its :class:`~domain.networks.NetworkStatus`: the
report does not look at it. Callers decide what to do with paused or ended networks (normally
they evaluate only ACTIVE ones).

Attendance and buckets
======================

* ``held_last_12_months`` counts held sessions in the 365 days up to ``now``; ``bucket`` is
  :func:`bucket_of` that count (the buckets of seed 000's evaluation).
* Attendance is judged only over held sessions with recorded attendance (at least one
  participant): a session nobody checked in to and no Teams event or report covered reads
  as 0 participants in the ledger, which says nothing about how many came.
* ``recent_average`` is the mean participants of the last (up to) three such sessions,
  ``year_average`` the mean over the last 12 months; None when there is nothing to average.
* ``fading_attendance`` is true when the recent average is below half of the 12-month
  average, judged only with at least 3 such sessions in the last 12 months and at least 4 in total.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo

from domain.networks import Cadence, Lang, Network
from domain.when import finnish_holiday

__all__ = [
    "DEFAULT_SUGGESTED_TIME",
    "LAPSED_AFTER",
    "MIN_GRACE",
    "SUGGEST_FROM_LAST",
    "CadenceReport",
    "CadenceStatus",
    "HeldSession",
    "bucket_of",
    "business_day",
    "default_grace",
    "evaluate",
    "expected_slots",
    "holiday_week",
    "next_business_day",
    "suggest_next",
]

MIN_GRACE: Final = timedelta(days=2)
LAPSED_AFTER: Final = 3  # missed intervals
YEAR: Final = timedelta(days=365)
RECENT: Final = 3  # sessions in the "recent" attendance average
FADING_MIN_YEAR: Final = 3  # sessions in the last 12 months before fading is judged
FADING_MIN_TOTAL: Final = 4  # sessions in total before fading is judged
HOLIDAY_WEEK_MIN: Final = 2  # public holidays on weekdays that make a holiday week
SUGGEST_FROM_LAST: Final = 8  # held sessions looked at for the usual weekday and time
DEFAULT_SUGGESTED_TIME: Final = time(14, 0)  # when a network has no history
_SCAN_DAYS: Final = 400  # bound on day-by-day searches (holidays never fill a year)


@dataclass(frozen=True, slots=True)
class HeldSession:
    """A session that took place (from the participation ledger)."""

    starts_at: datetime
    participants: int


class CadenceStatus(StrEnum):
    ON_TRACK = "on_track"
    DUE = "due"
    OVERDUE = "overdue"
    LAPSED = "lapsed"


@dataclass(frozen=True, slots=True)
class CadenceReport:
    network_id: int
    status: CadenceStatus
    last_held: datetime | None
    next_scheduled: datetime | None
    expected_interval: timedelta
    held_last_12_months: int
    bucket: str  # one of "<1", "1-2", "3-5", "6-10", ">10"
    missed_intervals: int
    fading_attendance: bool
    recent_average: float | None
    year_average: float | None
    weeks_since_last: int | None  # for the nudge text ("last met 5 weeks ago")
    due_at: datetime | None = None  # when the next session was expected (holidays applied)
    skipped_holidays: tuple[tuple[date, str], ...] = ()  # expected slots not counted, with names


# ---------------------------------------------------------------------------------------------
# Business days and buckets


def business_day(d: date) -> bool:
    """Monday to Friday and not a Finnish public holiday (Christmas Eve and Midsummer Eve count)."""
    return d.weekday() < 5 and finnish_holiday(d, "fi") is None


def next_business_day(d: date) -> date:
    """The first business day strictly after ``d`` (Friday 30.4.2026 -> Monday 4.5.2026 past vappu)."""
    day = d + timedelta(days=1)
    for _ in range(_SCAN_DAYS):
        if business_day(day):
            return day
        day += timedelta(days=1)
    raise ValueError(f"no business day after {d}")  # pragma: no cover - holidays never fill a year


def _business_day_on_or_after(d: date) -> date:
    return d if business_day(d) else next_business_day(d)


def holiday_week(d: date) -> bool:
    """Whether the Monday–Friday week of ``d`` has two or more Finnish public holidays."""
    monday = d - timedelta(days=d.weekday())
    days = (monday + timedelta(days=i) for i in range(5))
    return sum(finnish_holiday(day, "fi") is not None for day in days) >= HOLIDAY_WEEK_MIN


def bucket_of(sessions_per_year: int | float) -> str:
    """The evaluation's bucket for a number of meetings a year.

    ``[0, 1)`` -> "<1", ``[1, 3)`` -> "1-2", ``[3, 6)`` -> "3-5", ``[6, 10]`` -> "6-10",
    above 10 -> ">10" (so 2.5 is "1-2" and 10.5 is ">10").
    """
    if math.isnan(sessions_per_year) or sessions_per_year < 0:
        raise ValueError(f"not a number of sessions a year: {sessions_per_year}")
    if sessions_per_year < 1:
        return "<1"
    if sessions_per_year < 3:
        return "1-2"
    if sessions_per_year < 6:
        return "3-5"
    if sessions_per_year <= 10:
        return "6-10"
    return ">10"


def default_grace(interval: timedelta) -> timedelta:
    """A quarter of the interval, at least two days."""
    return max(interval / 4, MIN_GRACE)


# ---------------------------------------------------------------------------------------------
# Expected slots


@dataclass(frozen=True, slots=True)
class _Slot:
    at: datetime  # local, aware
    skipped: str | None  # the holiday's name when the slot is not expected


def _slots(
    cadence: Cadence, reference: datetime, zone: tzinfo, lang: Lang, limit: int = 100_000
) -> Iterator[_Slot]:
    local_ref = reference.astimezone(zone)
    interval = cadence.interval
    weekly = cadence.kind in ("weekly", "biweekly")
    for k in range(1, limit + 1):
        slot = local_ref + k * interval  # wall-clock arithmetic: 14:00 stays 14:00 across DST
        day = slot.date()
        if weekly:
            name = finnish_holiday(day, lang)
            if name is None and holiday_week(day):
                name = _holiday_week_name(day, lang)
            yield _Slot(slot, name)
        else:
            moved = _business_day_on_or_after(day)
            yield _Slot(datetime.combine(moved, slot.timetz()) if moved != day else slot, None)


def _holiday_week_name(d: date, lang: Lang) -> str:
    monday = d - timedelta(days=d.weekday())
    names = (finnish_holiday(monday + timedelta(days=i), lang) for i in range(5))
    return ", ".join(n for n in names if n)


def expected_slots(
    network: Network, reference: datetime, *, count: int, holidays_lang: Lang = "fi"
) -> list[datetime]:
    """The first ``count`` moments (local time) the cadence expects a meeting after ``reference``.

    Weekly and biweekly slots on a public holiday or in a holiday week are left out; monthly and
    N-a-year slots on a non-business day move to the next business day.
    """
    zone = ZoneInfo(network.timezone)
    out: list[datetime] = []
    for slot in _slots(network.cadence, reference, zone, holidays_lang):
        if len(out) >= count:
            break
        if slot.skipped is None:
            out.append(slot.at)
    return out


# ---------------------------------------------------------------------------------------------
# Evaluation


def _aware(moment: datetime, what: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")


def _mean(values: Sequence[int]) -> float | None:
    return sum(values) / len(values) if values else None


def evaluate(
    network: Network,
    held: Sequence[HeldSession],
    scheduled: Sequence[datetime],
    now: datetime,
    *,
    grace: timedelta | None = None,
    holidays_lang: Lang = "fi",
) -> CadenceReport:
    """The network's cadence at ``now``; see the module docstring for the rules.

    ``grace`` defaults to :func:`default_grace` of the interval. ``holidays_lang`` is the
    language of the holiday names in ``skipped_holidays``. All datetimes must be aware.
    """
    _aware(now, "now")
    for session in held:
        _aware(session.starts_at, "held session start")
    for start in scheduled:
        _aware(start, "scheduled start")
    zone = ZoneInfo(network.timezone)
    interval = network.cadence.interval
    grace = default_grace(interval) if grace is None else grace

    past = sorted((s for s in held if s.starts_at <= now), key=lambda s: s.starts_at)
    upcoming = sorted(s for s in scheduled if s >= now)
    last_held = past[-1].starts_at if past else None
    next_scheduled = upcoming[0] if upcoming else None
    reference = last_held if last_held is not None else network.created_at

    due_at: datetime | None = None
    missed = 0
    skipped: list[tuple[date, str]] = []
    for slot in _slots(network.cadence, reference, zone, holidays_lang):
        if slot.skipped is not None:
            if slot.at > now and due_at is not None:
                break
            skipped.append((slot.at.date(), slot.skipped))
            continue
        if due_at is None:
            due_at = slot.at
        if slot.at > now:
            break
        missed += 1
    assert due_at is not None  # the slots never end

    if next_scheduled is not None and (
        next_scheduled <= now + interval or next_scheduled <= due_at or now < due_at
    ):
        status = CadenceStatus.ON_TRACK
    elif next_scheduled is not None:
        status = CadenceStatus.DUE
    elif missed >= LAPSED_AFTER:
        status = CadenceStatus.LAPSED
    elif now > due_at + grace:
        status = CadenceStatus.OVERDUE
    else:
        status = CadenceStatus.DUE

    year = [s for s in past if s.starts_at > now - YEAR]
    counted = [s for s in past if s.participants > 0]  # attendance recorded
    counted_year = [s for s in counted if s.starts_at > now - YEAR]
    recent_average = _mean([s.participants for s in counted[-RECENT:]])
    year_average = _mean([s.participants for s in counted_year])
    fading = (
        len(counted_year) >= FADING_MIN_YEAR
        and len(counted) >= FADING_MIN_TOTAL
        and recent_average is not None
        and year_average is not None
        and recent_average < year_average / 2
    )
    weeks_since_last = None
    if last_held is not None:
        days = (now.astimezone(zone).date() - last_held.astimezone(zone).date()).days
        weeks_since_last = days // 7

    return CadenceReport(
        network_id=network.id,
        status=status,
        last_held=last_held,
        next_scheduled=next_scheduled,
        expected_interval=interval,
        held_last_12_months=len(year),
        bucket=bucket_of(len(year)),
        missed_intervals=missed,
        fading_attendance=fading,
        recent_average=recent_average,
        year_average=year_average,
        weeks_since_last=weeks_since_last,
        due_at=due_at,
        skipped_holidays=tuple(skipped),
    )


# ---------------------------------------------------------------------------------------------
# Suggesting the next session


def suggest_next(
    network: Network,
    held: Sequence[HeldSession],
    now: datetime,
    tz: str | tzinfo | None = None,
) -> datetime:
    """The first slot after ``now`` on the network's usual weekday and time that is a business day.

    The usual weekday and time are the most common (weekday, local time) among the last
    :data:`SUGGEST_FROM_LAST` sessions held at or before ``now``; a tie goes to the most recent.
    ``tz`` defaults to the network's time zone; the answer is aware, in that zone, and keeps the
    local time across daylight saving time. Holidays are skipped (a holiday Thursday moves to the
    next week's Thursday). With no history: the next business day at
    :data:`DEFAULT_SUGGESTED_TIME`. A usual weekday on a weekend is not a business day, so then
    the first business day after ``now`` at the usual time is suggested.
    """
    _aware(now, "now")
    zone = tz if isinstance(tz, tzinfo) else ZoneInfo(tz or network.timezone)
    past = sorted(s.starts_at for s in held if s.starts_at <= now)[-SUGGEST_FROM_LAST:]
    weekday: int | None = None
    clock = DEFAULT_SUGGESTED_TIME
    if past:
        usual = [(m.astimezone(zone).weekday(), m.astimezone(zone).time()) for m in past]
        counts = Counter(usual)
        best = max(counts.values())
        weekday, clock = next(u for u in reversed(usual) if counts[u] == best)
        if weekday >= 5:
            weekday = None
    day = now.astimezone(zone).date()
    for _ in range(_SCAN_DAYS):
        candidate = datetime.combine(day, clock, tzinfo=zone)
        if candidate > now and (weekday is None or day.weekday() == weekday) and business_day(day):
            return candidate
        day += timedelta(days=1)
    raise ValueError("no business day found")  # pragma: no cover - holidays never fill a year

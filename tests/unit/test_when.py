"""Dates and times typed in chat: fi/sv/en, future first, series, limits, durations, holidays.

"Today" is Wednesday 2026-11-25 at 10:00 in Helsinki unless a test says otherwise.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import BadDuration, BadLimit, NeedDate, NeedTime, PastDate, UnclearDate, UserError
from domain.when import (
    HOLIDAY_WARNING,
    NIGHT_HOUR_WARNING,
    SAME_WEEKDAY_WARNING,
    SERIES_HOLIDAY_WARNING,
    Lang,
    Notice,
    Recurrence,
    When,
    finnish_holiday,
    parse_duration,
    parse_limit,
    parse_when,
    with_limit,
)

HEL = ZoneInfo("Europe/Helsinki")
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=HEL).astimezone(UTC)  # a Wednesday


def local(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=HEL)


def when(text: str, lang: Lang = "en", now: datetime = NOW, tz: str = "Europe/Helsinki") -> When:
    return parse_when(text, lang=lang, tz=tz, now=now)


# --- single sessions ---------------------------------------------------------------------------

SINGLE: list[tuple[Lang, str, datetime]] = [
    ("en", "next thursday 14:00", local(2026, 11, 26, 14)),
    ("en", "thursday 14:00", local(2026, 11, 26, 14)),
    ("en", "Thursday at 2pm", local(2026, 11, 26, 14)),
    ("en", "Thursday, 14:00.", local(2026, 11, 26, 14)),
    ("en", "thu 2:30 p.m.", local(2026, 11, 26, 14, 30)),
    ("en", "wednesday 9:00", local(2026, 12, 2, 9)),
    ("en", "tomorrow at 10", local(2026, 11, 26, 10)),
    ("en", "day after tomorrow 12:00", local(2026, 11, 27, 12)),
    ("en", "in 3 days 14:00", local(2026, 11, 28, 14)),
    ("en", "thursday next week 14:00", local(2026, 12, 3, 14)),
    ("en", "3 dec 14:00", local(2026, 12, 3, 14)),
    ("en", "Dec 3 2pm", local(2026, 12, 3, 14)),
    ("en", "on the 3rd of december at 14:00", local(2026, 12, 3, 14)),
    ("en", "2026-12-03 14:00", local(2026, 12, 3, 14)),
    ("en", "2026-12-03T14:00", local(2026, 12, 3, 14)),
    ("en", "3.12.2026 at 14", local(2026, 12, 3, 14)),
    ("en", "friday 4 dec at 10am", local(2026, 12, 4, 10)),
    ("en", "14:00-15:00 3 dec", local(2026, 12, 3, 14)),
    ("en", "today 11:00", local(2026, 11, 25, 11)),
    ("en", "25 nov 11:00", local(2026, 11, 25, 11)),
    ("en", "20 oct 11:00", local(2027, 10, 20, 11)),
    ("fi", "torstai klo 14", local(2026, 11, 26, 14)),
    ("fi", "torstaina klo 14", local(2026, 11, 26, 14)),
    ("fi", "ensi torstaina klo 14", local(2026, 11, 26, 14)),
    ("fi", "to klo 14", local(2026, 11, 26, 14)),
    ("fi", "keskiviikkona kello 9", local(2026, 12, 2, 9)),
    ("fi", "huomenna klo 10", local(2026, 11, 26, 10)),
    ("fi", "ylihuomenna klo 12", local(2026, 11, 27, 12)),
    ("fi", "perjantaina 10:00", local(2026, 11, 27, 10)),
    ("fi", "ensi viikon torstaina klo 14", local(2026, 12, 3, 14)),
    ("fi", "3.12.2026 14.00", local(2026, 12, 3, 14)),
    ("fi", "3.12. klo 14", local(2026, 12, 3, 14)),
    ("fi", "3.12 klo 14.30", local(2026, 12, 3, 14, 30)),
    ("fi", "3.12 14.00", local(2026, 12, 3, 14)),
    ("fi", "torstaina 14.10", local(2026, 11, 26, 14, 10)),
    ("fi", "ti 1.12. klo 10", local(2026, 12, 1, 10)),
    ("fi", "3. joulukuuta klo 14", local(2026, 12, 3, 14)),
    ("fi", "klo 14-15 torstaina", local(2026, 11, 26, 14)),
    ("fi", "3.1. klo 14", local(2027, 1, 3, 14)),
    ("sv", "torsdag kl 14", local(2026, 11, 26, 14)),
    ("sv", "nästa torsdag kl 14", local(2026, 11, 26, 14)),
    ("sv", "på torsdag kl. 14.30", local(2026, 11, 26, 14, 30)),
    ("sv", "onsdag klockan 9", local(2026, 12, 2, 9)),
    ("sv", "i morgon kl 10", local(2026, 11, 26, 10)),
    ("sv", "imorgon kl 10", local(2026, 11, 26, 10)),
    ("sv", "i övermorgon kl 12", local(2026, 11, 27, 12)),
    ("sv", "torsdag nästa vecka kl 14", local(2026, 12, 3, 14)),
    ("sv", "3.12. kl 14", local(2026, 12, 3, 14)),
    ("sv", "den 3 december kl 14", local(2026, 12, 3, 14)),
    ("sv", "torsdagen den 3:e december kl. 14.30", local(2026, 12, 3, 14, 30)),
    ("sv", "fredag 4.12 kl 10", local(2026, 12, 4, 10)),
    # the network's language comes first, but the others are understood too
    ("fi", "next thursday 14:00", local(2026, 11, 26, 14)),
    ("sv", "huomenna klo 10", local(2026, 11, 26, 10)),
    ("en", "torsdag kl 14", local(2026, 11, 26, 14)),
]


@pytest.mark.parametrize(("lang", "text", "expected"), SINGLE)
def test_single_session(lang: Lang, text: str, expected: datetime) -> None:
    result = when(text, lang)

    assert result.start == expected
    assert result.start.tzinfo == HEL
    assert result.recurrence is None
    assert not result.is_series


def test_a_weekday_named_on_that_day_means_next_week() -> None:
    # dateparser does the same for a lone weekday; "today 11:00" is the way to say today
    assert when("wednesday 11:00").start == local(2026, 12, 2, 11)
    assert when("today 11:00").start == local(2026, 11, 25, 11)


def test_other_timezone() -> None:
    result = when("torsdag kl 14", "sv", tz="Europe/Stockholm")

    assert result.start == datetime(2026, 11, 26, 14, 0, tzinfo=ZoneInfo("Europe/Stockholm"))
    assert result.start.utcoffset() == timedelta(hours=1)


def test_year_less_date_that_has_passed_is_next_year() -> None:
    assert when("24.10. klo 12", "fi").start == local(2027, 10, 24, 12)
    assert when("29.2. 14:00").start == local(2028, 2, 29, 14)


@pytest.mark.parametrize("text", ["24.11. klo 12", "20 nov 11:00", "1.11. 10:00"])
def test_year_less_date_that_has_just_passed_is_past_not_next_year(text: str) -> None:
    with pytest.raises(PastDate):
        when(text, "fi")


@pytest.mark.parametrize(
    ("lang", "text", "minutes"),
    [("fi", "huomenna klo 10-12", 120), ("fi", "huomenna klo 10\u201312", 120), ("sv", "i morgon 10-12", 120),
     ("fi", "huomenna 14.00-15.30", 90), ("en", "tomorrow 2pm-4pm", 120), ("en", "tomorrow 10:00", None)],
)  # fmt: skip
def test_a_time_range_gives_the_length(lang: Lang, text: str, minutes: int | None) -> None:
    length = when(text, lang).length
    assert (length.total_seconds() // 60 if length else None) == minutes


@pytest.mark.parametrize(
    ("lang", "text"), [("en", "thursday at 3"), ("fi", "torstaina klo 3"), ("sv", "torsdag kl 7")]
)
def test_a_night_hour_without_minutes_is_warned_of(lang: Lang, text: str) -> None:
    [notice] = when(text, lang).warnings
    assert notice.message_id == NIGHT_HOUR_WARNING
    assert notice.kwargs["later"] in {"15:00", "19:00"}


@pytest.mark.parametrize("text", ["thursday at 3pm", "thursday 3:00", "thursday at 8", "thursday at 15"])
def test_a_clear_hour_is_not_warned_of(text: str) -> None:
    assert when(text, "en").warnings == ()


def test_todays_weekday_alone_is_warned_to_be_next_week() -> None:
    result = when("wednesday 14:00", "en")  # NOW is a Wednesday
    assert result.start == local(2026, 12, 2, 14)
    [notice] = result.warnings
    assert notice.message_id == SAME_WEEKDAY_WARNING
    assert when("next wednesday 14:00", "en").warnings == ()


# --- series ------------------------------------------------------------------------------------

WEEKLY_TH = "FREQ=WEEKLY;INTERVAL=1;BYDAY=TH"
BIWEEKLY_TH = "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH"
FIRST_TH = "FREQ=MONTHLY;INTERVAL=1;BYDAY=1TH"
LAST_FR = "FREQ=MONTHLY;INTERVAL=1;BYDAY=-1FR"
THU = local(2026, 11, 26, 14)

SERIES: list[tuple[Lang, str, str, datetime]] = [
    ("en", "every thursday 14:00", WEEKLY_TH, THU),
    ("en", "every Thursday at 2pm", WEEKLY_TH, THU),
    ("en", "every week on thursday 14:00", WEEKLY_TH, THU),
    ("en", "weekly on thursday at 14", WEEKLY_TH, THU),
    ("en", "thursdays at 14:00", WEEKLY_TH, THU),
    ("en", "every other thursday at 14", BIWEEKLY_TH, THU),
    ("en", "every second thursday 14:00", BIWEEKLY_TH, THU),
    ("en", "every 2 weeks on thursday 14:00", BIWEEKLY_TH, THU),
    ("en", "biweekly on thursday 14:00", BIWEEKLY_TH, THU),
    ("en", "every 3 weeks on thursday 14:00", "FREQ=WEEKLY;INTERVAL=3;BYDAY=TH", THU),
    ("en", "every monday and thursday 14:00", "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,TH", THU),
    ("en", "every month on the first thursday 14:00", FIRST_TH, local(2026, 12, 3, 14)),
    ("en", "first thursday of every month at 14", FIRST_TH, local(2026, 12, 3, 14)),
    ("en", "last friday of the month 9:00", LAST_FR, local(2026, 11, 27, 9)),
    (
        "en",
        "every other month on the first thursday 14:00",
        "FREQ=MONTHLY;INTERVAL=2;BYDAY=1TH",
        local(2026, 12, 3, 14),
    ),
    ("fi", "joka torstai klo 14", WEEKLY_TH, THU),
    ("fi", "torstaisin klo 14", WEEKLY_TH, THU),
    ("fi", "joka viikko torstaina klo 14", WEEKLY_TH, THU),
    ("fi", "viikoittain torstaisin klo 14", WEEKLY_TH, THU),
    ("fi", "joka toinen torstai klo 14", BIWEEKLY_TH, THU),
    ("fi", "kahden viikon välein torstaisin klo 14", BIWEEKLY_TH, THU),
    ("fi", "joka toinen viikko torstaina klo 14", BIWEEKLY_TH, THU),
    ("fi", "maanantaisin ja torstaisin klo 14", "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,TH", THU),
    ("fi", "joka kuun ensimmäinen torstai klo 14", FIRST_TH, local(2026, 12, 3, 14)),
    ("fi", "kuukauden ensimmäisenä torstaina klo 14", FIRST_TH, local(2026, 12, 3, 14)),
    ("fi", "joka kuun toinen torstai klo 14", "FREQ=MONTHLY;INTERVAL=1;BYDAY=2TH", local(2026, 12, 10, 14)),
    ("fi", "kuukauden viimeisenä perjantaina klo 9", LAST_FR, local(2026, 11, 27, 9)),
    ("sv", "varje torsdag kl 14", WEEKLY_TH, THU),
    ("sv", "torsdagar kl 14", WEEKLY_TH, THU),
    ("sv", "varje vecka på torsdag kl 14", WEEKLY_TH, THU),
    ("sv", "varannan torsdag kl 14", BIWEEKLY_TH, THU),
    ("sv", "varannan vecka på torsdag kl 14", BIWEEKLY_TH, THU),
    ("sv", "var tredje torsdag kl 14", "FREQ=WEEKLY;INTERVAL=3;BYDAY=TH", THU),
    ("sv", "första torsdagen varje månad kl 14", FIRST_TH, local(2026, 12, 3, 14)),
    ("sv", "första torsdagen i månaden kl 14", FIRST_TH, local(2026, 12, 3, 14)),
    ("sv", "sista fredagen i månaden kl 9", LAST_FR, local(2026, 11, 27, 9)),
]


@pytest.mark.parametrize(("lang", "text", "rule", "first"), SERIES)
def test_series(lang: Lang, text: str, rule: str, first: datetime) -> None:
    result = when(text, lang)

    assert result.recurrence is not None
    assert result.recurrence.rrule == rule
    assert result.start == first == result.recurrence.dtstart
    assert result.recurrence.until is None
    assert result.recurrence.count is None
    assert result.recurrence.tz == "Europe/Helsinki"


def test_series_occurrences_follow_the_rule() -> None:
    biweekly = when("joka toinen torstai klo 14", "fi").recurrence
    monthly = when("första torsdagen varje månad kl 14", "sv").recurrence
    assert biweekly is not None
    assert monthly is not None

    assert [o.date() for o in biweekly.occurrences(NOW, 3)] == [
        date(2026, 11, 26),
        date(2026, 12, 10),
        date(2026, 12, 24),
    ]
    assert [o.date() for o in monthly.occurrences(NOW, 3)] == [
        date(2026, 12, 3),
        date(2027, 1, 7),
        date(2027, 2, 4),
    ]


def test_series_starts_at_the_first_future_occurrence() -> None:
    # 9:00 today has passed: next week; 11:00 today is still ahead: today
    assert when("every wednesday 9:00").start == local(2026, 12, 2, 9)
    assert when("every wednesday 11:00").start == local(2026, 11, 25, 11)
    # every other wednesday at 9 starts next week, not in two weeks
    assert when("every other wednesday 9:00").start == local(2026, 12, 2, 9)


@pytest.mark.parametrize(
    ("lang", "text", "first"),
    [
        ("en", "every thursday 14:00 from 3.12.2026", local(2026, 12, 3, 14)),
        ("en", "every thursday at 14 starting 5 dec", local(2026, 12, 10, 14)),
        ("fi", "joka torstai klo 14 alkaen 10.12.", local(2026, 12, 10, 14)),
        ("sv", "varje torsdag kl 14 från 10.12", local(2026, 12, 10, 14)),
    ],
)
def test_series_with_a_start_date(lang: Lang, text: str, first: datetime) -> None:
    assert when(text, lang).start == first


@pytest.mark.parametrize(
    ("lang", "text", "until", "count"),
    [
        ("en", "every thursday 14:00 until 27.5.2027", date(2027, 5, 27), None),
        ("en", "every thursday 14:00 until 2027-05-27", date(2027, 5, 27), None),
        ("fi", "joka torstai klo 14 27.5.2027 asti", date(2027, 5, 27), None),
        ("fi", "joka torstai klo 14 asti 27.5.2027", date(2027, 5, 27), None),
        ("fi", "torstaisin klo 14 27.5.2027 saakka", date(2027, 5, 27), None),
        ("sv", "varje torsdag kl 14 till 27.5.2027", date(2027, 5, 27), None),
        ("sv", "varje torsdag kl 14 tills 27.5.", date(2027, 5, 27), None),
        ("en", "every thursday 14:00 10 times", None, 10),
        ("fi", "torstaisin klo 14 10 kertaa", None, 10),
        ("sv", "varje torsdag kl 14 10 gånger", None, 10),
        ("fi", "joka torstai klo 14 toistaiseksi", None, None),
    ],
)
def test_series_with_a_limit_in_the_same_message(
    lang: Lang, text: str, until: date | None, count: int | None
) -> None:
    result = when(text, lang)

    assert result.recurrence is not None
    assert (result.recurrence.until, result.recurrence.count) == (until, count)
    assert result.start == THU


# --- DST ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "offsets"),
    [
        # autumn: EEST (+3) -> EET (+2) on Sunday 2026-10-25
        (datetime(2026, 10, 14, 9, 0, tzinfo=HEL), [3, 3, 2, 2]),
        # spring: EET (+2) -> EEST (+3) on Sunday 2027-03-28
        (datetime(2027, 3, 17, 9, 0, tzinfo=HEL), [2, 2, 3, 3]),
    ],
)
def test_weekly_series_keeps_local_time_across_dst(now: datetime, offsets: list[int]) -> None:
    result = when("every thursday 14:00", now=now.astimezone(UTC))
    assert result.recurrence is not None

    occurrences = result.recurrence.occurrences(now, 4)

    assert [o.strftime("%a %H:%M") for o in occurrences] == ["Thu 14:00"] * 4
    assert [o.utcoffset() for o in occurrences] == [timedelta(hours=h) for h in offsets]
    assert [o.astimezone(UTC).hour for o in occurrences] == [14 - h for h in offsets]


# --- Recurrence ------------------------------------------------------------------------------


def test_occurrences_limits_and_rfc5545() -> None:
    series = Recurrence(rrule=WEEKLY_TH, dtstart=THU)

    assert series.occurrences(THU, 2) == [local(2026, 12, 3, 14), local(2026, 12, 10, 14)]
    assert series.occurrences(THU, 2, inclusive=True) == [THU, local(2026, 12, 3, 14)]
    assert series.occurrences(THU, 0) == []
    far = datetime(2036, 1, 1, tzinfo=UTC)
    assert series.occurrences(far, 1) == [local(2036, 1, 3, 14)]
    assert series.full_rrule() == WEEKLY_TH

    counted = Recurrence(rrule=WEEKLY_TH, dtstart=THU, count=3)
    assert counted.occurrences(NOW, 10) == [THU, local(2026, 12, 3, 14), local(2026, 12, 10, 14)]
    assert counted.occurrences(far, 10) == []
    assert counted.full_rrule() == WEEKLY_TH + ";COUNT=3"

    until = Recurrence(rrule=WEEKLY_TH, dtstart=THU, until=date(2026, 12, 10))
    assert until.occurrences(NOW, 10) == [THU, local(2026, 12, 3, 14), local(2026, 12, 10, 14)]
    assert until.full_rrule() == WEEKLY_TH + ";UNTIL=20261210T215959Z"

    with pytest.raises(ValueError):
        Recurrence(rrule=WEEKLY_TH, dtstart=THU, until=date(2027, 1, 1), count=3)
    with pytest.raises(ValueError):
        Recurrence(rrule=WEEKLY_TH, dtstart=datetime(2026, 11, 26, 14))


def test_with_limit() -> None:
    series = when("every thursday 14:00")
    assert len(series.warnings) == 2  # Christmas Eve 2026 and Ascension Day 2027

    short = with_limit(series, until=None, count=2, lang="en")
    assert short.recurrence is not None
    assert short.recurrence.count == 2
    assert short.warnings == ()  # 26.11. and 3.12. are ordinary Thursdays
    assert short.start == series.start

    to_january = with_limit(series, until=date(2027, 1, 31), count=None, lang="fi")
    assert [n.kwargs["holiday"] for n in to_january.warnings] == ["Jouluaatto"]

    with pytest.raises(BadLimit):
        with_limit(series, until=date(2026, 11, 1), count=None, lang="en")
    with pytest.raises(BadLimit):
        with_limit(series, until=None, count=0, lang="en")
    with pytest.raises(BadLimit):
        with_limit(when("thursday 14:00"), until=None, count=3, lang="en")


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "text", "shown"),
    [
        ("en", "yesterday 14:00", "2026-11-24 14:00"),
        ("en", "today 9:00", "2026-11-25 09:00"),
        ("en", "25 nov 9:00", "2026-11-25 09:00"),
        ("fi", "1.1.2026 klo 12", "2026-01-01 12:00"),
        ("sv", "2026-11-01 kl 12", "2026-11-01 12:00"),
        ("en", "every thursday 14:00 from 1.1.2026", "2026-01-01"),
    ],
)
def test_past_is_refused(lang: Lang, text: str, shown: str) -> None:
    with pytest.raises(PastDate) as caught:
        when(text, lang)

    assert (
        str(caught.value.params["when"])[: len(shown)] == shown
    )  # a date or datetime, written by the translator


@pytest.mark.parametrize(
    ("lang", "text", "day"),
    [
        ("en", "thursday", "2026-11-26"),
        ("en", "3 dec", "2026-12-03"),
        ("fi", "huomenna", "2026-11-26"),
        ("fi", "3.12.", "2026-12-03"),
        ("fi", "3.12", "2026-12-03"),
        ("fi", "joka torstai", "2026-11-26"),
        ("sv", "i morgon", "2026-11-26"),
        ("sv", "varannan torsdag", "2026-11-26"),
    ],
)
def test_a_date_without_a_time_asks_for_the_time(lang: Lang, text: str, day: str) -> None:
    with pytest.raises(NeedTime) as caught:
        when(text, lang)

    assert caught.value.params == {"date": date.fromisoformat(day)}


@pytest.mark.parametrize(("lang", "text"), [("fi", "klo 14"), ("sv", "kl 14"), ("en", "at 2pm")])
def test_a_time_without_a_date_asks_for_the_day(lang: Lang, text: str) -> None:
    with pytest.raises(NeedDate) as caught:
        when(text, lang)

    assert caught.value.params["time"] in {"14:00"}


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "hello",
        "a 14:00",
        "the 3rd 14:00",  # no month: dateparser would guess a past day
        "every day 9:00",
        "every week 14:00",
        "next week 14:00",
        "friday 3 dec 14:00",  # 3 December 2026 is a Thursday
        "klo 25",
        "25:00 thursday",
        "13pm thursday",
        "2040-01-01 14:00",
        "3 dec 14:00 10 times",  # a limit but no series
        "thursday 14:00 until 27.5.2027",
        "every thursday 14:00 from nowhere",
        "x" * 500,
    ],
)
def test_unclear(text: str) -> None:
    with pytest.raises(UnclearDate) as caught:
        when(text)

    assert len(str(caught.value.params["text"])) <= 80


@pytest.mark.parametrize(
    "text",
    [
        "every thursday 14:00 until 2026-11-01",
        "every thursday 14:00 until never",
        "joka torstai klo 14 0 kertaa",
    ],
)
def test_bad_limit_in_the_same_message(text: str) -> None:
    with pytest.raises(BadLimit):
        when(text, "fi")


def test_error_messages_format_with_their_params() -> None:
    errors: list[UserError] = [
        UnclearDate(text="x"),
        PastDate(when="2026-01-01 12:00"),
        NeedTime(date="2026-12-03"),
        NeedDate(time="14:00"),
        BadLimit(text="x"),
        BadDuration(text="x"),
    ]
    for error in errors:
        assert "{" not in error.message_id.format(**error.params)
        assert error.message_id.isascii() or "\u201c" in error.message_id


# --- holidays ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "text", "day", "name"),
    [
        ("fi", "24.12. klo 12", "2026-12-24", "Jouluaatto"),
        ("sv", "24.12. kl 12", "2026-12-24", "Julafton"),
        ("en", "24 dec 12:00", "2026-12-24", "Christmas Eve"),
        ("fi", "6.12.2026 klo 12", "2026-12-06", "Itsenäisyyspäivä"),
        ("sv", "6.12.2026 kl 12", "2026-12-06", "Självständighetsdagen"),
        ("en", "2026-12-06 12:00", "2026-12-06", "Independence Day"),
    ],
)
def test_holiday_warning(lang: Lang, text: str, day: str, name: str) -> None:
    result = when(text, lang)

    assert result.warnings == (Notice(HOLIDAY_WARNING, (("date", day), ("holiday", name))),)
    assert (
        HOLIDAY_WARNING.format(**result.warnings[0].kwargs)
        == f"{day} is a public holiday in Finland: {name}."
    )


@pytest.mark.parametrize(
    ("lang", "text", "names"),
    [
        ("fi", "joka torstai klo 14", ["Jouluaatto", "Helatorstai"]),
        ("sv", "varje torsdag kl 14", ["Julafton", "Kristi himmelsfärdsdag"]),
        ("en", "every thursday 14:00", ["Christmas Eve", "Ascension Day"]),
    ],
)
def test_series_holiday_warnings_cover_the_first_52_sessions(lang: Lang, text: str, names: list[str]) -> None:
    result = when(text, lang)

    assert [n.message_id for n in result.warnings] == [SERIES_HOLIDAY_WARNING] * 2
    assert [n.kwargs["date"] for n in result.warnings] == ["2026-12-24", "2027-05-06"]
    assert [n.kwargs["holiday"] for n in result.warnings] == names


def test_no_warning_on_an_ordinary_day() -> None:
    assert when("3.12. klo 14", "fi").warnings == ()


def test_finnish_holiday() -> None:
    assert finnish_holiday(date(2026, 12, 24), "fi") == "Jouluaatto"
    assert finnish_holiday(date(2026, 12, 24), "sv") == "Julafton"
    assert finnish_holiday(date(2026, 12, 24), "en") == "Christmas Eve"
    assert finnish_holiday(date(2027, 5, 6), "fi") == "Helatorstai"
    assert finnish_holiday(date(2026, 12, 3), "fi") is None


# --- limits ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        ("en", "until 2027-05-27", (date(2027, 5, 27), None)),
        ("en", "until 27.5.2027", (date(2027, 5, 27), None)),
        ("en", "until 27 May 2027", (date(2027, 5, 27), None)),
        ("en", "27.5.2027", (date(2027, 5, 27), None)),
        ("fi", "asti 27.5.2027", (date(2027, 5, 27), None)),
        ("fi", "27.5.2027 asti", (date(2027, 5, 27), None)),
        ("fi", "27.5.2027 saakka", (date(2027, 5, 27), None)),
        ("fi", "27.5. asti", (date(2027, 5, 27), None)),
        ("sv", "till 27.5.2027", (date(2027, 5, 27), None)),
        ("sv", "tills 27.5.2027", (date(2027, 5, 27), None)),
        ("sv", "t.o.m. 27.5.2027", (date(2027, 5, 27), None)),
        ("en", "10 times", (None, 10)),
        ("fi", "10 kertaa", (None, 10)),
        ("sv", "10 gånger", (None, 10)),
        ("en", "10", (None, 10)),
        ("en", "", (None, None)),
        ("en", "until further notice", (None, None)),
        ("fi", "toistaiseksi", (None, None)),
        ("sv", "tills vidare", (None, None)),
    ],
)
def test_parse_limit(lang: Lang, text: str, expected: tuple[date | None, int | None]) -> None:
    assert parse_limit(text, lang=lang, tz="Europe/Helsinki", now=NOW) == expected


@pytest.mark.parametrize(
    "text", ["blah", "until blah", "0 times", "100000 kertaa", "until 27.5.2027 10 times", "10 times please"]
)
def test_bad_limit(text: str) -> None:
    with pytest.raises(BadLimit):
        parse_limit(text, lang="en", now=NOW)


def test_limit_in_the_past() -> None:
    with pytest.raises(PastDate) as caught:
        parse_limit("until 1.1.2026", lang="en", now=NOW)

    assert caught.value.params == {"when": date(2026, 1, 1)}


# --- durations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("60 min", 60),
        ("90 minutes", 90),
        ("30 mins", 30),
        ("90min", 90),
        ("1 h", 60),
        ("1h", 60),
        ("1.5 h", 90),
        ("1,5 h", 90),
        ("2 hours", 120),
        ("1 h 30 min", 90),
        ("1 hour and 30 minutes", 90),
        ("1:30", 90),
        ("90", 90),
        ("half an hour", 30),
        ("1 tunti", 60),
        ("2 tuntia", 120),
        ("45 minuuttia", 45),
        ("1,5 t", 90),
        ("puoli tuntia", 30),
        ("puolitoista tuntia", 90),
        ("1 timme", 60),
        ("2 timmar", 120),
        ("90 minuter", 90),
        ("en halvtimme", 30),
        ("5 min", 5),
        ("12 h", 720),
    ],
)
def test_parse_duration(text: str, minutes: int) -> None:
    assert parse_duration(text) == timedelta(minutes=minutes)


@pytest.mark.parametrize("text", ["3 min", "4 minuuttia", "13 h", "0", "12.5 h", "100000000000 h"])
def test_duration_out_of_range(text: str) -> None:
    with pytest.raises(BadDuration):
        parse_duration(text)


@pytest.mark.parametrize("text", ["", "blah", "soon", "1 h blah", "1e9 h"])
def test_not_a_duration(text: str) -> None:
    assert parse_duration(text) is None


# --- properties --------------------------------------------------------------------------------

WORDS = st.sampled_from(
    [
        "klo", "kl", "at", "14", "14:00", "9.30", "3.12.", "3.12", "2026", "27.5.2027", "every", "joka",
        "toinen", "torstai", "torstaisin", "thursday", "thursdays", "torsdagar", "month", "kuun", "first",
        "last", "första", "månad", "varannan", "until", "asti", "till", "10", "times", "kertaa", "pm",
        "am", ".", ":", "-", "next", "ensi", "week", "viikon", "vecka", "huomenna", "i", "morgon",
        "9999", "31.2.", "0", "99:99", "29.2.", "from", "alkaen", "x", "min", "h",
    ]
)  # fmt: skip
TEXTS = st.one_of(st.text(max_size=60), st.lists(WORDS, max_size=8).map(" ".join))
LANGS = st.sampled_from(["fi", "sv", "en"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, lang=LANGS)
def test_any_text_gives_a_when_or_a_user_error(text: str, lang: Lang) -> None:
    try:
        result = parse_when(text, lang=lang, tz="Europe/Helsinki", now=NOW)
    except UserError:
        return
    assert result.start > NOW
    assert result.start.tzinfo == HEL
    if result.recurrence is not None:
        assert result.recurrence.occurrences(NOW, 1, inclusive=True) == [result.start]


@settings(max_examples=150, deadline=None)
@given(text=TEXTS, lang=LANGS)
def test_any_text_gives_a_limit_or_a_user_error(text: str, lang: Lang) -> None:
    try:
        until, count = parse_limit(text, lang=lang, now=NOW)
    except UserError:
        return
    assert until is None or count is None
    assert until is None or until >= NOW.date()


@settings(max_examples=150, deadline=None)
@given(text=TEXTS)
def test_any_text_gives_a_duration_none_or_a_user_error(text: str) -> None:
    try:
        result = parse_duration(text)
    except UserError:
        return
    assert result is None or timedelta(minutes=5) <= result <= timedelta(hours=12)

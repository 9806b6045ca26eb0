"""When a coordinator wants a session, as typed in chat in Finnish, Swedish or English.

Everything here is pure: ``now`` is a parameter, nothing reads the clock or does I/O.

The text goes through a thin normalisation layer and then to :mod:`dateparser`, which does the
real date work; a handful of things dateparser gets wrong or cannot do are handled here:

* the time of day is taken out first ("klo 14", "kl. 14.30", "kello 9", "klockan 9", "at 2pm",
  "14:00", "14.00", ranges "14-15" keep their start), because dateparser reads "klo 14" as a
  year or a wrong day;
* "next", "ensi", "nästa", "kommande", "coming" are dropped: a bare weekday already means the
  first such day after today (a weekday named on that same weekday means next week's);
* a lone weekday in any inflection ("torstai", "torstaina", "torsdag", "torsdagen", "thu") is
  given to dateparser and checked; if dateparser fails or answers another weekday it is resolved
  here; "next week's thursday" ("ensi viikon torstaina", "torsdag nästa vecka") is resolved here;
* "ylihuomenna" and "(i) övermorgon" (day after tomorrow) are resolved here;
* "d.m." without a year ("3.12.", dateparser reads it as 03:12) is this year's date, or next
  year's if that day has passed; so is any other date without a year ("3 dec", "25. marraskuuta");
* series ("every thursday", "joka toinen torstai", "torstaisin", "varannan torsdag",
  "första torsdagen varje månad"...) are recognised here and become RFC 5545 rules for
  :mod:`dateutil.rrule`.

Dates are day-month-year in every language ("12/3/2026" is 12 March); ISO dates work too.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

import dateparser
import holidays
from dateutil.rrule import rrule as RRule
from dateutil.rrule import rrulestr

from domain.errors import (
    BadDuration,
    BadLimit,
    NeedDate,
    NeedTime,
    PastDate,
    UnclearDate,
)

__all__ = [
    "DEFAULT_TZ",
    "HOLIDAY_WARNING",
    "MAX_COUNT",
    "MAX_DURATION",
    "MIN_DURATION",
    "NIGHT_HOUR_WARNING",
    "SAME_WEEKDAY_WARNING",
    "SERIES_HOLIDAY_WARNING",
    "Lang",
    "Notice",
    "Recurrence",
    "When",
    "finnish_holiday",
    "parse_duration",
    "parse_limit",
    "parse_when",
    "rule_parts",
    "with_limit",
    "with_rule",
]

Lang = Literal["fi", "sv", "en"]

DEFAULT_TZ: Final = "Europe/Helsinki"
MIN_DURATION: Final = timedelta(minutes=5)
MAX_DURATION: Final = timedelta(hours=12)
MAX_COUNT: Final = 520
HOLIDAY_SCAN: Final = 52  # occurrences of a series checked for public holidays
MAX_YEARS_AHEAD: Final = 5
MAX_TEXT: Final = 200
JUST_PASSED: Final = timedelta(days=31)  # a day.month without a year this recent is past, not next year

HOLIDAY_WARNING: Final = "{date} is a public holiday in Finland: {holiday}."
SERIES_HOLIDAY_WARNING: Final = "The series has a session on a public holiday in Finland: {date}, {holiday}."
NIGHT_HOUR_WARNING: Final = "{time} is at night or early in the morning \u2014 did you mean {later}?"
SAME_WEEKDAY_WARNING: Final = "That is {date}, a week from today. For today, write \u201ctoday\u201d."

_LANGS: Final[tuple[Lang, ...]] = ("fi", "sv", "en")
_BYDAY: Final = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


# ---------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True, slots=True)
class Notice:
    """A warning for the coordinator: a catalog msgid and its (string) parameters."""

    message_id: str
    params: tuple[tuple[str, str], ...] = ()

    @property
    def kwargs(self) -> dict[str, str]:
        return dict(self.params)


@dataclass(frozen=True, slots=True)
class Recurrence:
    """A series: an RFC 5545 rule (without UNTIL/COUNT) anchored at ``dtstart``.

    ``dtstart`` is timezone-aware in the network's zone and is itself the first occurrence.
    Occurrences are computed in local time, so 14:00 stays 14:00 across DST changes.
    ``until`` (inclusive, a local date) and ``count`` are mutually exclusive.
    """

    rrule: str
    dtstart: datetime
    until: date | None = None
    count: int | None = None

    def __post_init__(self) -> None:
        if self.dtstart.tzinfo is None:
            raise ValueError("Recurrence needs a timezone-aware dtstart")
        if self.until is not None and self.count is not None:
            raise ValueError("Recurrence takes until or count, not both")

    @property
    def tz(self) -> str:
        zone = self.dtstart.tzinfo
        return zone.key if isinstance(zone, ZoneInfo) else str(zone)

    def full_rrule(self) -> str:
        """The rule with COUNT or UNTIL (the end of the until day, in UTC) for iCalendar."""
        if self.count is not None:
            return f"{self.rrule};COUNT={self.count}"
        if self.until is not None:
            zone = self._zone()
            end = _localise(datetime.combine(self.until, time(23, 59, 59)), zone).astimezone(UTC)
            return f"{self.rrule};UNTIL={end:%Y%m%dT%H%M%S}Z"
        return self.rrule

    def occurrences(self, after: datetime, limit: int, *, inclusive: bool = False) -> list[datetime]:
        """Up to ``limit`` occurrences later than ``after`` (or equal to it, if inclusive)."""
        if limit <= 0:
            return []
        if after.tzinfo is None:
            raise ValueError("occurrences needs a timezone-aware 'after'")
        zone = self._zone()
        rule = self._rule()
        found: list[datetime] = []
        candidates: Iterable[datetime]
        if self.count is None:
            local_after = after.astimezone(zone).replace(tzinfo=None) - timedelta(days=1)
            candidates = rule.xafter(max(local_after, self._naive_start()), inc=True)
        else:
            candidates = rule
        for index, naive in enumerate(candidates):
            if self.count is not None and index >= self.count:
                break
            moment = _localise(naive, zone)
            if moment > after or (inclusive and moment == after):
                found.append(moment)
                if len(found) >= limit:
                    break
        return found

    def _zone(self) -> tzinfo:
        zone = self.dtstart.tzinfo
        assert zone is not None
        return zone

    def _naive_start(self) -> datetime:
        return self.dtstart.replace(tzinfo=None)

    def _rule(self) -> RRule:
        text = self.rrule
        if self.until is not None:
            text += f";UNTIL={self.until:%Y%m%d}T235959"
        parsed = rrulestr(text, dtstart=self._naive_start())
        if not isinstance(parsed, RRule):  # pragma: no cover - we only ever write single rules
            raise ValueError(f"not a single rule: {self.rrule}")
        return parsed


@dataclass(frozen=True, slots=True)
class When:
    """A parsed start: aware, in the network's zone; a series if ``recurrence`` is set."""

    start: datetime
    recurrence: Recurrence | None = None
    warnings: tuple[Notice, ...] = field(default=())
    length: timedelta | None = None  # from a time range, "klo 10-12"

    @property
    def is_series(self) -> bool:
        return self.recurrence is not None


# ---------------------------------------------------------------------------------------------
# Holidays


_HOLIDAY_LANG: Final[dict[str, str]] = {"fi": "fi", "sv": "sv_FI", "en": "en_US"}


@lru_cache(maxsize=64)
def _holiday_calendar(lang: str, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(
        "FI", years=year, language=_HOLIDAY_LANG.get(lang, "en_US"), expand=False
    )


def finnish_holiday(d: date, lang: Lang) -> str | None:
    """The name of the Finnish public holiday on ``d`` in ``lang``, or None."""
    names = _holiday_calendar(lang, d.year).get_list(d)
    return ", ".join(names) if names else None


def _holiday_notices(start: datetime, recurrence: Recurrence | None, lang: Lang) -> tuple[Notice, ...]:
    if recurrence is None:
        name = finnish_holiday(start.date(), lang)
        if name is None:
            return ()
        return (Notice(HOLIDAY_WARNING, (("date", start.date().isoformat()), ("holiday", name))),)
    notices: list[Notice] = []
    for moment in recurrence.occurrences(recurrence.dtstart, HOLIDAY_SCAN, inclusive=True):
        name = finnish_holiday(moment.date(), lang)
        if name is not None:
            notices.append(
                Notice(SERIES_HOLIDAY_WARNING, (("date", moment.date().isoformat()), ("holiday", name)))
            )
    return tuple(notices)


# ---------------------------------------------------------------------------------------------
# Normalisation and vocabulary


def _normalise(text: str) -> str:
    s = unicodedata.normalize("NFKC", text).casefold()
    s = re.sub(r"[\u2010-\u2015\u2212]", "-", s)
    s = re.sub(r"[,;!?()\[\]\"“”«»„']", " ", s)
    s = re.sub(r"(?<=[0-9])t(?=[0-9])", " ", s)  # ISO 2026-12-03T14:00
    s = re.sub(r"\s+", " ", s).strip()
    return re.sub(r"(?<=[^\W\d_])\.$", "", s)  # a sentence's full stop after a word


def _shown(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 80 else text[:79] + "…"


_FI_DAYS: Final = ("maanantai", "tiistai", "keskiviikko", "torstai", "perjantai", "lauantai", "sunnuntai")
_SV_DAYS: Final = ("måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag", "söndag")
_EN_DAYS: Final = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_ABBREVIATIONS: Final[dict[str, tuple[tuple[str, ...], ...]]] = {
    "fi": (("ma",), ("ti",), ("ke",), ("to",), ("pe",), ("la",), ("su",)),
    "sv": (("mån",), ("tis",), ("ons",), ("tor", "tors"), ("fre",), ("lör",), ("sön",)),
    "en": (("mon",), ("tue", "tues"), ("wed",), ("thu", "thur", "thurs"), ("fri",), ("sat",), ("sun",)),
}


def _build_days() -> dict[str, tuple[int, bool]]:
    """Weekday words of all three languages -> (weekday, is a 'every such day' form)."""
    words: dict[str, tuple[int, bool]] = {}
    for wd, stem in enumerate(_FI_DAYS):
        for suffix in ("", "na", "n", "ksi"):
            words[stem + suffix] = (wd, False)
        words[stem + ("isin" if stem.endswith("o") else "sin")] = (wd, True)  # torstaisin
    for wd, stem in enumerate(_SV_DAYS):
        for suffix in ("", "en", "s"):
            words[stem + suffix] = (wd, False)
        for suffix in ("ar", "arna"):
            words[stem + suffix] = (wd, True)  # torsdagar
    for wd, stem in enumerate(_EN_DAYS):
        words[stem] = (wd, False)
        words[stem + "s"] = (wd, True)
    return words


_DAYS: Final = _build_days()


def _build_abbreviations() -> dict[str, dict[str, int]]:
    result: dict[str, dict[str, int]] = {}
    for lang in _LANGS:
        table: dict[str, int] = {}
        for source in {lang, "en"}:
            for wd, forms in enumerate(_ABBREVIATIONS[source]):
                for form in forms:
                    table[form] = wd
        result[lang] = table
    return result


_ABBR: Final = _build_abbreviations()

# number words: value, and whether it can be an ordinal "the first/second... thursday of a month"
_NUMBERS: Final[dict[str, tuple[int, bool]]] = {
    **dict.fromkeys(("first", "1st"), (1, True)),
    **dict.fromkeys(("second", "2nd"), (2, True)),
    **dict.fromkeys(("third", "3rd"), (3, True)),
    **dict.fromkeys(("fourth", "4th"), (4, True)),
    **dict.fromkeys(("fifth", "5th"), (5, True)),
    "last": (-1, True),
    "other": (2, False),
    "two": (2, False),
    "three": (3, False),
    "four": (4, False),
    **dict.fromkeys(("ensimmäinen", "ensimmäisenä", "ensimmäisen", "ensimmäisellä", "1."), (1, True)),
    **dict.fromkeys(("toinen", "toisena", "toisen", "toisella", "2."), (2, True)),
    **dict.fromkeys(("kolmas", "kolmantena", "kolmannen", "kolmannella", "3."), (3, True)),
    **dict.fromkeys(("neljäs", "neljäntenä", "neljännen", "neljännellä", "4."), (4, True)),
    **dict.fromkeys(("viides", "viidentenä", "viidennen", "viidennellä", "5."), (5, True)),
    **dict.fromkeys(("viimeinen", "viimeisenä", "viimeisen", "viimeisellä"), (-1, True)),
    "kahden": (2, False),
    "kolmen": (3, False),
    "neljän": (4, False),
    **dict.fromkeys(("första", "1:a", "1:e"), (1, True)),
    **dict.fromkeys(("andra", "2:a", "2:e"), (2, True)),
    **dict.fromkeys(("tredje", "3:e"), (3, True)),
    **dict.fromkeys(("fjärde", "4:e"), (4, True)),
    **dict.fromkeys(("femte", "5:e"), (5, True)),
    "sista": (-1, True),
    "annan": (2, False),
    "två": (2, False),
    "tre": (3, False),
    "fyra": (4, False),
}
_EVERY: Final = frozenset({"every", "each", "joka", "jokainen", "jokaisena", "jokaisen", "varje", "var"})
_WEEK: Final = frozenset(
    {
        "week", "weeks", "viikko", "viikon", "viikolla", "viikossa", "viikkoa",
        "vecka", "veckan", "veckor", "veckas", "veckorna",
    }
)  # fmt: skip
_MONTH: Final = frozenset(
    {
        "month", "months", "kuu", "kuun", "kuukausi", "kuukauden", "kuukaudessa", "kuussa",
        "månad", "månaden", "månader", "månads", "månaderna",
    }
)  # fmt: skip
_NEXT: Final = frozenset(
    {"next", "coming", "ensi", "tuleva", "tulevana", "nästa", "kommande", "nästkommande"}
)
_FILLER: Final = frozenset(
    {
        "on", "the", "of", "in", "a", "an", "and", "this", "at", "from", "starting", "beginning", "once",
        "ja", "sekä", "välein", "kerran", "alkaen", "lähtien", "tänä", "tämä", "tällä",
        "och", "i", "på", "den", "om", "en", "gång", "från", "med", "start", "fr.o.m", "fr.o.m.",
        "&", "-", "+", ".", ":",
    }
)  # fmt: skip
# words that stand for several tokens
_EXPANSIONS: Final[dict[str, tuple[str, ...]]] = {
    "weekly": ("every", "week"),
    "viikoittain": ("every", "week"),
    "veckovis": ("every", "week"),
    "varjevecka": ("every", "week"),
    "biweekly": ("every", "other", "week"),
    "fortnightly": ("every", "other", "week"),
    "joka2.": ("every", "other"),
    "monthly": ("every", "month"),
    "kuukausittain": ("every", "month"),
    "kuukausittainen": ("every", "month"),
    "månatligen": ("every", "month"),
    "månadsvis": ("every", "month"),
    "varannan": ("every", "annan"),
    "vartannat": ("every", "annan"),
}
_DAY_AFTER_TOMORROW: Final = frozenset({"ylihuomenna", "övermorgon"})


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: Literal["day", "every", "num", "week", "month", "next", "fill", "other"]
    text: str
    value: int = 0  # weekday for "day", number for "num"
    flag: bool = False  # "day": an 'every such day' form; "num": usable as an ordinal


def _tokens(s: str, lang: Lang) -> list[_Tok]:
    out: list[_Tok] = []
    for raw in s.split():
        for word in _EXPANSIONS.get(raw, (raw,)):
            out.append(_classify(word, lang))
    return out


def _classify(word: str, lang: Lang) -> _Tok:
    bare = word.rstrip(".") if not word[:1].isdigit() else word
    if bare in _DAYS:
        wd, plural = _DAYS[bare]
        return _Tok("day", word, wd, plural)
    if bare in _ABBR[lang]:
        return _Tok("day", word, _ABBR[lang][bare], False)
    if word in _NUMBERS:
        value, ordinal = _NUMBERS[word]
        return _Tok("num", word, value, ordinal)
    if re.fullmatch(r"[0-9]{1,2}", word):
        return _Tok("num", word, int(word), False)
    if bare in _EVERY:
        return _Tok("every", word)
    if bare in _WEEK:
        return _Tok("week", word)
    if bare in _MONTH:
        return _Tok("month", word)
    if bare in _NEXT:
        return _Tok("next", word)
    if word in _FILLER or bare in _FILLER:
        return _Tok("fill", word)
    return _Tok("other", word)


# ---------------------------------------------------------------------------------------------
# Times of day


_AP: Final = r"(?P<ap>[ap]\.?\s?m\.?)(?![^\W\d_])"
_RANGE_END: Final = r"(?:\s*-\s*[0-9]{1,2}(?:[:.][0-9]{2})?(?:\s*[ap]\.?m\.?)?)?"
_MARKED_TIME: Final = re.compile(
    r"(?:(?<![^\W\d_])(?:klo|kl|kello|klockan|at)\.?\s*|@\s*)"
    r"(?P<h>[0-9]{1,2})(?:[:.](?P<m>[0-9]{2}))?(?:\s*" + _AP + r")?(?![0-9]|\.[0-9])" + _RANGE_END
)
_AMPM_TIME: Final = re.compile(r"(?<![0-9.:])(?P<h>[0-9]{1,2})(?:[:.](?P<m>[0-9]{2}))?\s*" + _AP + _RANGE_END)
_COLON_TIME: Final = re.compile(
    r"(?<![0-9:.])(?P<h>[0-9]{1,2}):(?P<m>[0-9]{2})(?::[0-9]{2})?(?![0-9:])" + _RANGE_END
)
_BARE_RANGE: Final = re.compile(
    r"(?<![0-9.:/-])(?P<h>[0-9]{1,2})(?:[:.](?P<m>[0-9]{2}))?\s*-\s*[0-9]{1,2}(?:[:.][0-9]{2})?(?![0-9.:/-])"
)
_DOTTED_TIME: Final = re.compile(
    r"(?<![0-9.])(?P<h>[0-9]{1,2})\.(?P<m>[0-9]{2})(?P<dot>\.)?(?![0-9]|\.[0-9])" + _RANGE_END
)


def _clock(match: re.Match[str]) -> time | None:
    hour = int(match["h"])
    minute = int(match["m"] or 0)
    ap = (match.groupdict().get("ap") or "").replace(".", "").replace(" ", "")
    if ap:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ap == "pm" else 0)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def _cut(s: str, match: re.Match[str]) -> str:
    return " ".join((s[: match.start()] + " " + s[match.end() :]).split())


@dataclass(frozen=True, slots=True)
class _Time:
    clock: time
    rest: str  # the text without the time
    length: timedelta | None = None  # from a range "10-12"
    unsure: bool = False  # "at 3": an hour 1-7 with neither minutes nor am/pm


_RANGE_TAIL: Final = re.compile(r"-\s*(?P<h>[0-9]{1,2})(?:[:.](?P<m>[0-9]{2}))?(?:\s*(?P<ap>[ap])\.?m\.?)?$")


def _span(match: re.Match[str], start: time) -> timedelta | None:
    """The length of a range "10-12", "14.00-15.30", "2-4pm" from its end, if it ends later."""
    tail = _RANGE_TAIL.search(match.group(0).rstrip())
    if tail is None:
        return None
    hour, minute = int(tail["h"]), int(tail["m"] or 0)
    if tail["ap"] and 1 <= hour <= 12:
        hour = hour % 12 + (12 if tail["ap"] == "p" else 0)
    if hour > 23 or minute > 59:
        return None
    length = datetime.combine(date.min, time(hour, minute)) - datetime.combine(date.min, start)
    return length if timedelta(0) < length <= MAX_DURATION else None


def _explicit_time(s: str, original: str) -> _Time | None:
    """A time written unmistakably as one: with klo/kl/at, am/pm or a colon, or a range "10-12"."""
    for pattern in (_MARKED_TIME, _AMPM_TIME, _COLON_TIME, _BARE_RANGE):
        match = pattern.search(s)
        if match is not None:
            clock = _clock(match)
            if clock is None:
                raise UnclearDate(text=_shown(original))
            unsure = (
                pattern is _MARKED_TIME and not match["m"] and not match["ap"] and 1 <= int(match["h"]) <= 7
            )
            return _Time(clock, _cut(s, match), _span(match, clock), unsure)
    return None


def _dotted_time(s: str) -> tuple[_Time, bool] | None:
    """The last "H.MM" that could be a time; True if it cannot be a day.month."""
    for match in reversed(list(_DOTTED_TIME.finditer(s))):
        clock = _clock(match)
        minute = int(match["m"])
        if clock is None:
            continue
        if match["dot"] and 1 <= minute <= 12:
            continue  # "3.12." is the third of December
        certain = minute == 0 or minute > 12 or int(match["h"]) == 0
        return _Time(clock, _cut(s, match), _span(match, clock)), certain
    return None


# ---------------------------------------------------------------------------------------------
# Dates


@dataclass(frozen=True, slots=True)
class _Ctx:
    lang: Lang
    zone: ZoneInfo
    now: datetime  # aware, in zone
    original: str

    @property
    def today(self) -> date:
        return self.now.date()


def _dateparser(text: str, ctx: _Ctx) -> date | None:
    """Ask dateparser, in the network's language first; None unless a day and month were read."""
    base = ctx.now.replace(tzinfo=None)
    settings: dict[str, Any] = {
        "PREFER_DATES_FROM": "future",
        "RELATIVE_BASE": base,
        "DATE_ORDER": "DMY",
        "REQUIRE_PARTS": ["day", "month"],
    }
    for lang in (ctx.lang, *(other for other in _LANGS if other != ctx.lang)):
        found = _safe_parse(text, lang, settings)
        if found is None:
            continue
        explicit_year = _safe_parse(text, lang, {**settings, "REQUIRE_PARTS": ["day", "month", "year"]})
        if explicit_year is None:
            found = _next_such_day(found.month, found.day, ctx.today) or found
        if not 1970 <= found.year <= ctx.today.year + MAX_YEARS_AHEAD:
            return None
        return found
    return None


def _safe_parse(text: str, lang: str, settings: dict[str, Any]) -> date | None:
    try:
        result: Any = dateparser.parse(text, languages=[lang], settings=settings)
    except Exception:  # dateparser has many ways to fail on odd input; all mean "not a date"
        return None
    return result.date() if isinstance(result, datetime) else None


def _next_such_day(month: int, day: int, today: date) -> date | None:
    """This year's day.month if it is today or later, else next year's.

    A day that passed in the last few weeks is this year's (and so refused as past): "1.12."
    typed on 4.12. is a slip, not a date a year ahead."""
    with suppress(ValueError):
        this_year = date(today.year, month, day)
        if today - JUST_PASSED <= this_year < today:
            return this_year
    for year in (today.year, today.year + 1, today.year + 2, today.year + 3, today.year + 4):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue  # 29 February
        if candidate >= today:
            return candidate
    return None


def _after_today(weekday: int, today: date) -> date:
    return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)


_DAY_MONTH: Final = re.compile(r"(?P<d>[0-9]{1,2})\.(?P<m>[0-9]{1,2})\.?")


def _resolve_date(s: str, ctx: _Ctx, *, allow_weekday: bool = True) -> date | None:
    """One calendar day from a date phrase with no time in it, or None."""
    tokens = _tokens(s, ctx.lang)
    if not tokens:
        return None
    days = [t for t in tokens if t.kind == "day"]
    if days and (not allow_weekday or len(days) > 1 or days[0].flag):
        return None
    weekday = days[0].value if days else None
    has_next = any(t.kind == "next" for t in tokens)
    core = [t for t in tokens if t.kind not in ("day", "next", "fill")]

    if weekday is not None:
        if has_next and core and all(t.kind == "week" for t in core):  # next week's thursday
            monday = ctx.today - timedelta(days=ctx.today.weekday()) + timedelta(days=7)
            return monday + timedelta(days=weekday)
        if not core:  # a lone weekday, maybe with next/on/this
            expected = _after_today(weekday, ctx.today)
            found = _weekday_by_dateparser(days[0].text, ctx)
            return found if found == expected else expected

    if len(core) == 1 and core[0].text in _DAY_AFTER_TOMORROW and weekday is None:
        return ctx.today + timedelta(days=2)
    if any(t.kind == "every" for t in core):
        return None

    rest = " ".join(t.text for t in tokens if t.kind not in ("day", "next"))
    match = _DAY_MONTH.fullmatch(rest)
    if match is not None:  # "3.12." without a year: dateparser reads a time of day
        found = _next_such_day(int(match["m"]), int(match["d"]), ctx.today)
    else:
        found = _dateparser(rest, ctx)
    if found is None or (weekday is not None and found.weekday() != weekday):
        return None
    return found


def _weekday_by_dateparser(word: str, ctx: _Ctx) -> date | None:
    settings: dict[str, Any] = {"PREFER_DATES_FROM": "future", "RELATIVE_BASE": ctx.now.replace(tzinfo=None)}
    for lang in (ctx.lang, *(other for other in _LANGS if other != ctx.lang)):
        found = _safe_parse(word, lang, settings)
        if found is not None:
            return found
    return None


def _localise(naive: datetime, zone: tzinfo) -> datetime:
    """A local wall time in ``zone``; a time in a DST gap moves forward by the gap."""
    return naive.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)


def _at(day: date, clock: time, zone: tzinfo) -> datetime:
    return _localise(datetime.combine(day, clock), zone)


# ---------------------------------------------------------------------------------------------
# Limits of a series


_COUNT: Final = re.compile(
    r"(?<![0-9.:])(?P<n>[0-9]{1,6})\s*(?:x|times|occurrences|sessions|meetings|kertaa|kerta|krt|tapaamista"
    r"|gånger|gång|ggr|tillfällen|träffar)(?![^\W\d_])"
)
_UNTIL_BEFORE: Final = re.compile(
    r"(?<![^\W\d_])(?:until|till och med|t\.o\.m\.?|fram till|tills|till|through|thru|up to|ending|ends on"
    r"|ends|asti|saakka|päättyen)(?![^\W\d_])"
)
_UNTIL_AFTER: Final = re.compile(r"(?<![^\W\d_])(?:asti|saakka|mennessä|loppuun)(?![^\W\d_])")
_NO_END: Final = re.compile(
    r"(?<![^\W\d_])(?:until further notice|no end date|no end|forever|indefinitely|ongoing|toistaiseksi"
    r"|ei loppua|ei päättymistä|jatkuva|tills vidare|tillsvidare|inget slut|utan slut)(?![^\W\d_])"
)
_MAX_LIMIT_WORDS: Final = 4


@dataclass(frozen=True, slots=True)
class _Limit:
    rest: str
    until: date | None = None
    count: int | None = None
    found: bool = False


def _extract_limit(s: str, ctx: _Ctx) -> _Limit:
    """Take "until <date>", "<date> asti", "10 times"... out of ``s``."""
    until: date | None = None
    count: int | None = None
    found = False
    match = _NO_END.search(s)
    if match is not None:
        s, found = _cut(s, match), True
    match = _COUNT.search(s)
    if match is not None:
        count = int(match["n"])
        s, found = _cut(s, match), True
    for pattern, after in ((_UNTIL_AFTER, True), (_UNTIL_BEFORE, False)):
        match = pattern.search(s)
        if match is None:
            continue
        words = (s[: match.start()] if after else s[match.end() :]).split()
        for n in range(min(_MAX_LIMIT_WORDS, len(words)), 0, -1):
            phrase = words[-n:] if after else words[:n]
            day = _resolve_date(" ".join(phrase), ctx, allow_weekday=False)
            if day is not None:
                until = day
                head = words[:-n] if after else s[: match.start()].split()
                tail = s[match.end() :].split() if after else words[n:]
                s = " ".join([*head, *tail])
                break
        else:
            if pattern is _UNTIL_AFTER:
                continue  # "asti" may come first: "asti 27.5.2027"
            raise BadLimit(text=_shown(ctx.original))
        found = True
        break
    if until is not None and count is not None:
        raise BadLimit(text=_shown(ctx.original))
    if count is not None and not 1 <= count <= MAX_COUNT:
        raise BadLimit(text=_shown(ctx.original))
    return _Limit(s, until, count, found)


# ---------------------------------------------------------------------------------------------
# Series


@dataclass(frozen=True, slots=True)
class _Series:
    rrule: str
    first_rule: str  # the same rule with INTERVAL=1, to find the first occurrence
    start_from: date | None


def _series(s: str, ctx: _Ctx) -> _Series | None:
    """A recurring pattern in ``s`` (time already taken out), or None if ``s`` is not one."""
    tokens = _tokens(s, ctx.lang)
    kinds = [t.kind for t in tokens]
    day_at = [i for i, t in enumerate(tokens) if t.kind == "day"]

    def before(i: int) -> _Tok | None:
        return tokens[i - 1] if i > 0 else None

    ordinal = None
    if day_at:
        prev = before(day_at[0])
        if prev is not None and prev.kind == "num" and prev.flag:
            ordinal = prev
    monthly = "month" in kinds and ordinal is not None
    cue = "every" in kinds or any(tokens[i].flag for i in day_at) or monthly
    if not cue:
        return None
    if not day_at:
        raise UnclearDate(text=_shown(ctx.original))
    if ordinal is not None and ordinal.value in (1, -1) and "week" not in kinds:
        monthly = True  # "every first thursday", "last friday of the month"
    used: set[int] = set(day_at)
    interval = 1
    if monthly:
        if len(day_at) != 1 or ordinal is None or (not 1 <= ordinal.value <= 5 and ordinal.value != -1):
            raise UnclearDate(text=_shown(ctx.original))
        used.add(day_at[0] - 1)
        for i, t in enumerate(tokens):
            prev = before(i)
            if t.kind == "month" and prev is not None and prev.kind == "num" and i - 1 not in used:
                interval = prev.value
                used.add(i - 1)
        byday = f"{ordinal.value}{_BYDAY[tokens[day_at[0]].value]}"
        freq = "MONTHLY"
    else:
        if "month" in kinds:
            raise UnclearDate(text=_shown(ctx.original))
        for i, t in enumerate(tokens):
            prev = before(i)
            if t.kind in ("week", "day") and prev is not None and prev.kind == "num" and i - 1 not in used:
                interval = prev.value
                used.add(i - 1)
        weekdays = sorted({tokens[i].value for i in day_at})
        byday = ",".join(_BYDAY[wd] for wd in weekdays)
        freq = "WEEKLY"
    if not 1 <= interval <= 12:
        raise UnclearDate(text=_shown(ctx.original))
    leftover = [t.text for i, t in enumerate(tokens) if i not in used and t.kind in ("other", "num", "next")]
    start_from = None
    if leftover:
        start_from = _resolve_date(" ".join(leftover), ctx, allow_weekday=False)
        if start_from is None:
            raise UnclearDate(text=_shown(ctx.original))
    return _Series(
        rrule=f"FREQ={freq};INTERVAL={interval};BYDAY={byday}",
        first_rule=f"FREQ={freq};INTERVAL=1;BYDAY={byday}",
        start_from=start_from,
    )


def _first_occurrence(rule_text: str, day: date, clock: time, ctx: _Ctx) -> datetime:
    """The first occurrence of the rule on or after ``day`` that is later than now."""
    rule = rrulestr(rule_text, dtstart=datetime.combine(day, clock))
    assert isinstance(rule, RRule)
    for naive in _bounded(rule, 400):
        moment = _localise(naive, ctx.zone)
        if moment > ctx.now:
            return moment
    raise UnclearDate(text=_shown(ctx.original))  # pragma: no cover - every rule recurs


def _bounded(rule: RRule, limit: int) -> Iterator[datetime]:
    for index, naive in enumerate(rule):
        if index >= limit:
            return
        yield naive


# ---------------------------------------------------------------------------------------------
# Public API


def parse_when(text: str, *, lang: Lang, tz: str = DEFAULT_TZ, now: datetime) -> When:
    """Understand when a session (or a series) starts.

    Raises :class:`UnclearDate`, :class:`PastDate`, :class:`NeedTime`, :class:`NeedDate`,
    :class:`BadLimit` (all :class:`~domain.errors.UserError`).
    """
    ctx = _context(text, lang, tz, now)
    s = _normalise(text)
    if not s or len(s) > MAX_TEXT:
        raise UnclearDate(text=_shown(text))
    explicit = _explicit_time(s, text)
    if explicit is not None:
        return _timed(_interpret(explicit.rest, explicit.clock, ctx), explicit)
    dotted = _dotted_time(s)
    if dotted is not None:
        found, certain = dotted
        if certain:
            return _timed(_interpret(found.rest, found.clock, ctx), found)
        try:
            return _timed(_interpret(found.rest, found.clock, ctx), found)
        except (UnclearDate, NeedDate):
            pass  # "3.12" alone is a date, not 03:12
    return _interpret(s, None, ctx)


def _timed(when: When, found: _Time) -> When:
    """``when`` with the length of a time range, and a warning for a night hour maybe meant as p.m."""
    warnings = when.warnings
    if found.unsure:
        later = f"{found.clock.hour + 12:02d}:{found.clock.minute:02d}"
        notice = Notice(NIGHT_HOUR_WARNING, (("time", f"{found.clock:%H:%M}"), ("later", later)))
        warnings = (notice, *warnings)
    return replace(when, length=found.length, warnings=warnings)


def _context(text: str, lang: Lang, tz: str, now: datetime) -> _Ctx:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    zone = ZoneInfo(tz)
    return _Ctx(lang=lang if lang in _LANGS else "en", zone=zone, now=now.astimezone(zone), original=text)


def _interpret(s: str, clock: time | None, ctx: _Ctx) -> When:
    limit = _extract_limit(s, ctx)
    series = _series(limit.rest, ctx)
    if series is None:
        if limit.until is not None or limit.count is not None:
            raise UnclearDate(text=_shown(ctx.original))
        day = _resolve_date(limit.rest, ctx)
        if day is None:
            if clock is not None and not limit.rest.strip():
                raise NeedDate(time=f"{clock:%H:%M}")
            raise UnclearDate(text=_shown(ctx.original))
        if clock is None:
            raise NeedTime(date=day)
        start = _at(day, clock, ctx.zone)
        if start <= ctx.now:
            raise PastDate(when=start)
        warnings = _holiday_notices(start, None, ctx.lang)
        if _todays_weekday_alone(limit.rest, ctx):
            warnings = (Notice(SAME_WEEKDAY_WARNING, (("date", day.isoformat()),)), *warnings)
        return When(start=start, recurrence=None, warnings=warnings)

    anchor = series.start_from or ctx.today
    if series.start_from is not None and series.start_from < ctx.today:
        raise PastDate(when=series.start_from)
    if clock is None:
        first_day = _first_occurrence(series.first_rule, anchor, time(0, 0), ctx).date()
        raise NeedTime(date=first_day)
    first = _first_occurrence(series.first_rule, anchor, clock, ctx)
    recurrence = Recurrence(rrule=series.rrule, dtstart=first)
    return _limited(When(start=first, recurrence=recurrence), limit.until, limit.count, ctx)


def _todays_weekday_alone(s: str, ctx: _Ctx) -> bool:
    """Whether ``s`` is just today's weekday ("friday" on a Friday): it means next week's."""
    tokens = _tokens(s, ctx.lang)
    days = [t for t in tokens if t.kind == "day"]
    return (
        len(days) == 1
        and days[0].value == ctx.today.weekday()
        and all(t.kind in ("day", "fill") for t in tokens)
    )


def _limited(when: When, until: date | None, count: int | None, ctx: _Ctx) -> When:
    recurrence = when.recurrence
    if recurrence is None:
        if until is not None or count is not None:
            raise BadLimit(text=_shown(ctx.original))
        return replace(when, warnings=_holiday_notices(when.start, None, ctx.lang))
    if until is not None and count is not None:
        raise BadLimit(text=_shown(ctx.original))
    if until is not None and until < when.start.date():
        raise BadLimit(text=_shown(ctx.original))
    if count is not None and not 1 <= count <= MAX_COUNT:
        raise BadLimit(text=_shown(ctx.original))
    recurrence = replace(recurrence, until=until, count=count)
    return When(
        start=when.start,
        recurrence=recurrence,
        warnings=_holiday_notices(when.start, recurrence, ctx.lang),
        length=when.length,
    )


def with_limit(when: When, *, until: date | None, count: int | None, lang: Lang, text: str = "") -> When:
    """``when`` with the series limited (e.g. from :func:`parse_limit` in a later turn).

    Holiday warnings are recomputed for the limited series. Raises :class:`BadLimit` for a
    single session, an ``until`` before the start, both limits, or a count out of range.
    """
    zone = when.start.tzinfo
    ctx = _Ctx(
        lang=lang,
        zone=zone if isinstance(zone, ZoneInfo) else ZoneInfo(DEFAULT_TZ),
        now=when.start,
        original=text or (until.isoformat() if until else str(count)),
    )
    return _limited(when, until, count, ctx)


def rule_parts(rrule: str) -> dict[str, str]:
    """An RRULE's parts by name: "FREQ=WEEKLY;BYDAY=TH" is {"FREQ": "WEEKLY", "BYDAY": "TH"}."""
    return dict(part.split("=", 1) for part in rrule.removeprefix("RRULE:").split(";") if "=" in part)


def with_rule(
    when: When,
    rrule: str,
    until: date | None,
    count: int | None,
    *,
    lang: Lang,
    previous: datetime | None = None,
) -> When:
    """A series' rule kept for a new first start (a changed draft): the rule's days follow the start.

    A weekly rule's days move by as many days as the start did (one day: the start's weekday), a
    monthly one ("first thursday") becomes the start's weekday at the start's place in its month,
    so that the new start is itself the first occurrence.
    """
    parts = rule_parts(rrule)
    start = when.start
    weekday = start.weekday()
    days = [day for day in parts.get("BYDAY", "").split(",") if day]
    if parts.get("FREQ") == "WEEKLY":
        codes = [day[-2:] for day in days if day[-2:] in _BYDAY]
        if len(codes) <= 1 or previous is None:
            parts["BYDAY"] = _BYDAY[weekday]
        elif _BYDAY[weekday] not in codes:
            shift = weekday - previous.weekday()
            moved = sorted({(_BYDAY.index(code) + shift) % 7 for code in codes})
            parts["BYDAY"] = ",".join(_BYDAY[day] for day in moved)
    elif parts.get("FREQ") == "MONTHLY":
        last = (start + timedelta(days=7)).month != start.month
        old = days[0][:-2] if days else ""
        position = -1 if old == "-1" and last else (start.day - 1) // 7 + 1
        parts["BYDAY"] = f"{position}{_BYDAY[weekday]}"
    rule = ";".join(f"{key}={value}" for key, value in parts.items() if key not in ("UNTIL", "COUNT"))
    series = When(start=start, recurrence=Recurrence(rrule=rule, dtstart=start))
    shown = f"{until.day}.{until.month}.{until.year}" if until else str(count or "")
    return with_limit(series, until=until, count=count, lang=lang, text=shown)


def parse_limit(
    text: str, *, lang: Lang, tz: str = DEFAULT_TZ, now: datetime
) -> tuple[date | None, int | None]:
    """The end of a series: ``(until, None)``, ``(None, count)`` or ``(None, None)`` for no end.

    Accepts "until 27.5.2027", "27.5.2027 asti", "till 27.5.2027", "10 times", "10 kertaa",
    "10 gånger", a bare date or a bare number; "toistaiseksi"/"tills vidare"/"no end" mean no end.
    Raises :class:`BadLimit`, or :class:`PastDate` for an end date before today.
    """
    ctx = _context(text, lang, tz, now)
    s = _normalise(text)
    if len(s) > MAX_TEXT:
        raise BadLimit(text=_shown(text))
    if not s:
        return None, None
    limit = _extract_limit(s, ctx)
    rest = limit.rest.strip()
    until, count = limit.until, limit.count
    if rest:
        if limit.found:
            raise BadLimit(text=_shown(text))
        if re.fullmatch(r"[0-9]{1,6}", rest):
            count = int(rest)
            if not 1 <= count <= MAX_COUNT:
                raise BadLimit(text=_shown(text))
        else:
            until = _resolve_date(rest, ctx, allow_weekday=False)
            if until is None:
                raise BadLimit(text=_shown(text))
    if until is not None and until < ctx.today:
        raise PastDate(when=until)
    return until, count


_DURATION_PART: Final = re.compile(
    r"(?P<n>[0-9]+(?:[.,][0-9]+)?|puoli|puolitoista|half an?|an?|one|yksi|en|ett|en halv|halv|one and a half)"
    r"\s*(?P<unit>h|hr|hrs|hour|hours|t|tunti|tuntia|tunnin|tim|timme|timmar|timmes|min|mins|minute|minutes"
    r"|minuutti|minuuttia|minuutin|minuter|minut|m)(?![^\W\d_])"
)
_DURATION_WORDS: Final[dict[str, float]] = {
    "puoli": 0.5,
    "half a": 0.5,
    "half an": 0.5,
    "en halv": 0.5,
    "halv": 0.5,
    "puolitoista": 1.5,
    "one and a half": 1.5,
    "a": 1,
    "an": 1,
    "one": 1,
    "yksi": 1,
    "en": 1,
    "ett": 1,
}
_HOURS: Final = frozenset(
    {"h", "hr", "hrs", "hour", "hours", "t", "tunti", "tuntia", "tunnin", "tim", "timme"}
)
_HOURS_PLURAL: Final = frozenset({"timmar", "timmes"})


def parse_duration(text: str) -> timedelta | None:
    """A session's length: "60 min", "1.5 h", "1 h 30 min", "1:30", "45 minuuttia", "1 timme"...

    None if ``text`` is not a length at all; :class:`BadDuration` if it is shorter than
    5 minutes or longer than 12 hours. A bare number is minutes.
    """
    s = " ".join(unicodedata.normalize("NFKC", text).casefold().split()).rstrip(".")
    s = re.sub(r"(?<=[0-9])(?=[^\W\d_])", " ", s)  # 90min -> 90 min
    if not s or len(s) > MAX_TEXT:
        return None
    total: timedelta | None = None
    if re.fullmatch(r"[0-9]{1,4}", s):
        total = timedelta(minutes=int(s))
    elif (hm := re.fullmatch(r"([0-9]{1,2})[:.]([0-9]{2})\s*(?:h|t)?", s)) is not None:
        total = timedelta(hours=int(hm[1]), minutes=int(hm[2])) if int(hm[2]) < 60 else None
    else:
        rest = s
        for match in _DURATION_PART.finditer(s):
            raw = match["n"]
            amount = _DURATION_WORDS.get(raw)
            if amount is None:
                try:
                    amount = float(raw.replace(",", "."))
                except ValueError:
                    return None
            if amount > 100_000:
                raise BadDuration(text=_shown(text))
            unit = match["unit"]
            hours = unit in _HOURS or unit in _HOURS_PLURAL
            part = timedelta(hours=amount) if hours else timedelta(minutes=amount)
            total = part if total is None else total + part
            rest = rest.replace(match.group(0), " ", 1)
        if total is not None and re.sub(r"\b(?:and|ja|och|&)\b", " ", rest).strip():
            return None
    if total is None:
        return None
    if not MIN_DURATION <= total <= MAX_DURATION:
        raise BadDuration(text=_shown(text))
    return timedelta(minutes=round(total.total_seconds() / 60))

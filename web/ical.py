"""Calendar files: one session (.ics for "Add to calendar") and a network's feed to subscribe to.

In the feed a series is one recurring event, as calendar apps expect: a VEVENT with UID
``series-<id>@tapaamo``, its DTSTART in the network's zone (with a VTIMEZONE, so that 14:00 stays
14:00 across daylight saving time) and the series' RRULE, bounded by its UNTIL or COUNT, or by
its last session once the series is cancelled. An occurrence that is cancelled, or that was never
made (the network was paused), is an EXDATE of that event; an occurrence that was moved or
changed (its own time, topic or join link) is an override: a VEVENT with the series' UID, a
RECURRENCE-ID of the occurrence and a SEQUENCE that counts its moves. A session of no series is
an event of its own, UID ``session-<id>@tapaamo``; cancelled, it stays in the feed with
``STATUS:CANCELLED`` and a SEQUENCE one higher.

One session's file ("Add to calendar") is always a single event with the session's UID. Callers
pass ``sequences`` (the number of moves of each session, counted from the audit log), which only
grows. ``X-WR-TIMEZONE`` tells calendar apps the network's zone for display.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from icalendar import Calendar, Event, vDuration, vRecur

from domain.networks import Network
from domain.sessions import Series, Session, SessionStatus

PRODID = "-//Tapaamo//Open online networks//FI"
REFRESH = timedelta(hours=6)  # how often a subscribed calendar should fetch the feed again


def uid(session: Session) -> str:
    return f"session-{session.id}@tapaamo"


def series_uid(series: Series) -> str:
    return f"series-{series.id}@tapaamo"


def _describe(event: Event, network: Network, join_url: str | None, page_url: str | None) -> None:
    description = "\n\n".join(part for part in (network.description, network.join_text) if part)
    if join_url:
        description = f"{description}\n\n{join_url}".strip()
        event.add("location", join_url)
    if page_url:
        description = f"{description}\n\n{page_url}".strip()
    if join_url or page_url:
        event.add("url", join_url or page_url)
    if description:
        event.add("description", description)


def _event(
    network: Network,
    session: Session,
    stamp: datetime,
    sequence: int,
    page_url: str | None,
    cancelled_label: str,
) -> Event:
    cancelled = session.status == SessionStatus.CANCELLED
    event = Event()
    event.add("uid", uid(session))
    event.add("dtstamp", stamp)
    event.add("dtstart", session.starts_at)
    event.add("dtend", session.ends_at)
    summary = f"{network.name}: {session.topic}" if session.topic else network.name
    if cancelled and cancelled_label:
        summary = f"{cancelled_label}: {summary}"
    event.add("summary", summary)
    _describe(event, network, None if cancelled else session.join_url, page_url)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "TRANSPARENT" if cancelled else "OPAQUE")
    event.add("sequence", sequence + (1 if cancelled else 0))
    return event


def _rule(series: Series, until: datetime | None) -> str:
    """The series' RRULE text with its bound: UNTIL in UTC (RFC 5545, DTSTART has a TZID) or COUNT."""
    parts = [p for p in series.rrule.removeprefix("RRULE:").split(";") if p and not p.startswith("UNTIL=")]
    zone = ZoneInfo(series.timezone)
    bounds = [until] if until is not None else []
    if series.until is not None:
        bounds.append(datetime.combine(series.until, time(23, 59, 59), zone))
    if bounds:
        parts = [p for p in parts if not p.startswith("COUNT=")]
        parts.append(f"UNTIL={min(bounds).astimezone(UTC):%Y%m%dT%H%M%SZ}")
    elif series.count and not any(p.startswith("COUNT=") for p in parts):
        parts.append(f"COUNT={series.count}")
    return ";".join(parts)


def occurrences(series: Series, last: datetime) -> list[datetime]:
    """The series' occurrences (aware, in its zone) up to ``last``, as its sessions are made."""
    zone = ZoneInfo(series.timezone)
    first = series.first_start.astimezone(zone)
    rule = rrulestr(_rule(series, None), dtstart=first)
    found = [first, *(m for m in rule.between(first, last.astimezone(zone), inc=True) if m != first)]
    return found[: series.count] if series.count else found


def _series_events(
    network: Network,
    series: Series,
    sessions: Sequence[Session],
    stamp: datetime,
    sequences: Mapping[int, int],
    page_url: str | None,
) -> list[Event]:
    zone = ZoneInfo(series.timezone)
    made = {s.occurrence: s for s in sessions if s.occurrence is not None}
    last = max(made)
    expected = occurrences(series, last)
    cancelled = [o for o, s in made.items() if s.status == SessionStatus.CANCELLED]
    never_made = [o for o in expected if o not in made]
    master = Event()
    master.add("uid", series_uid(series))
    master.add("dtstamp", stamp)
    master.add("dtstart", series.first_start.astimezone(zone))
    master.add("dtend", (series.first_start + series.duration).astimezone(zone))
    master.add("rrule", vRecur.from_ical(_rule(series, last if series.cancelled else None)))
    for moment in sorted(cancelled + never_made):
        master.add("exdate", moment.astimezone(zone))
    summary = f"{network.name}: {series.topic}" if series.topic else network.name
    master.add("summary", summary)
    _describe(master, network, series.join_url, page_url)
    master.add("status", "CONFIRMED")
    master.add("sequence", len(cancelled))
    events = [master]
    for occurrence, session in sorted(made.items()):
        if session.status == SessionStatus.CANCELLED:
            continue
        changed = (
            session.starts_at != occurrence
            or session.ends_at - session.starts_at != series.duration
            or session.topic != series.topic
            or session.join_url != series.join_url
        )
        if not changed:
            continue
        override = Event()
        override.add("uid", series_uid(series))
        override.add("recurrence-id", occurrence.astimezone(zone))
        override.add("dtstamp", stamp)
        override.add("dtstart", session.starts_at.astimezone(zone))
        override.add("dtend", session.ends_at.astimezone(zone))
        summary = f"{network.name}: {session.topic}" if session.topic else network.name
        override.add("summary", summary)
        _describe(override, network, session.join_url, page_url)
        override.add("status", "CONFIRMED")
        override.add("sequence", sequences.get(session.id, 0))
        events.append(override)
    return events


def calendar(
    network: Network,
    sessions: Sequence[Session],
    public_url: str,
    stamp: datetime,
    *,
    sequences: Mapping[int, int] | None = None,
    page_url: str | None = None,
    cancelled_label: str = "",
    series: Mapping[int, Series] | None = None,
) -> bytes:
    """An iCalendar document with ``sessions``.

    ``series`` (id to series) makes the sessions of those series one recurring event each;
    pass all their sessions, past ones included, so that every cancelled occurrence is excluded.
    The other sessions are single events (cancelled ones marked CANCELLED). ``sequences`` maps a
    session id to how many times it was moved; ``page_url`` is the network's public page, linked
    from every event; ``cancelled_label`` (e.g. "Cancelled" in the network's language) is put
    before a cancelled event's summary for apps that ignore STATUS.
    """
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", network.name)
    cal.add("x-wr-timezone", network.timezone)
    if network.description:
        cal.add("x-wr-caldesc", network.description)
    cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", vDuration(REFRESH))
    changes = sequences or {}
    recurring = series or {}
    by_series: dict[int, list[Session]] = {}
    for session in sessions:
        if (
            session.series_id is not None
            and session.series_id in recurring
            and session.occurrence is not None
        ):
            by_series.setdefault(session.series_id, []).append(session)
            continue
        cal.add_component(
            _event(network, session, stamp, changes.get(session.id, 0), page_url, cancelled_label)
        )
    for series_id, members in by_series.items():
        for event in _series_events(network, recurring[series_id], members, stamp, changes, page_url):
            cal.add_component(event)
    if by_series:
        cal.add_missing_timezones()
    return bytes(cal.to_ical())

"""Calendar files: one session (.ics for "Add to calendar") and a network's feed to subscribe to.

The feed has one VEVENT per session, never an RRULE: a series' occurrences are sessions of their
own in the database (each can be moved or cancelled alone), so each is an event with a stable UID
``session-<id>@tapaamo``. A cancelled session stays in the feed with ``STATUS:CANCELLED`` (so a
subscribed calendar removes or strikes it out) and a SEQUENCE one higher. A moved session keeps its
UID and gets a higher SEQUENCE: callers pass ``sequences`` (the number of changes of each
session, e.g. counted from the audit log), which only grows. Times are in UTC (``...Z``), so the
feed needs no VTIMEZONE; ``X-WR-TIMEZONE`` tells calendar apps the network's zone for display.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from icalendar import Calendar, Event, vDuration

from domain.networks import Network
from domain.sessions import Session, SessionStatus

PRODID = "-//Tapaamo//Open online networks//FI"
REFRESH = timedelta(hours=6)  # how often a subscribed calendar should fetch the feed again


def uid(session: Session) -> str:
    return f"session-{session.id}@tapaamo"


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
    description = "\n\n".join(part for part in (network.description, network.join_text) if part)
    if session.join_url and not cancelled:
        description = f"{description}\n\n{session.join_url}".strip()
        event.add("location", session.join_url)
    if page_url:
        description = f"{description}\n\n{page_url}".strip()
    if session.join_url or page_url:
        event.add("url", session.join_url if session.join_url and not cancelled else page_url)
    if description:
        event.add("description", description)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "TRANSPARENT" if cancelled else "OPAQUE")
    event.add("sequence", sequence + (1 if cancelled else 0))
    return event


def calendar(
    network: Network,
    sessions: Sequence[Session],
    public_url: str,
    stamp: datetime,
    *,
    sequences: Mapping[int, int] | None = None,
    page_url: str | None = None,
    cancelled_label: str = "",
) -> bytes:
    """An iCalendar document with ``sessions`` (cancelled ones marked CANCELLED).

    ``sequences`` maps a session id to how many times it was changed (moved); ``page_url`` is the
    network's public page, linked from every event; ``cancelled_label`` (e.g. "Cancelled" in the
    network's language) is put before a cancelled event's summary for apps that ignore STATUS.
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
    for session in sessions:
        cal.add_component(
            _event(network, session, stamp, changes.get(session.id, 0), page_url, cancelled_label)
        )
    return bytes(cal.to_ical())

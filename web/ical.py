"""Calendar files: one session (.ics for "Add to calendar") and a network's feed to subscribe to."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from icalendar import Calendar, Event

from domain.networks import Network
from domain.sessions import Session, SessionStatus

PRODID = "-//Tapaamo//Open online networks//FI"


def _event(network: Network, session: Session, public_url: str, stamp: datetime) -> Event:
    event = Event()
    event.add("uid", f"session-{session.id}@tapaamo")
    event.add("dtstamp", stamp)
    event.add("dtstart", session.starts_at)
    event.add("dtend", session.ends_at)
    event.add("summary", f"{network.name}: {session.topic}" if session.topic else network.name)
    description = "\n\n".join(part for part in (network.description, network.join_text) if part)
    if session.join_url:
        description = f"{description}\n\n{session.join_url}".strip()
        event.add("location", session.join_url)
        event.add("url", session.join_url)
    if description:
        event.add("description", description)
    event.add("status", "CANCELLED" if session.status == SessionStatus.CANCELLED else "CONFIRMED")
    event.add("sequence", int(session.starts_at.timestamp()) // 60 % 100000)
    return event


def calendar(network: Network, sessions: Sequence[Session], public_url: str, stamp: datetime) -> bytes:
    """An iCalendar document with ``sessions`` (cancelled ones marked CANCELLED)."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", network.name)
    cal.add("x-wr-timezone", network.timezone)
    for session in sessions:
        cal.add_component(_event(network, session, public_url, stamp))
    return bytes(cal.to_ical())

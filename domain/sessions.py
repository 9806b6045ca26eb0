"""Sessions of a network: drafts awaiting a coordinator's click, series, single sessions, RSVPs.

Every step is idempotent so that a redelivered click or a crash between steps never makes a
second session or a second announcement: rows carry unique keys, jobs carry dedupe keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from domain.errors import UserError

DEFAULT_DURATION = timedelta(minutes=60)
MAX_TOPIC = 200
SERIES_HORIZON = timedelta(days=70)  # occurrences are made this far ahead, extended daily
ANNOUNCE_LEAD = timedelta(days=7)  # a series occurrence is announced this long before it starts
HOME_REMINDER_LEAD = timedelta(minutes=15)
PERSONAL_REMINDER_LEAD = timedelta(hours=24)
CHECKIN_OPENS = timedelta(minutes=15)


class SessionStatus(StrEnum):
    SCHEDULED = "scheduled"
    HELD = "held"
    CANCELLED = "cancelled"


class DraftStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    DISCARDED = "discarded"


@dataclass(frozen=True, slots=True)
class Draft:
    """What a coordinator asked for, shown back on a confirmation card before anything is posted."""

    id: int
    network_id: int
    requested_by: str
    starts_at: datetime
    duration: timedelta
    topic: str
    join_url: str | None
    rrule: str | None
    until: date | None
    count: int | None
    status: DraftStatus
    created_at: datetime
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Series:
    id: int
    network_id: int
    draft_id: int
    rrule: str
    first_start: datetime
    duration: timedelta
    topic: str
    join_url: str | None
    until: date | None
    count: int | None
    timezone: str
    cancelled: bool = False


@dataclass(frozen=True, slots=True)
class Session:
    id: int
    network_id: int
    starts_at: datetime
    ends_at: datetime
    topic: str
    join_url: str | None
    status: SessionStatus
    series_id: int | None = None
    draft_id: int | None = None
    meeting_id: str | None = None
    occurrence: datetime | None = None  # a series session's start in its rule (kept when moved)

    def open_for_checkin(self, now: datetime) -> bool:
        return (
            self.status != SessionStatus.CANCELLED and self.starts_at - CHECKIN_OPENS <= now <= self.ends_at
        )


@dataclass(frozen=True, slots=True)
class NewSession:
    network_id: int
    starts_at: datetime
    ends_at: datetime
    topic: str
    join_url: str | None
    series_id: int | None = None
    draft_id: int | None = None


@dataclass(frozen=True, slots=True)
class Person:
    user_id: str
    name: str = ""
    aad_id: str | None = None


@dataclass(frozen=True, slots=True)
class SessionView:
    """A session with what a card shows of it."""

    session: Session
    network_name: str
    coming: int
    coming_ids: tuple[str, ...] = field(default_factory=tuple)


class TopicTooLong(UserError):
    message_id = "A topic can have at most {max} characters."


class UnknownSession(UserError):
    message_id = "I don't know a session {ref}. The list of sessions shows their numbers, e.g. #12."


class SessionCancelled(UserError):
    message_id = "That session has been cancelled."


class SessionOver(UserError):
    message_id = "That session is already over."


class DraftGone(UserError):
    message_id = "That confirmation has already been handled."


class BadLink(UserError):
    message_id = "The join link must be an https:// address."


def check_topic(topic: str) -> str:
    cleaned = " ".join(topic.split())
    if len(cleaned) > MAX_TOPIC:
        raise TopicTooLong(max=MAX_TOPIC)
    return cleaned


def check_link(url: str | None) -> str | None:
    if not url:
        return None
    if not url.startswith("https://") or len(url) > 2000 or any(c.isspace() for c in url):
        raise BadLink()
    return url


def parse_session_ref(text: str) -> int:
    """ "#12", "12" -> 12; UnknownSession otherwise."""
    cleaned = text.strip().lstrip("#")
    if not cleaned.isdigit() or len(cleaned) > 12:
        raise UnknownSession(ref=text.strip()[:20] or "?")
    return int(cleaned)


def announce_due(start: datetime, now: datetime, first: bool) -> datetime:
    """When to post a session's card: at once for a single session or a series' first, else a week ahead."""
    if first:
        return now
    return max(now, start - ANNOUNCE_LEAD)


def meeting_external_id(session: Session) -> str:
    """The external id under which a session's Teams meeting is made (Graph's createOrGet).

    The same for every retry of the announcement, so that one session gets one meeting. The start
    is in it too: a database started afresh counts session ids from 1 again, and must not be handed
    the meeting (and attendance reports) of an earlier deployment's session with the same id.
    """
    return f"tapaamo-session-{session.id}-{session.starts_at.astimezone(UTC):%Y%m%dT%H%MZ}"

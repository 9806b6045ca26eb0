"""The ports through which the domain reaches the world. storage/ implements them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from domain.cadence import HeldSession
from domain.conversations import ConversationRef
from domain.jobs import Job, NewJob
from domain.networks import Coordinator, Network
from domain.participation import Attendance, MeetingEvent, NetworkSummary, Participation, ReportRecord
from domain.polls import Poll, PollSettings
from domain.sessions import Draft, DraftStatus, NewSession, Person, Series, Session, SessionStatus
from domain.stewardship import NudgeState


class ConversationRefs(Protocol):
    async def upsert(self, ref: ConversationRef) -> None:
        """Insert or replace the reference of ``ref.conversation_id``."""
        ...

    async def get(self, conversation_id: str) -> ConversationRef | None: ...

    async def remove(self, conversation_id: str) -> bool:
        """Forget a conversation (the app was uninstalled there). True if it was known."""
        ...

    async def count(self) -> int: ...


class AuditLog(Protocol):
    async def record(
        self,
        *,
        actor_id: str,
        action: str,
        subject: str,
        details: dict[str, Any] | None = None,
        at: datetime,
    ) -> None: ...

    async def entries(self, subject: str) -> Sequence[dict[str, Any]]: ...


class InboundLedger(Protocol):
    """Activity ids already taken in, so that a redelivered activity has no second effect."""

    async def claim(self, activity_key: str, at: datetime) -> bool:
        """True if this is the first delivery of ``activity_key``; False for a redelivery."""
        ...

    async def finish(self, activity_key: str, response: dict[str, Any] | None) -> None:
        """Store the answer given, so that a redelivery can be answered alike."""
        ...

    async def begin(self, activity_key: str | None, ref: ConversationRef) -> bool:
        """Claim the activity (if it has a key) and upsert its conversation's reference, at once.

        False for a redelivery (nothing is written then)."""
        ...

    async def finish_many(self, items: Sequence[tuple[str, dict[str, Any] | None]]) -> None: ...

    async def release(self, activity_key: str) -> None:
        """The turn failed: let a redelivery try again."""
        ...

    async def response(self, activity_key: str) -> dict[str, Any] | None: ...

    async def outcome(self, activity_key: str) -> tuple[bool, dict[str, Any] | None] | None:
        """``(finished, response)`` of a claimed activity; None if it is not claimed (any more).

        An unfinished claim is a turn under way, or one whose process died in the middle of it."""
        ...

    async def purge(self, before: datetime) -> int: ...


class JobStore(Protocol):
    async def enqueue(self, job: NewJob) -> int:
        """Add a job; a job with the same dedupe key already there is kept. Returns its id."""
        ...

    async def claim_due(self, now: datetime, limit: int, lease_until: datetime) -> Sequence[Job]:
        """Take up to ``limit`` due jobs (pending, failed, or running with an expired lease)."""
        ...

    async def complete(self, job_id: int, at: datetime, attempt: int | None = None) -> bool:
        """Record a running job done; with ``attempt``, only if that claim still holds it."""
        ...

    async def fail(
        self, job_id: int, error: str, retry_at: datetime | None, attempt: int | None = None
    ) -> bool:
        """Record a failure (``retry_at`` None makes the job dead), as :meth:`complete` does."""
        ...

    async def renew(self, job_id: int, attempt: int, lease_until: datetime) -> bool:
        """Extend the lease of claim ``attempt``; False when the job has been claimed again since."""
        ...

    async def get(self, job_id: int) -> Job | None: ...

    async def by_dedupe_key(self, dedupe_key: str) -> Job | None: ...

    async def counts(self) -> dict[str, int]:
        """Number of jobs per status."""
        ...

    async def cancel(self, dedupe_prefix: str) -> int:
        """Drop pending jobs whose dedupe key starts with ``dedupe_prefix``."""
        ...


class SentMessages(Protocol):
    """What the bot has posted, by a key of ours, so that a card can be updated in place later."""

    async def record(self, *, key: str, conversation_id: str, activity_id: str | None, at: datetime) -> None:
        """Remember the activity id of the message sent under ``key`` (first one wins)."""
        ...

    async def activity_id(self, key: str) -> str | None: ...

    async def record_failure(self, *, key: str, conversation_id: str, error: str, at: datetime) -> None:
        """A send that failed for good is kept, not lost silently."""
        ...


class NetworkStore(Protocol):
    """Networks and their coordinators."""

    async def add(self, network: Network, creator: Coordinator) -> Network:
        """Store a new network (its id is assigned); DuplicateName if the name is taken."""
        ...

    async def get(self, network_id: int) -> Network | None: ...

    async def all(self, statuses: Sequence[str] | None = None) -> Sequence[Network]: ...

    async def save(self, network: Network) -> None:
        """Write the network's own fields (not its coordinators)."""
        ...

    async def add_coordinator(self, network_id: int, coordinator: Coordinator, at: datetime) -> bool: ...

    async def remove_coordinator(self, network_id: int, user_id: str) -> bool:
        """Remove one coordinator, never the last one (returns False then)."""
        ...


class SessionStore(Protocol):
    """Drafts, series, sessions, RSVPs and followers."""

    async def add_draft(self, draft: Draft) -> Draft: ...

    async def get_draft(self, draft_id: int) -> Draft | None: ...

    async def set_draft_status(self, draft_id: int, old: DraftStatus, new: DraftStatus) -> bool:
        """Move a draft from ``old`` to ``new``; False if it was not in ``old`` (already handled)."""
        ...

    async def add_series(self, series: Series) -> Series:
        """Store a series; a second call for the same draft returns the first one."""
        ...

    async def get_series(self, series_id: int) -> Series | None: ...

    async def active_series(self) -> Sequence[Series]: ...

    async def cancel_series(self, series_id: int) -> bool:
        """Mark a series cancelled (no more sessions are made); False if it already was."""
        ...

    async def add_sessions(self, sessions: Sequence[NewSession], at: datetime) -> Sequence[Session]:
        """Store sessions, skipping any already there (same series and start, or same draft)."""
        ...

    async def get(self, session_id: int) -> Session | None: ...

    async def for_network(
        self, network_id: int, start: datetime | None = None, end: datetime | None = None
    ) -> Sequence[Session]: ...

    async def next_sessions(self, now: datetime) -> dict[int, Session]:
        """The next scheduled session of every network that has one."""
        ...

    async def set_status(self, session_id: int, status: SessionStatus) -> None: ...

    async def move(self, session_id: int, starts_at: datetime, ends_at: datetime) -> None: ...

    async def rsvp(self, session_id: int, person: Person, at: datetime) -> bool:
        """True if this person was not yet coming."""
        ...

    async def unrsvp(self, session_id: int, user_id: str) -> bool: ...

    async def coming(self, session_id: int) -> Sequence[Person]: ...

    async def follow(self, network_id: int, person: Person, at: datetime) -> bool: ...

    async def unfollow(self, network_id: int, user_id: str) -> bool: ...

    async def followers(self, network_id: int) -> Sequence[Person]: ...

    async def is_following(self, network_id: int, user_id: str) -> bool: ...

    async def by_meeting(
        self, meeting_id: str | None, join_url: str | None, near: datetime, window: timedelta
    ) -> Session | None:
        """The session of this Teams meeting id or join link starting nearest to ``near``."""
        ...

    async def set_meeting(self, session_id: int, meeting_id: str, join_url: str | None = None) -> None: ...

    async def personal_conversations(self, user_ids: Sequence[str]) -> dict[str, str]:
        """The 1:1 conversation of each user who has installed Tapaamo personally."""
        ...


class DeliveryFailed(Exception):
    """A message could not be delivered; ``retryable`` says whether trying the job later may help."""

    def __init__(self, reason: str, retryable: bool) -> None:
        super().__init__(reason)
        self.retryable = retryable


class NoReportYet(DeliveryFailed):
    """Teams has not published a meeting's attendance report (yet): ask again later."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, retryable=True)


class Notifier(Protocol):
    """Posting to a conversation the bot knows, by a key of ours; raises DeliveryFailed."""

    async def post(
        self, conversation_id: str, key: str, *, card: dict[str, Any] | None = None, text: str | None = None
    ) -> str | None:
        """Post once per key (a repeated key is not posted again); returns the activity id."""
        ...

    async def update(self, conversation_id: str, key: str, card: dict[str, Any]) -> bool:
        """Replace the card posted under ``key``; False if nothing was posted under it."""
        ...


@dataclass(frozen=True, slots=True)
class OnlineMeeting:
    join_url: str
    meeting_id: str


class MeetingProvider(Protocol):
    """Creates Teams online meetings (Microsoft Graph), when the bot is allowed to."""

    async def create_meeting(
        self, *, subject: str, start: datetime, end: datetime, external_id: str | None = None
    ) -> OnlineMeeting:
        """Raises DeliveryFailed (retryable or not) when the meeting cannot be made.

        The same ``external_id`` again gives the meeting made the first time, not a second one."""
        ...


class ParticipationStore(Protocol):
    async def record(self, attendance: Attendance) -> None:
        """Merge one source's attendance into the (session, person) row; repeating it changes nothing."""
        ...

    async def known_key(self, user_id: str) -> str | None:
        """The ledger key of the person with this Teams user id, if a row or reference knows them."""
        ...

    async def remove(self, session_id: int, key: str) -> bool:
        """A coordinator takes a person out of a session; later sources do not put them back."""
        ...

    async def for_session(self, session_id: int) -> Sequence[Participation]: ...

    async def for_network(self, network_id: int) -> Sequence[Participation]: ...

    async def mark_held(
        self, session_id: int, held_from: datetime | None, held_until: datetime | None
    ) -> None: ...

    async def add_event(self, event: MeetingEvent) -> bool:
        """Keep a meeting event; False if it was there already (a redelivery)."""
        ...

    async def unmatched_events(self, conversation_id: str) -> Sequence[MeetingEvent]: ...

    async def attach_events(self, conversation_id: str, meeting_id: str | None, session_id: int) -> int: ...

    async def summaries(self, start: datetime, end: datetime) -> Sequence[NetworkSummary]: ...

    async def cadence_inputs(
        self, since: datetime, now: datetime
    ) -> dict[int, tuple[list[HeldSession], list[datetime]]]:
        """Per network: its past non-cancelled sessions since ``since`` with participant counts, and
        the starts of its sessions still to come."""
        ...

    async def anonymise_network(self, network_id: int) -> int:
        """Remove the personal data of a network's participations, keeping the counts."""
        ...


class AttendanceSource(Protocol):
    """Teams attendance reports of a meeting (Microsoft Graph)."""

    async def attendance_records(self, meeting_id: str) -> Sequence[ReportRecord]: ...


class PollStore(Protocol):
    async def settings(self, network_id: int) -> PollSettings: ...

    async def save_settings(self, network_id: int, settings: PollSettings) -> None: ...

    async def open(self, poll: Poll) -> Poll:
        """Store a new poll; a second one for the same session returns the first."""
        ...

    async def get(self, poll_id: int) -> Poll | None: ...

    async def for_session(self, session_id: int) -> Poll | None: ...

    async def vote(self, poll_id: int, question: str, voter: str, option: int, at: datetime) -> bool:
        """Record or replace one voter's answer; False if the poll is no longer open."""
        ...

    async def comment(self, poll_id: int, voter: str, text: str, at: datetime) -> bool: ...

    async def votes(self, poll_id: int) -> Sequence[tuple[str, int]]:
        """(question, option) of every answer."""
        ...

    async def my_votes(self, poll_id: int, voter: str) -> dict[str, int]: ...

    async def network_votes(
        self, network_id: int, start: datetime, end: datetime
    ) -> Sequence[tuple[str, int]]:
        """(question, option) of every answer to the network's polls opened in the period."""
        ...

    async def comments(self, poll_id: int) -> Sequence[str]: ...

    async def close(self, poll_id: int, at: datetime) -> bool:
        """Close: delete the secret and replace every voter key by a random one. False if closed."""
        ...


class NudgeStore(Protocol):
    async def get(self, network_id: int) -> NudgeState: ...

    async def all(self) -> dict[int, NudgeState]: ...

    async def save(self, state: NudgeState) -> None: ...

"""The participation ledger: who took part in which session, from which sources.

Online networks keep no member list: "membership is not maintained separately but per event".
One row per person per session, merged from every source; RSVPs (intentions) live elsewhere.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import IntFlag
from typing import TYPE_CHECKING, Any

from domain.clock import Clock
from domain.errors import UserError
from domain.jobs import NewJob
from domain.networks import Network, NotCoordinator, bare_conversation_id
from domain.sessions import CHECKIN_OPENS, Person, Session, SessionStatus, UnknownSession

if TYPE_CHECKING:  # the ports import this module's types
    from domain.ports import AuditLog, JobStore, NetworkStore, ParticipationStore, SessionStore


class Source(IntFlag):
    """Where a participation came from; a row can have several (a bit set, merged with OR)."""

    CHECKIN = 1
    MEETING_EVENT = 2
    ATTENDANCE_REPORT = 4
    COORDINATOR = 8


@dataclass(frozen=True, slots=True)
class Attendance:
    """One source's word that a person took part; merged into the ledger row of (session, key)."""

    session_id: int
    key: str  # the person's Entra object id when known, else "teams:<user id>"
    source: Source
    seen_at: datetime
    user_id: str | None = None
    name: str = ""
    tenant_id: str | None = None
    email: str | None = None
    left_at: datetime | None = None
    minutes: int = 0


@dataclass(frozen=True, slots=True)
class Participation:
    session_id: int
    key: str
    user_id: str | None
    name: str
    organisation: str | None
    sources: Source
    first_seen: datetime
    last_seen: datetime
    minutes: int


def participant_key(aad_id: str | None, user_id: str | None) -> str:
    if aad_id:
        return aad_id.lower()
    if user_id:
        return f"teams:{user_id}"
    raise ValueError("a participant needs an Entra object id or a Teams user id")


def organisation_of(email: str | None, tenant_id: str | None) -> str | None:
    """The e-mail domain when known (what a CRM matches on), else the Entra tenant."""
    if email and "@" in email:
        return email.rsplit("@", 1)[1].lower()
    return tenant_id


class NothingToCheckInTo(UserError):
    message_id = (
        "No session is open for check-in here right now (from 15 minutes before the start to its end)."
    )


class WhichSession(UserError):
    """More than one session is open for check-in here: the person picks theirs from ``sessions``
    (the here command answers with a card of them, so this error has no text of its own)."""

    def __init__(self, sessions: Sequence[Session] = ()) -> None:
        super().__init__()
        self.sessions = tuple(sessions)


@dataclass(frozen=True, slots=True)
class OrganisationName:
    """How a report names one of the ledger's organisations (see organisation_of)."""

    domain: str | None  # its e-mail domain, when the ledger knows one
    home: bool = False  # a tenant id alone, the tenant of the network's home conversation
    tail: str = ""  # a tenant id alone, another tenant: its last four characters


def organisation_name(organisation: str, home_tenant: str | None) -> OrganisationName:
    """An e-mail domain has a dot, an Entra tenant id (a GUID) has none; a raw GUID says nothing
    to a coordinator, so a tenant is named as the network's own organisation or by its tail."""
    if "." in organisation:
        return OrganisationName(domain=organisation)
    if home_tenant and organisation.casefold() == home_tenant.casefold():
        return OrganisationName(domain=None, home=True)
    return OrganisationName(domain=None, tail=organisation[-4:])


@dataclass(frozen=True, slots=True)
class SessionFigures:
    session_id: int
    starts_at: datetime
    held: bool
    participants: int
    new: int
    returning: int
    by_organisation: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Roles:
    """The network workbook's roles, observed from the ledger (never assigned)."""

    strong: int  # at a large share of recent sessions
    occasional: int
    followers_only: int  # follow the network but never came


@dataclass(frozen=True, slots=True)
class NetworkFigures:
    sessions_held: int
    unique_participants: int
    average_per_session: float
    came_more_than_once: int
    new_in_period: int
    roles: Roles
    sessions: tuple[SessionFigures, ...]


@dataclass(frozen=True, slots=True)
class LedgerSession:
    """What the figures need of a session."""

    id: int
    starts_at: datetime
    held: bool


def figures(
    sessions: Sequence[LedgerSession],
    rows: Iterable[Participation],
    *,
    period_start: datetime,
    period_end: datetime,
    followers: Iterable[str] = (),
    strong_share: float = 0.5,
    recent_sessions: int = 10,
) -> NetworkFigures:
    """A network's figures for a period, from all its sessions and ledger rows (history included:
    "new" means first seen in this network in that session)."""
    by_session: dict[int, list[Participation]] = defaultdict(list)
    for row in rows:
        by_session[row.session_id].append(row)
    ordered = sorted(sessions, key=lambda s: s.starts_at)
    seen: set[str] = set()
    per_session: list[SessionFigures] = []
    attended: Counter[str] = Counter()
    in_period_keys: set[str] = set()
    new_in_period = 0
    for session in ordered:
        people = by_session.get(session.id, [])
        keys = {p.key for p in people}
        new = keys - seen
        seen |= keys
        if not period_start <= session.starts_at < period_end:
            continue
        held = session.held or bool(people)
        orgs = Counter(p.organisation or "?" for p in people)
        per_session.append(
            SessionFigures(
                session_id=session.id,
                starts_at=session.starts_at,
                held=held,
                participants=len(keys),
                new=len(new),
                returning=len(keys) - len(new),
                by_organisation=dict(orgs.most_common()),
            )
        )
        new_in_period += len(new)
        in_period_keys |= keys
        attended.update(keys)
    held_sessions = [s for s in per_session if s.held]
    total = sum(s.participants for s in held_sessions)
    recent = held_sessions[-recent_sessions:]
    recent_counts: Counter[str] = Counter()
    for figure in recent:
        recent_counts.update(p.key for p in by_session.get(figure.session_id, []))
    # At least half of 5 recent sessions is 3 of them: round up (round() would give 2).
    threshold = max(1, math.ceil(strong_share * len(recent))) if recent else 1
    strong = sum(1 for count in recent_counts.values() if count >= threshold and len(recent) >= 2)
    occasional = len(in_period_keys) - strong
    followers_only = len(set(followers) - seen)
    return NetworkFigures(
        sessions_held=len(held_sessions),
        unique_participants=len(in_period_keys),
        average_per_session=total / len(held_sessions) if held_sessions else 0.0,
        came_more_than_once=sum(1 for count in attended.values() if count > 1),
        new_in_period=new_in_period,
        roles=Roles(strong=strong, occasional=max(0, occasional), followers_only=followers_only),
        sessions=tuple(per_session),
    )


@dataclass(frozen=True, slots=True)
class MeetingEvent:
    event_key: str
    conversation_id: str
    name: str
    at: datetime
    meeting_id: str | None = None
    join_url: str | None = None
    session_id: int | None = None
    payload: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class NetworkSummary:
    """One network's participation over a period, computed by the database."""

    network_id: int
    sessions_held: int
    participations: int
    unique_participants: int


# --- use cases ---------------------------------------------------------------------------------

ENDED = "session.ended"  # job: after a session (meetingEnd or its scheduled end): reports, polls
ATTENDANCE_FETCH = "attendance.fetch"
MATCH_WINDOW = timedelta(hours=3)
ENDED_DELAY = timedelta(minutes=10)
# Teams publishes a meeting's attendance report some minutes after it ends; asking at once finds none.
ATTENDANCE_DELAY = timedelta(minutes=15)
# When the report is not there yet, asked again this long after the previous try; then given up.
ATTENDANCE_RETRIES = (timedelta(hours=1), timedelta(hours=4), timedelta(hours=24))


@dataclass(frozen=True, slots=True)
class Member:
    """A person named in a meeting event or an attendance report."""

    user_id: str | None
    aad_id: str | None
    name: str = ""
    tenant_id: str | None = None
    email: str | None = None


class Ledger:
    """Check-ins, meeting events, attendance reports and corrections, merged into the ledger."""

    def __init__(
        self,
        store: ParticipationStore,
        sessions: SessionStore,
        networks: NetworkStore,
        jobs: JobStore,
        audit: AuditLog,
        clock: Clock,
    ) -> None:
        self.store = store
        self.sessions = sessions
        self.networks = networks
        self.jobs = jobs
        self.audit = audit
        self.clock = clock

    async def open_sessions(self, conversation_id: str, personal: bool) -> list[Session]:
        """Sessions open for check-in now: of the networks homed here, or any, in a 1:1 chat."""
        now = self.clock.now()
        found = []
        for network in await self.networks.all(["active"]):
            if not personal and not _is_home(network, conversation_id):
                continue
            for session in await self.sessions.for_network(
                network.id, start=now - timedelta(hours=12), end=now + CHECKIN_OPENS
            ):
                if session.open_for_checkin(now):
                    found.append(session)
        return found

    async def check_in(self, member: Member, conversation_id: str, personal: bool) -> Session:
        sessions = await self.open_sessions(conversation_id, personal)
        if not sessions:
            raise NothingToCheckInTo()
        if len(sessions) > 1:
            raise WhichSession(sessions)
        return await self.check_in_session(sessions[0].id, member)

    async def check_in_session(self, session_id: int, member: Member) -> Session:
        session = await self.sessions.get(session_id)
        now = self.clock.now()
        if session is None or not session.open_for_checkin(now):
            raise NothingToCheckInTo()
        await self.store.record(self._attendance(session.id, member, Source.CHECKIN, now))
        return session

    @staticmethod
    def _attendance(
        session_id: int,
        member: Member,
        source: Source,
        seen: datetime,
        left: datetime | None = None,
        minutes: int = 0,
    ) -> Attendance:
        return Attendance(
            session_id=session_id,
            key=participant_key(member.aad_id, member.user_id),
            source=source,
            seen_at=seen,
            user_id=member.user_id,
            name=member.name,
            tenant_id=member.tenant_id,
            email=member.email,
            left_at=left,
            minutes=minutes,
        )

    async def match(
        self, conversation_id: str, meeting_id: str | None, join_url: str | None, at: datetime
    ) -> Session | None:
        """The session a meeting event belongs to: by meeting id or join link, else the home
        conversation's session nearest in time (within three hours either way).

        A weekly series may share one join link, so a link or id match is also taken nearest in time.
        """
        if meeting_id or join_url:
            found = await self.sessions.by_meeting(meeting_id, join_url, at, MATCH_WINDOW)
            if found is not None:
                return found
        best: Session | None = None
        for network in await self.networks.all(["active", "paused"]):
            if not _is_home(network, conversation_id):
                continue
            for session in await self.sessions.for_network(
                network.id, start=at - MATCH_WINDOW, end=at + MATCH_WINDOW
            ):
                if session.status == SessionStatus.CANCELLED:
                    continue
                if best is None or abs(session.starts_at - at) < abs(best.starts_at - at):
                    best = session
        return best

    async def meeting_event(
        self,
        *,
        event_key: str,
        conversation_id: str,
        name: str,
        at: datetime,
        meeting_id: str | None,
        join_url: str | None,
        payload: dict[str, Any] | None = None,
    ) -> Session | None:
        """meetingStart / meetingEnd: mark the session held with its real times, or keep the event."""
        session = await self.match(conversation_id, meeting_id, join_url, at)
        fresh = await self.store.add_event(
            MeetingEvent(
                event_key,
                conversation_id,
                name,
                at,
                meeting_id,
                join_url,
                session.id if session else None,
                payload,
            )
        )
        if session is None or not fresh:
            return session
        if meeting_id and not session.meeting_id:
            # Lets later events carrying only the id (participant joins) find this session; for a
            # series sharing one join link, by_meeting extends the id to every session of the link
            # and still picks the one nearest in time, so the id is not tied to this session alone.
            await self.sessions.set_meeting(session.id, meeting_id)
        if name == "meetingStart":
            await self.store.mark_held(session.id, at, None)
        elif name == "meetingEnd":
            await self.store.mark_held(session.id, None, at)
            await self.jobs.enqueue(
                NewJob(ENDED, {"session_id": session.id}, self.clock.now(), f"ended-event:{session.id}")
            )
        return session

    async def participants(
        self,
        *,
        event_key: str,
        conversation_id: str,
        meeting_id: str | None,
        members: Sequence[Member],
        at: datetime,
        joined: bool,
    ) -> Session | None:
        session = await self.match(conversation_id, meeting_id, None, at)
        fresh = await self.store.add_event(
            MeetingEvent(
                event_key,
                conversation_id,
                "participantJoin" if joined else "participantLeave",
                at,
                meeting_id,
                None,
                session.id if session else None,
                # Who, as the ledger needs them: an event kept unmatched is replayed when attached.
                {"members": [_member_payload(m) for m in members]},
            )
        )
        if session is None or not fresh:
            return session
        for member in members:
            if member.aad_id or member.user_id:
                await self.store.record(
                    self._attendance(session.id, member, Source.MEETING_EVENT, at, None if joined else at)
                )
        return session

    async def attach(self, conversation_id: str, session_id: int) -> int:
        """Attach this conversation's unmatched meeting (its latest) to a session, and replay its
        events as if they had matched: held times, each join and leave, and after meetingEnd what
        follows a session (the poll). Returns how many events were attached."""
        events = await self.store.unmatched_events(conversation_id)
        if not events:
            return 0
        meeting_id = events[-1].meeting_id
        count = await self.store.attach_events(conversation_id, meeting_id, session_id)
        if meeting_id:
            await self.sessions.set_meeting(session_id, meeting_id)
        ended = False
        for event in events:
            if meeting_id is not None and event.meeting_id != meeting_id:
                continue
            if event.name == "meetingStart":
                await self.store.mark_held(session_id, event.at, None)
            elif event.name == "meetingEnd":
                await self.store.mark_held(session_id, None, event.at)
                ended = True
            elif event.name in ("participantJoin", "participantLeave"):
                joined = event.name == "participantJoin"
                for member in _members_of(event.payload):
                    await self.store.record(
                        self._attendance(
                            session_id, member, Source.MEETING_EVENT, event.at, None if joined else event.at
                        )
                    )
        if ended:
            await self.jobs.enqueue(
                NewJob(ENDED, {"session_id": session_id}, self.clock.now(), f"ended-event:{session_id}")
            )
        return count

    async def import_report(self, session_id: int, records: Sequence[ReportRecord]) -> int:
        for record in records:
            await self.store.record(
                self._attendance(
                    session_id,
                    record.member,
                    Source.ATTENDANCE_REPORT,
                    record.first_join,
                    record.last_leave,
                    record.total_seconds // 60,
                )
            )
        if records:
            await self.store.mark_held(session_id, None, None)
        return len(records)

    async def correct(self, session_id: int, coordinator: Person, member: Member, add: bool) -> bool:
        """Add or remove a person; False when a removal found nobody to remove."""
        session = await self.sessions.get(session_id)
        if session is None:
            raise UnknownSession(ref=f"#{session_id}")
        network = await self.networks.get(session.network_id)
        if network is None or not network.is_coordinator(coordinator.user_id, coordinator.aad_id):
            raise NotCoordinator(
                network=network.name if network else "?",
                coordinators=network.coordinator_names() if network else "",
            )
        if not member.aad_id and member.user_id:
            # A Teams @mention carries the user id only: use the key the ledger already knows the
            # person by (their Entra object id), or "remove" finds nothing and "add" makes a twin.
            known = await self.store.known_key(member.user_id)
            if known is not None and not known.startswith("teams:"):
                member = replace(member, aad_id=known)
        key = participant_key(member.aad_id, member.user_id)
        if add:
            await self.store.record(
                self._attendance(session.id, member, Source.COORDINATOR, session.starts_at, session.ends_at)
            )
        elif not await self.store.remove(session.id, key):
            return False
        await self.audit.record(
            actor_id=coordinator.user_id,
            action="participation.add" if add else "participation.remove",
            subject=f"network:{network.id}",
            details={"session": session.id},
            at=self.clock.now(),
        )
        return True

    async def network_figures(
        self,
        network: Network,
        start: datetime,
        end: datetime,
        *,
        strong_share: float = 0.5,
        recent_sessions: int = 10,
    ) -> NetworkFigures:
        sessions = await self.sessions.for_network(network.id)
        rows = await self.store.for_network(network.id)
        followers = [participant_key(p.aad_id, p.user_id) for p in await self.sessions.followers(network.id)]
        now = self.clock.now()
        ledger_sessions = [
            LedgerSession(s.id, s.starts_at, s.status == SessionStatus.HELD)
            for s in sessions
            if s.status != SessionStatus.CANCELLED and s.starts_at - CHECKIN_OPENS <= now
        ]
        return figures(
            ledger_sessions,
            rows,
            period_start=start,
            period_end=end,
            followers=followers,
            strong_share=strong_share,
            recent_sessions=recent_sessions,
        )


def _member_payload(member: Member) -> dict[str, str | None]:
    return {
        "user_id": member.user_id,
        "aad_id": member.aad_id,
        "name": member.name,
        "tenant_id": member.tenant_id,
    }


def _members_of(payload: dict[str, Any] | None) -> list[Member]:
    """The people of a kept participant event (an id alone in events kept before names were)."""
    found = []
    for item in (payload or {}).get("members") or []:
        if isinstance(item, dict) and (item.get("aad_id") or item.get("user_id")):
            found.append(
                Member(
                    user_id=item.get("user_id"),
                    aad_id=item.get("aad_id"),
                    name=str(item.get("name") or ""),
                    tenant_id=item.get("tenant_id"),
                )
            )
        elif isinstance(item, str) and item:
            teams_id = item.startswith("29:")
            found.append(Member(user_id=item if teams_id else None, aad_id=None if teams_id else item))
    return found


@dataclass(frozen=True, slots=True)
class ReportRecord:
    """One person in a Teams attendance report, merged across the report's intervals."""

    member: Member
    first_join: datetime
    last_leave: datetime
    total_seconds: int


def _is_home(network: Network, conversation_id: str) -> bool:
    """Whether the conversation is the network's home: a channel's threads are the channel."""
    home = network.home_conversation_id
    return home is not None and bare_conversation_id(home) == bare_conversation_id(conversation_id)

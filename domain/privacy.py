"""Personal data: how long it is kept, what a person can see of it, and forgetting a person.

Participants are public-sector employees and their Teams identities are personal data (GDPR).
Tapaamo keeps what it needs to run the networks and no longer:

* retention: a daily job (:data:`PURGE`) anonymises or drops what has outlived its period;
* access: :meth:`Privacy.my_data` is everything held on one person (``mydata``);
* erasure: :meth:`Privacy.forget` erases a person everywhere (``forgetme``); participations stay
  only as anonymous counts and the audit log names a pseudonym instead;
* uninstalling: :func:`forget_conversation` drops a conversation's reference and unhomes the
  networks announced there, so that nothing is posted there again.

Poll answers are anonymous already (see :mod:`domain.polls`); forgetting re-keys the person's
answers in polls still open, so that even the poll's secret no longer links them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from dateutil.relativedelta import relativedelta

from domain.clock import Clock
from domain.jobs import NewJob
from domain.participation import Source

if TYPE_CHECKING:
    from domain.ports import AuditLog, ConversationRefs, NetworkStore

PURGE = "privacy.purge"  # job: the daily retention purge; payload {"date": "YYYY-MM-DD"}
PSEUDONYM_PREFIX = "forgotten-user-"
MIN_NEEDLE = 3  # shorter names are not searched for inside texts: they would match anything
ANON_PREFIX = "anon:"  # participant keys of anonymised participations


def months_before(moment: datetime, months: int) -> datetime:
    """``moment`` less ``months`` calendar months (31 March less one month is 28/29 February)."""
    return moment - relativedelta(months=months)


class RetentionSettings(Protocol):
    """The settings :meth:`Retention.from_settings` reads (bot.settings.Settings has them)."""

    retention_participation_months: int
    retention_audit_months: int
    retention_sent_days: int
    retention_rsvp_days: int
    retention_draft_days: int
    retention_event_payload_months: int
    retention_poll_comment_months: int
    retention_done_jobs_days: int
    inbound_keep_hours: int


@dataclass(frozen=True, slots=True)
class Retention:
    """How long each kind of personal data is kept."""

    participation_months: int = 24  # then only as counts
    audit_months: int = 24
    sent_days: int = 90
    rsvp_days: int = 90  # after the session
    draft_days: int = 30
    event_payload_months: int = 24
    poll_comment_months: int = 24  # after the poll closed
    done_jobs_days: int = 30  # purged by scheduling.housekeeping
    inbound_hours: int = 48  # purged by scheduling.housekeeping

    @classmethod
    def from_settings(cls, settings: RetentionSettings) -> Retention:
        return cls(
            participation_months=settings.retention_participation_months,
            audit_months=settings.retention_audit_months,
            sent_days=settings.retention_sent_days,
            rsvp_days=settings.retention_rsvp_days,
            draft_days=settings.retention_draft_days,
            event_payload_months=settings.retention_event_payload_months,
            poll_comment_months=settings.retention_poll_comment_months,
            done_jobs_days=settings.retention_done_jobs_days,
            inbound_hours=settings.inbound_keep_hours,
        )


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """The moments before which each kind of data goes, for one purge."""

    participations: datetime  # sessions that started before this
    audit: datetime
    sent: datetime
    rsvps: datetime  # sessions that ended before this
    drafts: datetime
    event_payloads: datetime
    poll_comments: datetime  # polls closed before this

    @classmethod
    def at(cls, now: datetime, retention: Retention) -> Cutoffs:
        return cls(
            participations=months_before(now, retention.participation_months),
            audit=months_before(now, retention.audit_months),
            sent=now - timedelta(days=retention.sent_days),
            rsvps=now - timedelta(days=retention.rsvp_days),
            drafts=now - timedelta(days=retention.draft_days),
            event_payloads=months_before(now, retention.event_payload_months),
            poll_comments=months_before(now, retention.poll_comment_months),
        )


@dataclass(frozen=True, slots=True)
class Subject:
    """A person, as Teams names them: the Teams user id, and the Entra object id when known."""

    user_id: str
    aad_id: str | None = None
    name: str = ""

    def __post_init__(self) -> None:
        if not self.user_id:
            raise ValueError("a subject needs a Teams user id")

    @property
    def ids(self) -> tuple[str, ...]:
        return (self.user_id, self.aad_id) if self.aad_id else (self.user_id,)

    @property
    def participant_keys(self) -> tuple[str, ...]:
        """Every key the ledger (and the polls' voter keys) may know this person by."""
        keys = [f"teams:{self.user_id}"]
        if self.aad_id:
            keys.insert(0, self.aad_id.lower())
        return tuple(keys)


# --- what is held on a person ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NetworkTie:
    """Coordinating or following a network."""

    network_id: int
    network: str
    timezone: str
    since: datetime
    name: str  # the name stored with it


@dataclass(frozen=True, slots=True)
class RsvpHeld:
    session_id: int
    network_id: int
    network: str
    timezone: str
    starts_at: datetime
    at: datetime
    name: str


@dataclass(frozen=True, slots=True)
class ParticipationHeld:
    session_id: int
    network_id: int
    network: str
    timezone: str
    starts_at: datetime
    sources: Source
    first_seen: datetime
    last_seen: datetime
    minutes: int
    name: str
    email: str | None
    tenant_id: str | None
    removed: bool  # a coordinator took it out: it is not counted


@dataclass(frozen=True, slots=True)
class ReminderHeld:
    """A personal reminder job that will message this person (they follow or are coming)."""

    job_id: int
    session_id: int
    network: str
    timezone: str
    starts_at: datetime
    due_at: datetime


@dataclass(frozen=True, slots=True)
class ChatHeld:
    """A conversation reference that names this person (their personal chat with Tapaamo)."""

    conversation_id: str
    kind: str
    locale: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class DraftHeld:
    draft_id: int
    network: str
    timezone: str
    starts_at: datetime
    status: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AuditHeld:
    """An audit log entry by this person, or one whose details name them (someone added them
    as a coordinator, corrected their attendance, ...); who did the latter is not shown."""

    at: datetime
    action: str
    subject: str
    by_you: bool = True
    details: Mapping[str, Any] | None = None  # of entries about them: what names them


@dataclass(frozen=True, slots=True)
class EventHeld:
    """A Teams meeting event that lists this person (joined, left), as Tapaamo stored them."""

    at: datetime
    kind: str
    session_id: int | None
    listed_as: tuple[Mapping[str, Any], ...]  # their own entries of the event's members


POLL_ANSWERS_NOTE = (
    "Your poll answers cannot be linked to you: each answer is stored under a code made with the "
    "poll's own secret, and when the poll closes the secret is deleted and the code replaced by a "
    "random one. Tapaamo therefore cannot show you your answers, nor can anyone else."
)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def source_names(sources: Source) -> list[str]:
    return [flag.name.lower() for flag in Source if flag in sources and flag.name]


@dataclass(frozen=True, slots=True)
class PersonalData:
    """Everything Tapaamo holds on one person."""

    subject: Subject
    coordinates: tuple[NetworkTie, ...] = ()
    follows: tuple[NetworkTie, ...] = ()
    rsvps: tuple[RsvpHeld, ...] = ()
    participations: tuple[ParticipationHeld, ...] = ()
    reminders: tuple[ReminderHeld, ...] = ()
    chats: tuple[ChatHeld, ...] = ()
    drafts: tuple[DraftHeld, ...] = ()
    audit: tuple[AuditHeld, ...] = ()
    events: tuple[EventHeld, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        """The names stored with this person's rows (and the one they have now), distinct."""
        found = [self.subject.name]
        found += [t.name for t in (*self.coordinates, *self.follows)]
        found += [r.name for r in self.rsvps] + [p.name for p in self.participations]
        return tuple(dict.fromkeys(n for n in found if n))

    @property
    def empty(self) -> bool:
        return not any(
            (
                self.coordinates,
                self.follows,
                self.rsvps,
                self.participations,
                self.reminders,
                self.chats,
                self.drafts,
                self.audit,
                self.events,
            )
        )

    def to_json(self, now: datetime, retention: Retention) -> dict[str, Any]:
        """The download: plain JSON, English keys, times in ISO 8601 (UTC)."""
        return {
            "generated_at": now.isoformat(),
            "controller_note": "Tapaamo, the bot of the open online networks, holds the data below on you.",
            "you": {
                "teams_user_id": self.subject.user_id,
                "entra_object_id": self.subject.aad_id,
                "names_stored": list(self.names),
            },
            "networks_coordinated": [
                {"network_id": t.network_id, "network": t.network, "since": _iso(t.since), "name": t.name}
                for t in self.coordinates
            ],
            "networks_followed": [
                {"network_id": t.network_id, "network": t.network, "since": _iso(t.since), "name": t.name}
                for t in self.follows
            ],
            "rsvps": [
                {
                    "session_id": r.session_id,
                    "network": r.network,
                    "session_starts_at": _iso(r.starts_at),
                    "answered_at": _iso(r.at),
                    "name": r.name,
                }
                for r in self.rsvps
            ],
            "participations": [
                {
                    "session_id": p.session_id,
                    "network": p.network,
                    "session_starts_at": _iso(p.starts_at),
                    "sources": source_names(p.sources),
                    "first_seen": _iso(p.first_seen),
                    "last_seen": _iso(p.last_seen),
                    "minutes": p.minutes,
                    "name": p.name,
                    "email": p.email,
                    "tenant_id": p.tenant_id,
                    "removed_by_a_coordinator": p.removed,
                }
                for p in self.participations
            ],
            "pending_personal_reminders": [
                {
                    "session_id": r.session_id,
                    "network": r.network,
                    "session_starts_at": _iso(r.starts_at),
                    "to_be_sent_at": _iso(r.due_at),
                }
                for r in self.reminders
            ],
            "conversations": [
                {
                    "conversation_id": c.conversation_id,
                    "kind": c.kind,
                    "locale": c.locale,
                    "last_used": _iso(c.updated_at),
                }
                for c in self.chats
            ],
            "session_requests": [
                {
                    "draft_id": d.draft_id,
                    "network": d.network,
                    "starts_at": _iso(d.starts_at),
                    "status": d.status,
                    "created_at": _iso(d.created_at),
                }
                for d in self.drafts
            ],
            "audit_log": [
                {
                    "at": _iso(a.at),
                    "action": a.action,
                    "subject": a.subject,
                    "by_you": a.by_you,
                    **({} if a.by_you else {"details": dict(a.details or {})}),
                }
                for a in self.audit
            ],
            "meeting_events": [
                {
                    "at": _iso(e.at),
                    "event": e.kind,
                    "session_id": e.session_id,
                    "you_as_listed": [dict(entry) for entry in e.listed_as],
                }
                for e in self.events
            ],
            "poll_answers": POLL_ANSWERS_NOTE,
            "retention": {
                "participation_by_name_months": retention.participation_months,
                "rsvps_after_session_days": retention.rsvp_days,
                "audit_log_months": retention.audit_months,
                "session_requests_days": retention.draft_days,
                "sent_message_records_days": retention.sent_days,
                "meeting_event_details_months": retention.event_payload_months,
                "poll_comments_after_close_months": retention.poll_comment_months,
                "processed_message_ids_hours": retention.inbound_hours,
                "finished_jobs_days": retention.done_jobs_days,
            },
        }


@dataclass(frozen=True, slots=True)
class ForgetOutcome:
    """What forgetting did, or the networks that stopped it (then nothing was changed)."""

    blocked: tuple[str, ...] = ()  # names of networks the person is the last coordinator of
    pseudonym: str | None = None
    counts: Mapping[str, int] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return not self.blocked


# --- the store ---------------------------------------------------------------------------------


class PrivacyStore(Protocol):
    """Whole-database reads and writes about one person, and the retention purges."""

    async def personal_data(self, subject: Subject) -> PersonalData: ...

    async def forget(self, subject: Subject, pseudonym: str, names: Sequence[str]) -> ForgetOutcome:
        """In one transaction: erase ``subject`` everywhere, unless they are the last coordinator of
        a network that has not ended (then change nothing and name those networks). ``names`` are
        the person's names, searched for in stored texts along with their ids."""
        ...

    async def blockers(self, subject: Subject) -> tuple[str, ...]:
        """Names of the networks not yet ended of which ``subject`` is the only coordinator,
        sorted: what :meth:`forget` would refuse for."""
        ...

    async def forget_conversation(self, conversation_id: str, team_id: str | None = None) -> Sequence[int]:
        """Drop the references of this conversation and of its threads (a channel's
        ``…;messageid=…``), and with ``team_id`` those of every channel of that team; networks
        announced there get no home. Returns their ids."""
        ...

    async def anonymise_participations(self, sessions_before: datetime) -> int: ...

    async def purge_audit(self, before: datetime) -> int: ...

    async def purge_sent(self, before: datetime, now: datetime) -> int:
        """Drop sent-message records older than ``before``, but keep the announcements of sessions
        still to come (their cards are updated in place)."""
        ...

    async def purge_rsvps(self, sessions_ended_before: datetime) -> int: ...

    async def purge_drafts(self, before: datetime) -> int: ...

    async def clear_event_payloads(self, before: datetime) -> int: ...

    async def purge_poll_comments(self, polls_closed_before: datetime) -> int: ...


# --- scrubbing stored texts --------------------------------------------------------------------


def needles(subject: Subject, names: Iterable[str] = ()) -> tuple[str, ...]:
    """What to look for in stored texts: ids, and names long enough not to match everything.

    Longest first, so that a name is replaced before any shorter one inside it."""
    found = {*subject.ids, *(n.strip() for n in names if len(n.strip()) >= MIN_NEEDLE)}
    if subject.aad_id:
        found.add(subject.aad_id.lower())
    return tuple(sorted((n for n in found if n), key=lambda n: (-len(n), n)))


def scrub_text(text: str, found: Sequence[str], replacement: str) -> str:
    for needle in found:
        if needle in text:
            text = text.replace(needle, replacement)
    return text


def scrub(value: Any, found: Sequence[str], replacement: str) -> Any:
    """``value`` (JSON: dicts, lists, strings, numbers) with every occurrence of a needle replaced."""
    if isinstance(value, str):
        return scrub_text(value, found, replacement)
    if isinstance(value, list):
        return [scrub(item, found, replacement) for item in value]
    if isinstance(value, dict):
        return {
            scrub_text(str(k), found, replacement): scrub(v, found, replacement) for k, v in value.items()
        }
    return value


def mentions(value: Any, found: Sequence[str]) -> bool:
    """Whether any needle occurs anywhere in ``value``."""
    if isinstance(value, str):
        return any(needle in value for needle in found)
    if isinstance(value, list):
        return any(mentions(item, found) for item in value)
    if isinstance(value, dict):
        return any(mentions(str(k), found) or mentions(v, found) for k, v in value.items())
    return False


def new_pseudonym() -> str:
    return f"{PSEUDONYM_PREFIX}{secrets.token_hex(8)}"


# --- use cases ---------------------------------------------------------------------------------


def same_conversation(conversation_id: str, removed: str) -> bool:
    """Whether ``conversation_id`` is ``removed`` or one of its threads: in a channel, Teams names
    a conversation ``19:…@thread.tacv2;messageid=…``, while the app is removed from ``19:…``."""
    return conversation_id == removed or conversation_id.startswith(f"{removed};")


def purge_job(today: date, now: datetime) -> NewJob:
    """The daily purge job, once per date however often the housekeeping runs."""
    return NewJob(PURGE, {"date": today.isoformat()}, now, f"privacy-purge:{today.isoformat()}")


async def forget_conversation(
    conversation_id: str,
    *,
    team_id: str | None = None,
    refs: ConversationRefs,
    networks: NetworkStore,
    clock: Clock,
    audit: AuditLog | None = None,
    store: PrivacyStore | None = None,
) -> Sequence[int]:
    """The app was removed from a conversation: forget its reference; networks announced there
    lose their home, so their pending announcements, reminders and polls are skipped (every job
    that posts to a network's home skips a network without one). Removed from a team
    (``team_id``), it forgets every channel of the team it has a reference of. Returns the
    unhomed networks.

    Repeating it changes nothing."""
    await refs.remove(conversation_id)
    if store is not None:
        unhomed = list(await store.forget_conversation(conversation_id, team_id))
    else:
        unhomed = []
        for network in await networks.all():
            if network.home_conversation_id and same_conversation(
                network.home_conversation_id, conversation_id
            ):
                await networks.save(replace(network, home_conversation_id=None))
                unhomed.append(network.id)
    if audit is not None:
        for network_id in unhomed:
            await audit.record(
                actor_id="tapaamo",
                action="network.unhomed",
                subject=f"network:{network_id}",
                details={"reason": "app removed from its conversation"},
                at=clock.now(),
            )
    return unhomed


class Privacy:
    """Access, erasure and retention over the :class:`PrivacyStore`."""

    def __init__(
        self,
        store: PrivacyStore,
        refs: ConversationRefs,
        networks: NetworkStore,
        audit: AuditLog,
        clock: Clock,
        retention: Retention | None = None,
    ) -> None:
        self.store = store
        self.refs = refs
        self.networks = networks
        self.audit = audit
        self.clock = clock
        self.retention = retention or Retention()

    async def my_data(self, subject: Subject) -> PersonalData:
        return await self.store.personal_data(subject)

    async def blockers(self, subject: Subject) -> tuple[str, ...]:
        """The networks ``subject`` is the last coordinator of: while any, :meth:`forget` erases nothing."""
        return await self.store.blockers(subject)

    async def forget(self, subject: Subject) -> ForgetOutcome:
        """Erase ``subject`` everywhere, or (last coordinator somewhere) nothing at all."""
        held = await self.store.personal_data(subject)
        pseudonym = new_pseudonym()
        outcome = await self.store.forget(subject, pseudonym, held.names)
        if outcome.done:
            # What was done is kept, never who it was done for.
            await self.audit.record(
                actor_id=pseudonym,
                action="privacy.forget",
                subject=f"person:{pseudonym}",
                details=dict(outcome.counts),
                at=self.clock.now(),
            )
        return outcome

    async def forget_conversation(self, conversation_id: str, team_id: str | None = None) -> Sequence[int]:
        return await forget_conversation(
            conversation_id,
            team_id=team_id,
            refs=self.refs,
            networks=self.networks,
            clock=self.clock,
            audit=self.audit,
            store=self.store,
        )

    async def purge(self) -> dict[str, int]:
        """Anonymise or drop everything past its retention period; returns how much, per kind."""
        now = self.clock.now()
        cut = Cutoffs.at(now, self.retention)
        return {
            "participations_anonymised": await self.store.anonymise_participations(cut.participations),
            "audit_entries": await self.store.purge_audit(cut.audit),
            "sent_messages": await self.store.purge_sent(cut.sent, now),
            "rsvps": await self.store.purge_rsvps(cut.rsvps),
            "drafts": await self.store.purge_drafts(cut.drafts),
            "meeting_event_payloads": await self.store.clear_event_payloads(cut.event_payloads),
            "poll_comments": await self.store.purge_poll_comments(cut.poll_comments),
        }

    async def purge_job(self, payload: dict[str, Any]) -> None:
        """The handler of :data:`PURGE` jobs."""
        await self.purge()

    def handlers(self) -> dict[str, Any]:
        return {PURGE: self.purge_job}

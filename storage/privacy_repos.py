"""SQL implementation of :class:`domain.privacy.PrivacyStore`: one person across every table, and
the retention purges.

Where each table keeps a person (keep this list true when a table is added; the erasure test in
tests/integration/test_privacy.py scans every table of the database and fails otherwise):

=====================  ==========================================  =================================
table                  holds                                       on forgetting
=====================  ==========================================  =================================
coordinators           user_id, name, aad_id                       deleted
followers              user_id, name, aad_id                       deleted
rsvps                  user_id, name, aad_id                       deleted
participations         participant_key, user_id, name, e-mail      anonymised (counts stay)
conversation_refs      personal chat: user ids (group chats and    personal: deleted; others:
                       channels keep no sender)                    scrubbed, should an id be there
drafts                 requested_by                                pseudonym
audit_log              actor_id, ids in ``details``                pseudonym
votes, poll_comments   HMAC voter keys of open polls               re-keyed at random
sent_messages          keys ending in a user id, personal chats    deleted
inbound_activities     personal chat's keys, ids in answers        deleted / answer dropped
meeting_events         ids in ``payload``                          pseudonym
jobs                   (ids in ``payload``, none today)            pseudonym
=====================  ==========================================  =================================
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Text, cast, delete, func, not_, null, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.jobs import JobStatus
from domain.participation import Source
from domain.planning import REMIND_PERSONAL
from domain.polls import PollStatus, voter_key
from domain.privacy import (
    ANON_PREFIX,
    AuditHeld,
    ChatHeld,
    DraftHeld,
    EventHeld,
    ForgetOutcome,
    NetworkTie,
    ParticipationHeld,
    PersonalData,
    ReminderHeld,
    RsvpHeld,
    Subject,
    mentions,
    needles,
    scrub,
)
from storage.db import Database
from storage.models import AuditRow, ConversationRefRow, InboundActivityRow, JobRow, SentMessageRow
from storage.network_models import CoordinatorRow, DraftRow, FollowerRow, NetworkRow, RsvpRow, SessionRow
from storage.participation_models import MeetingEventRow, ParticipationRow
from storage.poll_models import PollCommentRow, PollRow, VoteRow
from storage.types import as_utc

log = logging.getLogger(__name__)

BATCH = 500  # rows per transaction in the purges, so that the single SQLite writer is not held long


def _who(user_column: Any, aad_column: Any, subject: Subject) -> ColumnElement[bool]:
    """Rows of ``subject``: by Teams user id, or by Entra object id (case ignored). Never NULL, so
    that ``not_(_who(...))`` is true for everyone else."""
    conditions = [func.coalesce(user_column, "") == subject.user_id]
    if subject.aad_id and aad_column is not None:
        conditions.append(func.lower(func.coalesce(aad_column, "")) == subject.aad_id.lower())
    return or_(*conditions)


def _participant(subject: Subject) -> ColumnElement[bool]:
    return or_(
        ParticipationRow.participant_key.in_(subject.participant_keys),
        func.coalesce(ParticipationRow.user_id, "") == subject.user_id,
    )


def _text_mentions(column: Any, found: Sequence[str]) -> ColumnElement[bool]:
    """A cheap first cut for JSON columns: the stored text contains a needle, as JSON writes it
    (SQLite's JSON escapes non-ASCII letters, PostgreSQL's jsonb text does not)."""
    variants = {json.dumps(n)[1:-1] for n in found} | {json.dumps(n, ensure_ascii=False)[1:-1] for n in found}
    text = cast(column, Text)
    return or_(*(text.contains(v, autoescape=True) for v in sorted(variants)))


def _listed_as(payload: Any, subject: Subject) -> tuple[dict[str, Any], ...]:
    """The entries of a meeting event's members that are ``subject`` (not the others')."""
    members = payload.get("members") if isinstance(payload, dict) else None
    aad = (subject.aad_id or "").lower()
    return tuple(
        dict(member)
        for member in members or []
        if isinstance(member, dict)
        and (
            member.get("user_id") == subject.user_id
            or (aad and str(member.get("aad_id") or "").lower() == aad)
        )
    )


def _team_of(reference: Any) -> str | None:
    """The team a stored channel reference belongs to (bot.teams.conversation_ref writes it)."""
    if isinstance(reference, str):
        try:
            reference = json.loads(reference)
        except ValueError:
            return None
    team = reference.get("team") if isinstance(reference, dict) else None
    value = team.get("id") if isinstance(team, dict) else None
    return value if isinstance(value, str) else None


def _count(result: Any) -> int:
    return int(result.rowcount or 0)


class SqlPrivacyStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    # --- access --------------------------------------------------------------------------------

    async def personal_data(self, subject: Subject) -> PersonalData:
        async with self._db.read() as session:
            coordinates = [
                NetworkTie(row.network_id, name, tz, row.added_at, row.name)
                for row, name, tz in (
                    await session.execute(
                        select(CoordinatorRow, NetworkRow.name, NetworkRow.timezone)
                        .join(NetworkRow, NetworkRow.id == CoordinatorRow.network_id)
                        .where(_who(CoordinatorRow.user_id, CoordinatorRow.aad_id, subject))
                        .order_by(NetworkRow.name_key)
                    )
                ).all()
            ]
            follows = [
                NetworkTie(row.network_id, name, tz, row.since, row.name)
                for row, name, tz in (
                    await session.execute(
                        select(FollowerRow, NetworkRow.name, NetworkRow.timezone)
                        .join(NetworkRow, NetworkRow.id == FollowerRow.network_id)
                        .where(_who(FollowerRow.user_id, FollowerRow.aad_id, subject))
                        .order_by(NetworkRow.name_key)
                    )
                ).all()
            ]
            rsvps = [
                RsvpHeld(row.session_id, network_id, name, tz, starts_at, row.at, row.name)
                for row, starts_at, network_id, name, tz in (
                    await session.execute(
                        select(
                            RsvpRow,
                            SessionRow.starts_at,
                            SessionRow.network_id,
                            NetworkRow.name,
                            NetworkRow.timezone,
                        )
                        .join(SessionRow, SessionRow.id == RsvpRow.session_id)
                        .join(NetworkRow, NetworkRow.id == SessionRow.network_id)
                        .where(_who(RsvpRow.user_id, RsvpRow.aad_id, subject))
                        .order_by(SessionRow.starts_at)
                    )
                ).all()
            ]
            participations = [
                ParticipationHeld(
                    session_id=row.session_id,
                    network_id=network_id,
                    network=name,
                    timezone=tz,
                    starts_at=starts_at,
                    sources=Source(row.sources),
                    first_seen=row.first_seen,
                    last_seen=row.last_seen,
                    minutes=row.minutes,
                    name=row.display_name,
                    email=row.email,
                    tenant_id=row.tenant_id,
                    removed=row.removed,
                )
                for row, starts_at, network_id, name, tz in (
                    await session.execute(
                        select(
                            ParticipationRow,
                            SessionRow.starts_at,
                            SessionRow.network_id,
                            NetworkRow.name,
                            NetworkRow.timezone,
                        )
                        .join(SessionRow, SessionRow.id == ParticipationRow.session_id)
                        .join(NetworkRow, NetworkRow.id == SessionRow.network_id)
                        .where(_participant(subject))
                        .order_by(SessionRow.starts_at)
                    )
                ).all()
            ]
            refs = (
                await session.scalars(
                    select(ConversationRefRow)
                    .where(
                        or_(
                            _who(ConversationRefRow.user_id, ConversationRefRow.user_aad_id, subject),
                            _text_mentions(ConversationRefRow.reference, subject.ids),
                        )
                    )
                    .order_by(ConversationRefRow.updated_at)
                )
            ).all()
            chats = [
                ChatHeld(ref.conversation_id, ref.kind, ref.locale, ref.updated_at)
                for ref in refs
                if ref.kind == "personal" or mentions(ref.reference, subject.ids)
            ]
            drafts = [
                DraftHeld(row.id, name, tz, row.starts_at, row.status, row.created_at)
                for row, name, tz in (
                    await session.execute(
                        select(DraftRow, NetworkRow.name, NetworkRow.timezone)
                        .join(NetworkRow, NetworkRow.id == DraftRow.network_id)
                        .where(DraftRow.requested_by.in_(subject.ids))
                        .order_by(DraftRow.created_at, DraftRow.id)
                    )
                ).all()
            ]
            # Entries by the person, and entries whose details name them (what forget scrubs).
            ids = needles(subject)
            audit = [
                AuditHeld(row.at, row.action, row.subject)
                if row.actor_id in subject.ids
                else AuditHeld(row.at, row.action, row.subject, by_you=False, details=row.details)
                for row in (
                    await session.scalars(
                        select(AuditRow)
                        .where(
                            or_(
                                AuditRow.actor_id.in_(subject.ids),
                                AuditRow.details.is_not(None) & _text_mentions(AuditRow.details, ids),
                            )
                        )
                        .order_by(AuditRow.at, AuditRow.id)
                    )
                ).all()
                if row.actor_id in subject.ids or mentions(row.details, ids)
            ]
            events = [
                EventHeld(row.at, row.name, row.session_id, _listed_as(row.payload, subject))
                for row in (
                    await session.scalars(
                        select(MeetingEventRow)
                        .where(
                            MeetingEventRow.payload.is_not(None),
                            _text_mentions(MeetingEventRow.payload, ids),
                        )
                        .order_by(MeetingEventRow.at, MeetingEventRow.id)
                    )
                ).all()
                if mentions(row.payload, ids)
            ]
            reminders = await self._reminders(session, subject, rsvps, follows)
        return PersonalData(
            subject=subject,
            coordinates=tuple(coordinates),
            follows=tuple(follows),
            rsvps=tuple(rsvps),
            participations=tuple(participations),
            reminders=tuple(reminders),
            chats=tuple(chats),
            drafts=tuple(drafts),
            audit=tuple(audit),
            events=tuple(events),
        )

    async def _reminders(
        self,
        session: AsyncSession,
        subject: Subject,
        rsvps: Sequence[RsvpHeld],
        follows: Sequence[NetworkTie],
    ) -> list[ReminderHeld]:
        """Pending personal reminders of sessions this person is coming to or whose network they follow."""
        if not rsvps and not follows:
            return []
        jobs = (
            await session.scalars(
                select(JobRow)
                .where(
                    JobRow.kind == REMIND_PERSONAL,
                    JobRow.status.in_([JobStatus.PENDING.value, JobStatus.FAILED.value]),
                )
                .order_by(JobRow.due_at)
            )
        ).all()
        wanted: dict[int, JobRow] = {}
        for job in jobs:
            session_id = job.payload.get("session_id") if isinstance(job.payload, dict) else None
            if isinstance(session_id, int):
                wanted.setdefault(session_id, job)
        if not wanted:
            return []
        coming = {r.session_id for r in rsvps}
        followed = {f.network_id for f in follows}
        found: list[ReminderHeld] = []
        ids = list(wanted)
        for start in range(0, len(ids), BATCH):
            rows = (
                await session.execute(
                    select(
                        SessionRow.id,
                        SessionRow.network_id,
                        SessionRow.starts_at,
                        NetworkRow.name,
                        NetworkRow.timezone,
                    )
                    .join(NetworkRow, NetworkRow.id == SessionRow.network_id)
                    .where(SessionRow.id.in_(ids[start : start + BATCH]))
                )
            ).all()
            for session_id, network_id, starts_at, name, tz in rows:
                if session_id in coming or network_id in followed:
                    job = wanted[session_id]
                    found.append(ReminderHeld(job.id, session_id, name, tz, starts_at, job.due_at))
        return sorted(found, key=lambda r: r.due_at)

    # --- erasure -------------------------------------------------------------------------------

    async def _blockers(self, session: AsyncSession, subject: Subject) -> tuple[str, ...]:
        """Networks not yet ended of which ``subject`` is the only coordinator."""
        mine = select(CoordinatorRow.network_id).where(
            _who(CoordinatorRow.user_id, CoordinatorRow.aad_id, subject)
        )
        networks = (
            await session.execute(
                select(NetworkRow.id, NetworkRow.name).where(
                    NetworkRow.id.in_(mine), NetworkRow.status != "ended"
                )
            )
        ).all()
        blocked = []
        for network_id, name in networks:
            others = await session.scalar(
                select(func.count())
                .select_from(CoordinatorRow)
                .where(
                    CoordinatorRow.network_id == network_id,
                    not_(_who(CoordinatorRow.user_id, CoordinatorRow.aad_id, subject)),
                )
            )
            if not others:
                blocked.append(name)
        return tuple(sorted(blocked, key=str.casefold))

    async def blockers(self, subject: Subject) -> tuple[str, ...]:
        async with self._db.read() as session:
            return await self._blockers(session, subject)

    async def forget(self, subject: Subject, pseudonym: str, names: Sequence[str]) -> ForgetOutcome:
        found = needles(subject, names)
        counts: dict[str, int] = {}
        async with self._db.write() as session:
            blocked = await self._blockers(session, subject)
            if blocked:
                return ForgetOutcome(blocked=blocked)
            chats = list(
                (
                    await session.scalars(
                        select(ConversationRefRow.conversation_id).where(
                            ConversationRefRow.kind == "personal",
                            _who(ConversationRefRow.user_id, ConversationRefRow.user_aad_id, subject),
                        )
                    )
                ).all()
            )
            counts["participations_anonymised"] = await self._anonymise(session, _participant(subject))
            people: tuple[tuple[str, Any], ...] = (
                ("follows", FollowerRow),
                ("rsvps", RsvpRow),
                ("coordinator_roles", CoordinatorRow),
            )
            for name, model in people:
                counts[name] = _count(
                    await session.execute(delete(model).where(_who(model.user_id, model.aad_id, subject)))
                )
            counts["chats"] = _count(
                await session.execute(
                    delete(ConversationRefRow).where(ConversationRefRow.conversation_id.in_(chats))
                )
            )
            counts["drafts"] = _count(
                await session.execute(
                    update(DraftRow)
                    .where(DraftRow.requested_by.in_(subject.ids))
                    .values(requested_by=pseudonym)
                )
            )
            counts["audit_entries"] = _count(
                await session.execute(
                    update(AuditRow).where(AuditRow.actor_id.in_(subject.ids)).values(actor_id=pseudonym)
                )
            )
            counts["poll_answers_rekeyed"] = await self._rekey_votes(session, subject)
            counts["sent_messages"] = await self._forget_sent(session, subject, chats)
            counts["processed_messages"] = await self._forget_inbound(session, chats, found)
            # Ids and names inside stored JSON: the audit log's details, meeting events (who joined),
            # other conversations' references (their last sender) and any job payload.
            scrubbed = 0
            for model, column in (
                (AuditRow, AuditRow.details),
                (MeetingEventRow, MeetingEventRow.payload),
                (ConversationRefRow, ConversationRefRow.reference),
                (JobRow, JobRow.payload),
            ):
                scrubbed += await self._scrub_json(session, model, column, found, pseudonym)
            counts["texts_scrubbed"] = scrubbed
        return ForgetOutcome(pseudonym=pseudonym, counts=counts)

    async def _anonymise(
        self, session: AsyncSession, which: ColumnElement[bool], limit: int | None = None
    ) -> int:
        """Participations matching ``which`` keep their counts and lose the person."""
        query = select(ParticipationRow.session_id, ParticipationRow.participant_key).where(
            which, not_(ParticipationRow.participant_key.startswith(ANON_PREFIX, autoescape=True))
        )
        if limit is not None:
            query = query.limit(limit)
        rows = (await session.execute(query)).all()
        for session_id, key in rows:
            await session.execute(
                update(ParticipationRow)
                .where(ParticipationRow.session_id == session_id, ParticipationRow.participant_key == key)
                .values(
                    participant_key=f"{ANON_PREFIX}{secrets.token_hex(16)}",
                    user_id=None,
                    display_name="",
                    email=None,
                )
            )
        return len(rows)

    async def _rekey_votes(self, session: AsyncSession, subject: Subject) -> int:
        """In polls still open, the person's voter keys could be recomputed with the poll's secret:
        replace them by random ones (the answers stay, unlinkable)."""
        polls = (
            await session.execute(
                select(PollRow.id, PollRow.secret).where(
                    PollRow.status == PollStatus.OPEN.value, PollRow.secret.is_not(None)
                )
            )
        ).all()
        changed = 0
        for poll_id, secret in polls:
            if secret is None:
                continue
            for key in subject.participant_keys:
                theirs = voter_key(secret, key)
                anonymous = secrets.token_hex(32)
                for model in (VoteRow, PollCommentRow):
                    changed += _count(
                        await session.execute(
                            update(model)
                            .where(model.poll_id == poll_id, model.voter_key == theirs)
                            .values(voter_key=anonymous)
                        )
                    )
        return changed

    async def _forget_sent(self, session: AsyncSession, subject: Subject, chats: Sequence[str]) -> int:
        """Records of messages sent to the person: keyed by their id, or in their personal chat."""
        conditions = [SentMessageRow.key.endswith(f":{user_id}", autoescape=True) for user_id in subject.ids]
        if chats:
            conditions.append(SentMessageRow.conversation_id.in_(list(chats)))
        return _count(await session.execute(delete(SentMessageRow).where(or_(*conditions))))

    async def _forget_inbound(self, session: AsyncSession, chats: Sequence[str], found: Sequence[str]) -> int:
        """Processed activities of the personal chat go; stored answers naming the person are dropped
        (they only serve a redelivery within hours, which then gets an empty 200)."""
        count = 0
        for chat in chats:
            count += _count(
                await session.execute(
                    delete(InboundActivityRow).where(
                        InboundActivityRow.activity_key.startswith(f"{chat}|", autoescape=True)
                    )
                )
            )
        if found:
            rows = (
                await session.execute(
                    select(InboundActivityRow.activity_key, InboundActivityRow.response).where(
                        InboundActivityRow.response.is_not(None),
                        _text_mentions(InboundActivityRow.response, found),
                    )
                )
            ).all()
            keys = [key for key, response in rows if mentions(response, found)]
            for start in range(0, len(keys), BATCH):
                count += _count(
                    await session.execute(
                        update(InboundActivityRow)
                        .where(InboundActivityRow.activity_key.in_(keys[start : start + BATCH]))
                        .values(response=null())
                    )
                )
        return count

    async def _scrub_json(
        self, session: AsyncSession, model: Any, column: Any, found: Sequence[str], pseudonym: str
    ) -> int:
        if not found:
            return 0
        primary = model.__table__.primary_key.columns.values()
        rows = (
            await session.execute(
                select(*primary, column).where(column.is_not(None), _text_mentions(column, found))
            )
        ).all()
        changed = 0
        for row in rows:
            *ids, value = row
            if not mentions(value, found):
                continue
            where = [key_column == key for key_column, key in zip(primary, ids, strict=True)]
            await session.execute(
                update(model).where(*where).values({column.key: scrub(value, found, pseudonym)})
            )
            changed += 1
        return changed

    async def forget_conversation(self, conversation_id: str, team_id: str | None = None) -> Sequence[int]:
        def there(column: Any, conversations: Sequence[str]) -> ColumnElement[bool]:
            conditions = [column.in_(list(conversations))]
            for conversation in conversations:
                thread = f"{conversation};"
                # SQLite's LIKE ignores ASCII case: substr keeps the prefix exact there too.
                conditions.append(
                    column.startswith(thread, autoescape=True)
                    & (func.substr(column, 1, len(thread)) == thread)
                )
            return or_(*conditions)

        async with self._db.write() as session:
            conversations = [conversation_id]
            if team_id is not None:
                # Every channel of the team the bot has spoken in: its reference names the team.
                channels = await session.execute(
                    select(ConversationRefRow.conversation_id, ConversationRefRow.reference).where(
                        ConversationRefRow.kind == "channel"
                    )
                )
                conversations += sorted(
                    {
                        str(channel).split(";", 1)[0]
                        for channel, reference in channels.all()
                        if _team_of(reference) == team_id
                    }
                    | {team_id}  # the General channel's id is the team's
                )
            await session.execute(
                delete(ConversationRefRow).where(there(ConversationRefRow.conversation_id, conversations))
            )
            result = await session.execute(
                update(NetworkRow)
                .where(there(NetworkRow.home_conversation_id, conversations))
                .values(home_conversation_id=None)
                .returning(NetworkRow.id)
            )
            return sorted(int(network_id) for (network_id,) in result.all())

    # --- retention -----------------------------------------------------------------------------

    async def anonymise_participations(self, sessions_before: datetime) -> int:
        old_sessions = select(SessionRow.id).where(SessionRow.starts_at < as_utc(sessions_before))
        total = 0
        while True:
            async with self._db.write() as session:
                done = await self._anonymise(
                    session, ParticipationRow.session_id.in_(old_sessions), limit=BATCH
                )
            total += done
            if done < BATCH:
                return total

    async def purge_audit(self, before: datetime) -> int:
        async with self._db.write() as session:
            return _count(await session.execute(delete(AuditRow).where(AuditRow.at < as_utc(before))))

    async def purge_sent(self, before: datetime, now: datetime) -> int:
        async with self._db.read() as session:
            old = list(
                (
                    await session.scalars(
                        select(SentMessageRow.key).where(SentMessageRow.sent_at < as_utc(before))
                    )
                ).all()
            )
            upcoming = (
                await session.scalars(select(SessionRow.id).where(SessionRow.ends_at > as_utc(now)))
            ).all()
        keep = {f"announce:{session_id}" for session_id in upcoming}
        doomed = [key for key in old if key not in keep]
        total = 0
        for start in range(0, len(doomed), BATCH):
            async with self._db.write() as session:
                total += _count(
                    await session.execute(
                        delete(SentMessageRow).where(SentMessageRow.key.in_(doomed[start : start + BATCH]))
                    )
                )
        return total

    async def purge_rsvps(self, sessions_ended_before: datetime) -> int:
        ended = select(SessionRow.id).where(SessionRow.ends_at < as_utc(sessions_ended_before))
        async with self._db.write() as session:
            return _count(await session.execute(delete(RsvpRow).where(RsvpRow.session_id.in_(ended))))

    async def purge_drafts(self, before: datetime) -> int:
        async with self._db.write() as session:
            return _count(await session.execute(delete(DraftRow).where(DraftRow.created_at < as_utc(before))))

    async def clear_event_payloads(self, before: datetime) -> int:
        statement = (
            update(MeetingEventRow)
            .where(MeetingEventRow.at < as_utc(before), MeetingEventRow.payload.is_not(None))
            .values(payload=null())
        )
        async with self._db.write() as session:
            return _count(await session.execute(statement))

    async def purge_poll_comments(self, polls_closed_before: datetime) -> int:
        closed = select(PollRow.id).where(
            PollRow.status == PollStatus.CLOSED.value, PollRow.closed_at < as_utc(polls_closed_before)
        )
        async with self._db.write() as session:
            return _count(
                await session.execute(delete(PollCommentRow).where(PollCommentRow.poll_id.in_(closed)))
            )

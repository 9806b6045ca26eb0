"""SQL implementation of :class:`domain.ports.ParticipationStore`."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, distinct, func, select, update

from domain.cadence import HeldSession
from domain.participation import (
    Attendance,
    MeetingEvent,
    NetworkSummary,
    Participation,
    Source,
    organisation_of,
)
from storage.db import Database
from storage.models import ConversationRefRow
from storage.network_models import SessionRow
from storage.participation_models import MeetingEventRow, ParticipationRow
from storage.repositories import dialect_insert
from storage.types import as_utc


def _participation(row: ParticipationRow) -> Participation:
    return Participation(
        session_id=row.session_id,
        key=row.participant_key,
        user_id=row.user_id,
        name=row.display_name,
        organisation=organisation_of(row.email, row.tenant_id),
        sources=Source(row.sources),
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        minutes=row.minutes,
    )


def _event(row: MeetingEventRow) -> MeetingEvent:
    return MeetingEvent(
        event_key=row.event_key,
        conversation_id=row.conversation_id,
        name=row.name,
        at=row.at,
        meeting_id=row.meeting_id,
        join_url=row.join_url,
        session_id=row.session_id,
        payload=row.payload,
    )


class SqlParticipationStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, attendance: Attendance) -> None:
        table = ParticipationRow.__table__.c
        seen = as_utc(attendance.seen_at)
        last = as_utc(attendance.left_at or attendance.seen_at)
        insert = dialect_insert(self._db, ParticipationRow).values(
            session_id=attendance.session_id,
            participant_key=attendance.key,
            user_id=attendance.user_id,
            display_name=attendance.name,
            tenant_id=attendance.tenant_id,
            email=attendance.email,
            sources=int(attendance.source),
            first_seen=seen,
            last_seen=last,
            minutes=attendance.minutes,
            removed=False,
        )
        new = insert.excluded
        # One statement merges any source into the row: earliest first seen, latest last seen,
        # the longest total, every source's bit. A coordinator's removal sticks unless a
        # coordinator adds the person back.
        statement = insert.on_conflict_do_update(
            index_elements=[table.session_id, table.participant_key],
            set_={
                "user_id": func.coalesce(table.user_id, new.user_id),
                "display_name": case((new.display_name != "", new.display_name), else_=table.display_name),
                "tenant_id": func.coalesce(new.tenant_id, table.tenant_id),
                "email": func.coalesce(new.email, table.email),
                "sources": table.sources.op("|")(new.sources),
                "first_seen": case(
                    (new.first_seen < table.first_seen, new.first_seen), else_=table.first_seen
                ),
                "last_seen": case((new.last_seen > table.last_seen, new.last_seen), else_=table.last_seen),
                "minutes": case((new.minutes > table.minutes, new.minutes), else_=table.minutes),
                "removed": table.removed & (new.sources.op("&")(int(Source.COORDINATOR)) == 0),
            },
        )
        async with self._db.write() as session:
            await session.execute(statement)

    async def remove(self, session_id: int, key: str) -> bool:
        statement = (
            update(ParticipationRow)
            .where(
                ParticipationRow.session_id == session_id,
                ParticipationRow.participant_key == key,
                ParticipationRow.removed.is_(False),
            )
            .values(removed=True)
        )
        async with self._db.write() as session:
            result = await session.execute(statement)
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def known_key(self, user_id: str) -> str | None:
        """The ledger key of the person with this Teams user id, as earlier rows or a conversation
        reference know them (a Teams @mention names the user id only, never the Entra object id)."""
        async with self._db.read() as session:
            key = await session.scalar(
                select(ParticipationRow.participant_key)
                .where(ParticipationRow.user_id == user_id)
                .order_by(ParticipationRow.last_seen.desc())
                .limit(1)
            )
            if key is not None:
                return str(key)
            aad_id = await session.scalar(
                select(ConversationRefRow.user_aad_id)
                .where(ConversationRefRow.user_id == user_id, ConversationRefRow.user_aad_id.is_not(None))
                .limit(1)
            )
        return str(aad_id).lower() if aad_id else None

    async def for_session(self, session_id: int) -> Sequence[Participation]:
        query = (
            select(ParticipationRow)
            .where(ParticipationRow.session_id == session_id, ParticipationRow.removed.is_(False))
            .order_by(ParticipationRow.first_seen)
        )
        async with self._db.read() as session:
            return [_participation(row) for row in (await session.scalars(query)).all()]

    async def for_network(self, network_id: int) -> Sequence[Participation]:
        query = (
            select(ParticipationRow)
            .join(SessionRow, SessionRow.id == ParticipationRow.session_id)
            .where(SessionRow.network_id == network_id, ParticipationRow.removed.is_(False))
        )
        async with self._db.read() as session:
            return [_participation(row) for row in (await session.scalars(query)).all()]

    async def mark_held(
        self, session_id: int, held_from: datetime | None, held_until: datetime | None
    ) -> None:
        values: dict[str, object] = {"status": "held"}
        if held_from is not None:
            values["held_from"] = as_utc(held_from)
        if held_until is not None:
            values["held_until"] = as_utc(held_until)
        async with self._db.write() as session:
            await session.execute(
                update(SessionRow)
                .where(SessionRow.id == session_id, SessionRow.status != "cancelled")
                .values(values)
            )

    async def add_event(self, event: MeetingEvent) -> bool:
        statement = (
            dialect_insert(self._db, MeetingEventRow)
            .values(
                event_key=event.event_key,
                conversation_id=event.conversation_id,
                meeting_id=event.meeting_id,
                join_url=event.join_url,
                name=event.name[:80],
                at=as_utc(event.at),
                session_id=event.session_id,
                payload=event.payload,
            )
            .on_conflict_do_nothing(index_elements=[MeetingEventRow.event_key])
            .returning(MeetingEventRow.id)
        )
        async with self._db.write() as session:
            return (await session.execute(statement)).first() is not None

    async def unmatched_events(self, conversation_id: str) -> Sequence[MeetingEvent]:
        query = (
            select(MeetingEventRow)
            .where(MeetingEventRow.conversation_id == conversation_id, MeetingEventRow.session_id.is_(None))
            .order_by(MeetingEventRow.at)
        )
        async with self._db.read() as session:
            return [_event(row) for row in (await session.scalars(query)).all()]

    async def attach_events(self, conversation_id: str, meeting_id: str | None, session_id: int) -> int:
        statement = update(MeetingEventRow).where(
            MeetingEventRow.conversation_id == conversation_id, MeetingEventRow.session_id.is_(None)
        )
        if meeting_id is not None:
            statement = statement.where(MeetingEventRow.meeting_id == meeting_id)
        async with self._db.write() as session:
            result = await session.execute(statement.values(session_id=session_id))
            return int(result.rowcount)  # type: ignore[attr-defined]

    async def summaries(self, start: datetime, end: datetime) -> Sequence[NetworkSummary]:
        in_period = (SessionRow.starts_at >= as_utc(start)) & (SessionRow.starts_at < as_utc(end))
        counted = ParticipationRow.removed.is_(False)
        people = (
            select(
                SessionRow.network_id,
                func.count(distinct(ParticipationRow.session_id)).label("held"),
                func.count().label("participations"),
                func.count(distinct(ParticipationRow.participant_key)).label("unique"),
            )
            .join(SessionRow, SessionRow.id == ParticipationRow.session_id)
            .where(in_period, counted)
            .group_by(SessionRow.network_id)
        )
        held = (
            select(SessionRow.network_id, func.count().label("held"))
            .where(in_period, SessionRow.status == "held")
            .group_by(SessionRow.network_id)
        )
        async with self._db.read() as session:
            rows = (await session.execute(people)).all()
            marked: dict[int, int] = {row[0]: row[1] for row in (await session.execute(held)).all()}
        result = {
            network_id: NetworkSummary(network_id, max(sessions, marked.get(network_id, 0)), total, unique)
            for network_id, sessions, total, unique in rows
        }
        for network_id, count in marked.items():
            result.setdefault(network_id, NetworkSummary(network_id, count, 0, 0))
        return sorted(result.values(), key=lambda s: s.network_id)

    async def cadence_inputs(
        self, since: datetime, now: datetime
    ) -> dict[int, tuple[list[HeldSession], list[datetime]]]:
        """One query for every network: past sessions with their participant counts, future starts.

        A past session that was not cancelled counts as held: most sessions leave no trace in
        Teams events or check-ins, and their coordinators would cancel those that did not happen.
        """
        query = (
            select(SessionRow.network_id, SessionRow.starts_at, func.count(ParticipationRow.participant_key))
            .outerjoin(
                ParticipationRow,
                (ParticipationRow.session_id == SessionRow.id) & ParticipationRow.removed.is_(False),
            )
            .where(SessionRow.status != "cancelled", SessionRow.starts_at >= as_utc(since))
            .group_by(SessionRow.id, SessionRow.network_id, SessionRow.starts_at)
        )
        async with self._db.read() as session:
            rows = (await session.execute(query)).all()
        result: dict[int, tuple[list[HeldSession], list[datetime]]] = {}
        for network_id, starts_at, count in rows:
            held, scheduled = result.setdefault(network_id, ([], []))
            if starts_at <= now:
                held.append(HeldSession(starts_at, int(count)))
            else:
                scheduled.append(starts_at)
        return result

    async def anonymise_network(self, network_id: int) -> int:
        """Keep one row per participation, with nothing left of the person: counts survive."""
        sessions = select(SessionRow.id).where(SessionRow.network_id == network_id).scalar_subquery()
        async with self._db.write() as session:
            rows = (
                await session.execute(
                    select(ParticipationRow.session_id, ParticipationRow.participant_key).where(
                        ParticipationRow.session_id.in_(sessions), ParticipationRow.user_id.is_not(None)
                    )
                )
            ).all()
            for session_id, key in rows:
                await session.execute(
                    update(ParticipationRow)
                    .where(ParticipationRow.session_id == session_id, ParticipationRow.participant_key == key)
                    .values(
                        participant_key=f"anon:{secrets.token_hex(16)}",
                        user_id=None,
                        display_name="",
                        email=None,
                    )
                )
        return len(rows)

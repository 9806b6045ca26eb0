"""SQL implementations of :class:`domain.ports.NetworkStore` and :class:`domain.ports.SessionStore`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from domain.networks import (
    Cadence,
    Coordinator,
    DuplicateName,
    Lang,
    Network,
    NetworkKind,
    NetworkStatus,
    fold,
)
from domain.sessions import (
    Draft,
    DraftStatus,
    NewSession,
    Person,
    Series,
    Session,
    SessionStatus,
)
from storage.db import Database
from storage.models import ConversationRefRow
from storage.network_models import (
    CoordinatorRow,
    DraftRow,
    FollowerRow,
    NetworkRow,
    RsvpRow,
    SeriesRow,
    SessionRow,
)
from storage.repositories import _insert
from storage.types import as_utc


def _network(row: NetworkRow, coordinators: Sequence[CoordinatorRow]) -> Network:
    lang: Lang = row.lang  # type: ignore[assignment]  # written from a Lang only
    return Network(
        id=row.id,
        slug=row.slug,
        name=row.name,
        lang=lang,
        cadence=Cadence.from_code(row.cadence),
        kind=NetworkKind(row.kind),
        status=NetworkStatus(row.status),
        timezone=row.timezone,
        created_at=row.created_at,
        home_conversation_id=row.home_conversation_id,
        ends_on=row.ends_on,
        description=row.description,
        join_text=row.join_text,
        public_counts=row.public_counts,
        coordinators=tuple(Coordinator(c.user_id, c.name, c.aad_id) for c in coordinators),
    )


class SqlNetworkStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, network: Network, creator: Coordinator) -> Network:
        row = NetworkRow(
            slug=network.slug,
            name=network.name,
            name_key=fold(network.name),
            lang=network.lang,
            cadence=network.cadence.code(),
            kind=network.kind.value,
            status=network.status.value,
            timezone=network.timezone,
            home_conversation_id=network.home_conversation_id,
            ends_on=network.ends_on,
            description=network.description,
            join_text=network.join_text,
            public_counts=network.public_counts,
            created_at=as_utc(network.created_at),
        )
        try:
            async with self._db.write() as session:
                session.add(row)
                await session.flush()
                session.add(
                    CoordinatorRow(
                        network_id=row.id,
                        user_id=creator.user_id,
                        name=creator.name,
                        aad_id=creator.aad_id,
                        added_at=as_utc(network.created_at),
                    )
                )
        except IntegrityError as error:
            raise DuplicateName(name=network.name) from error
        found = await self.get(row.id)
        assert found is not None
        return found

    async def get(self, network_id: int) -> Network | None:
        async with self._db.read() as session:
            row = await session.get(NetworkRow, network_id)
            if row is None:
                return None
            coordinators = (
                await session.scalars(
                    select(CoordinatorRow)
                    .where(CoordinatorRow.network_id == network_id)
                    .order_by(CoordinatorRow.added_at)
                )
            ).all()
        return _network(row, coordinators)

    async def all(self, statuses: Sequence[str] | None = None) -> Sequence[Network]:
        query = select(NetworkRow).order_by(NetworkRow.name_key)
        if statuses:
            query = query.where(NetworkRow.status.in_(list(statuses)))
        async with self._db.read() as session:
            rows = (await session.scalars(query)).all()
            coordinators = (
                await session.scalars(select(CoordinatorRow).order_by(CoordinatorRow.added_at))
            ).all()
        by_network: dict[int, list[CoordinatorRow]] = {}
        for coordinator in coordinators:
            by_network.setdefault(coordinator.network_id, []).append(coordinator)
        return [_network(row, by_network.get(row.id, [])) for row in rows]

    async def save(self, network: Network) -> None:
        values = {
            "name": network.name,
            "name_key": fold(network.name),
            "lang": network.lang,
            "cadence": network.cadence.code(),
            "kind": network.kind.value,
            "status": network.status.value,
            "timezone": network.timezone,
            "home_conversation_id": network.home_conversation_id,
            "ends_on": network.ends_on,
            "description": network.description,
            "join_text": network.join_text,
            "public_counts": network.public_counts,
        }
        try:
            async with self._db.write() as session:
                await session.execute(update(NetworkRow).where(NetworkRow.id == network.id).values(values))
        except IntegrityError as error:
            raise DuplicateName(name=network.name) from error

    async def add_coordinator(self, network_id: int, coordinator: Coordinator, at: datetime) -> bool:
        return await _insert_new(
            self._db,
            CoordinatorRow,
            network_id=network_id,
            user_id=coordinator.user_id,
            name=coordinator.name,
            aad_id=coordinator.aad_id,
            added_at=as_utc(at),
        )

    async def remove_coordinator(self, network_id: int, user_id: str) -> bool:
        async with self._db.write() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(CoordinatorRow)
                .where(CoordinatorRow.network_id == network_id)
            )
            if (count or 0) <= 1:
                return False
            result = await session.execute(
                delete(CoordinatorRow).where(
                    CoordinatorRow.network_id == network_id, CoordinatorRow.user_id == user_id
                )
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]


async def _insert_new(db: Database, model: type[Any], **values: object) -> bool:
    """Insert a row unless its key is taken; True if it was new (the idempotent writes here)."""
    async with db.write() as session:
        result = await session.execute(_insert(db, model).values(**values).on_conflict_do_nothing())
        return bool(result.rowcount)  # type: ignore[attr-defined]


def _draft(row: DraftRow) -> Draft:
    return Draft(
        id=row.id,
        network_id=row.network_id,
        requested_by=row.requested_by,
        starts_at=row.starts_at,
        duration=timedelta(minutes=row.duration_minutes),
        topic=row.topic,
        join_url=row.join_url,
        rrule=row.rrule,
        until=row.until,
        count=row.count,
        status=DraftStatus(row.status),
        created_at=row.created_at,
        warnings=tuple(row.warnings or ()),
    )


def _series(row: SeriesRow) -> Series:
    return Series(
        id=row.id,
        network_id=row.network_id,
        draft_id=row.draft_id,
        rrule=row.rrule,
        first_start=row.first_start,
        duration=timedelta(minutes=row.duration_minutes),
        topic=row.topic,
        join_url=row.join_url,
        until=row.until,
        count=row.count,
        timezone=row.timezone,
        cancelled=row.cancelled,
    )


def _session(row: SessionRow) -> Session:
    return Session(
        id=row.id,
        network_id=row.network_id,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        topic=row.topic,
        join_url=row.join_url,
        status=SessionStatus(row.status),
        series_id=row.series_id,
        draft_id=row.draft_id,
        meeting_id=row.meeting_id,
        occurrence=row.occurrence,
    )


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


class SqlSessionStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_draft(self, draft: Draft) -> Draft:
        row = DraftRow(
            network_id=draft.network_id,
            requested_by=draft.requested_by,
            starts_at=as_utc(draft.starts_at),
            duration_minutes=_minutes(draft.duration),
            topic=draft.topic,
            join_url=draft.join_url,
            rrule=draft.rrule,
            until=draft.until,
            count=draft.count,
            status=draft.status.value,
            warnings=list(draft.warnings),
            created_at=as_utc(draft.created_at),
        )
        async with self._db.write() as session:
            session.add(row)
        return _draft(row)

    async def get_draft(self, draft_id: int) -> Draft | None:
        async with self._db.read() as session:
            row = await session.get(DraftRow, draft_id)
        return _draft(row) if row else None

    async def set_draft_status(self, draft_id: int, old: DraftStatus, new: DraftStatus) -> bool:
        statement = (
            update(DraftRow)
            .where(DraftRow.id == draft_id, DraftRow.status == old.value)
            .values(status=new.value)
        )
        async with self._db.write() as session:
            result = await session.execute(statement)
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def add_series(self, series: Series) -> Series:
        statement = (
            _insert(self._db, SeriesRow)
            .values(
                network_id=series.network_id,
                draft_id=series.draft_id,
                rrule=series.rrule,
                first_start=as_utc(series.first_start),
                duration_minutes=_minutes(series.duration),
                topic=series.topic,
                join_url=series.join_url,
                until=series.until,
                count=series.count,
                timezone=series.timezone,
                cancelled=False,
            )
            .on_conflict_do_nothing(index_elements=[SeriesRow.draft_id])
        )
        async with self._db.write() as session:
            await session.execute(statement)
            row = await session.scalar(select(SeriesRow).where(SeriesRow.draft_id == series.draft_id))
        assert row is not None
        return _series(row)

    async def get_series(self, series_id: int) -> Series | None:
        async with self._db.read() as session:
            row = await session.get(SeriesRow, series_id)
        return _series(row) if row else None

    async def cancel_series(self, series_id: int) -> bool:
        async with self._db.write() as session:
            result = await session.execute(
                update(SeriesRow)
                .where(SeriesRow.id == series_id, SeriesRow.cancelled.is_(False))
                .values(cancelled=True)
            )
        return bool(getattr(result, "rowcount", 0))

    async def active_series(self) -> Sequence[Series]:
        async with self._db.read() as session:
            rows = (await session.scalars(select(SeriesRow).where(SeriesRow.cancelled.is_(False)))).all()
        return [_series(row) for row in rows]

    async def add_sessions(self, sessions: Sequence[NewSession], at: datetime) -> Sequence[Session]:
        """Insert each session unless it exists; return them all (new and old) in start order."""
        if not sessions:
            return []
        created = as_utc(at)
        values = [
            {
                "network_id": new.network_id,
                "series_id": new.series_id,
                "occurrence": as_utc(new.starts_at) if new.series_id else None,
                "draft_id": new.draft_id,
                "starts_at": as_utc(new.starts_at),
                "ends_at": as_utc(new.ends_at),
                "topic": new.topic,
                "join_url": new.join_url,
                "status": SessionStatus.SCHEDULED.value,
                "created_at": created,
            }
            for new in sessions
        ]
        async with self._db.write() as session:
            # One executemany, not a statement per session: the daily extension runs this for
            # every series, and each statement is a round trip to the database (thread).
            await session.execute(_insert(self._db, SessionRow).on_conflict_do_nothing(), values)
            conditions = [
                and_(SessionRow.series_id == new.series_id, SessionRow.occurrence == as_utc(new.starts_at))
                if new.series_id
                else SessionRow.draft_id == new.draft_id
                for new in sessions
            ]
            rows: list[SessionRow] = []
            for start in range(0, len(conditions), 200):
                chunk = conditions[start : start + 200]
                rows += (await session.scalars(select(SessionRow).where(or_(*chunk)))).all()
        return sorted((_session(row) for row in rows), key=lambda s: s.starts_at)

    async def get(self, session_id: int) -> Session | None:
        async with self._db.read() as session:
            row = await session.get(SessionRow, session_id)
        return _session(row) if row else None

    async def for_network(
        self, network_id: int, start: datetime | None = None, end: datetime | None = None
    ) -> Sequence[Session]:
        query = select(SessionRow).where(SessionRow.network_id == network_id).order_by(SessionRow.starts_at)
        if start is not None:
            query = query.where(SessionRow.ends_at >= as_utc(start))
        if end is not None:
            query = query.where(SessionRow.starts_at < as_utc(end))
        async with self._db.read() as session:
            rows = (await session.scalars(query)).all()
        return [_session(row) for row in rows]

    async def next_sessions(self, now: datetime) -> dict[int, Session]:
        first = (
            select(SessionRow.network_id, func.min(SessionRow.starts_at).label("first"))
            .where(SessionRow.starts_at >= as_utc(now), SessionRow.status == SessionStatus.SCHEDULED.value)
            .group_by(SessionRow.network_id)
            .subquery()
        )
        query = select(SessionRow).join(
            first, and_(SessionRow.network_id == first.c.network_id, SessionRow.starts_at == first.c.first)
        )
        async with self._db.read() as session:
            rows = (await session.scalars(query)).all()
        return {row.network_id: _session(row) for row in rows if row.status == SessionStatus.SCHEDULED.value}

    async def set_status(self, session_id: int, status: SessionStatus) -> None:
        async with self._db.write() as session:
            await session.execute(
                update(SessionRow).where(SessionRow.id == session_id).values(status=status.value)
            )

    async def move(self, session_id: int, starts_at: datetime, ends_at: datetime) -> None:
        async with self._db.write() as session:
            await session.execute(
                update(SessionRow)
                .where(SessionRow.id == session_id)
                .values(starts_at=as_utc(starts_at), ends_at=as_utc(ends_at))
            )

    async def rsvp(self, session_id: int, person: Person, at: datetime) -> bool:
        return await _insert_new(
            self._db,
            RsvpRow,
            session_id=session_id,
            user_id=person.user_id,
            name=person.name,
            aad_id=person.aad_id,
            at=as_utc(at),
        )

    async def unrsvp(self, session_id: int, user_id: str) -> bool:
        async with self._db.write() as session:
            result = await session.execute(
                delete(RsvpRow).where(RsvpRow.session_id == session_id, RsvpRow.user_id == user_id)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def coming(self, session_id: int) -> Sequence[Person]:
        async with self._db.read() as session:
            rows = (
                await session.scalars(
                    select(RsvpRow).where(RsvpRow.session_id == session_id).order_by(RsvpRow.at)
                )
            ).all()
        return [Person(row.user_id, row.name, row.aad_id) for row in rows]

    async def follow(self, network_id: int, person: Person, at: datetime) -> bool:
        return await _insert_new(
            self._db,
            FollowerRow,
            network_id=network_id,
            user_id=person.user_id,
            name=person.name,
            aad_id=person.aad_id,
            since=as_utc(at),
        )

    async def unfollow(self, network_id: int, user_id: str) -> bool:
        async with self._db.write() as session:
            result = await session.execute(
                delete(FollowerRow).where(
                    FollowerRow.network_id == network_id, FollowerRow.user_id == user_id
                )
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def followers(self, network_id: int) -> Sequence[Person]:
        async with self._db.read() as session:
            rows = (
                await session.scalars(
                    select(FollowerRow)
                    .where(FollowerRow.network_id == network_id)
                    .order_by(FollowerRow.since)
                )
            ).all()
        return [Person(row.user_id, row.name, row.aad_id) for row in rows]

    async def is_following(self, network_id: int, user_id: str) -> bool:
        async with self._db.read() as session:
            row = await session.get(FollowerRow, (network_id, user_id))
        return row is not None

    async def by_meeting(
        self, meeting_id: str | None, join_url: str | None, near: datetime, window: timedelta
    ) -> Session | None:
        """The session of this meeting id or join link starting nearest to ``near`` (within ``window``).

        A weekly series often shares one join link (and so one meeting id): every session of the
        series matches, and the event belongs to the one running at the time. A meeting id learnt
        from one session's event counts for every session sharing that session's join link.
        """
        conditions = []
        if meeting_id:
            conditions.append(SessionRow.meeting_id == meeting_id)
            same_link = select(SessionRow.join_url).where(
                SessionRow.meeting_id == meeting_id, SessionRow.join_url.is_not(None)
            )
            conditions.append(SessionRow.join_url.in_(same_link))
        if join_url:
            conditions.append(SessionRow.join_url == join_url)
        if not conditions:
            return None
        query = select(SessionRow).where(
            or_(*conditions),
            SessionRow.status != "cancelled",
            SessionRow.starts_at >= as_utc(near - window),
            SessionRow.starts_at <= as_utc(near + window),
        )
        async with self._db.read() as session:
            rows = (await session.scalars(query)).all()
        if not rows:
            return None
        best = min(rows, key=lambda row: (abs(as_utc(row.starts_at) - as_utc(near)), row.id))
        return _session(best)

    async def set_meeting(self, session_id: int, meeting_id: str, join_url: str | None = None) -> None:
        values: dict[str, str] = {"meeting_id": meeting_id}
        if join_url:
            values["join_url"] = join_url
        async with self._db.write() as session:
            await session.execute(update(SessionRow).where(SessionRow.id == session_id).values(values))

    async def personal_conversations(self, user_ids: Sequence[str]) -> dict[str, str]:
        """The 1:1 conversation with each user who has the app installed personally.

        An id may be a Teams user id or an Entra object id (administrators are configured by
        either); the answer is keyed by the id as asked."""
        if not user_ids:
            return {}
        wanted = list(user_ids)
        async with self._db.read() as session:
            rows = (
                await session.execute(
                    select(
                        ConversationRefRow.user_id,
                        ConversationRefRow.user_aad_id,
                        ConversationRefRow.conversation_id,
                    ).where(
                        ConversationRefRow.kind == "personal",
                        or_(
                            ConversationRefRow.user_id.in_(wanted),
                            ConversationRefRow.user_aad_id.in_(wanted),
                        ),
                    )
                )
            ).all()
        found: dict[str, str] = {}
        for user_id, aad_id, conversation_id in rows:
            for key in (user_id, aad_id):
                if key and key in wanted:
                    found[key] = conversation_id
        return {key: found[key] for key in wanted if key in found}

"""SQL implementation of :class:`domain.ports.PollStore`."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update

from domain.polls import DEFAULT_QUESTIONS, Poll, PollSettings, PollStatus
from storage.db import Database
from storage.poll_models import PollCommentRow, PollRow, PollSettingsRow, VoteRow
from storage.repositories import dialect_insert
from storage.types import as_utc


def _poll(row: PollRow) -> Poll:
    return Poll(
        id=row.id,
        session_id=row.session_id,
        network_id=row.network_id,
        questions=tuple(row.questions),
        comments=row.comments,
        status=PollStatus(row.status),
        opened_at=row.opened_at,
        closes_at=row.closes_at,
        secret=row.secret,
    )


class SqlPollStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def settings(self, network_id: int) -> PollSettings:
        async with self._db.read() as session:
            row = await session.get(PollSettingsRow, network_id)
        if row is None:
            return PollSettings(DEFAULT_QUESTIONS, False)
        return PollSettings(tuple(row.questions), row.comments)

    async def save_settings(self, network_id: int, settings: PollSettings) -> None:
        insert = dialect_insert(self._db, PollSettingsRow).values(
            network_id=network_id, questions=list(settings.questions), comments=settings.comments
        )
        statement = insert.on_conflict_do_update(
            index_elements=[PollSettingsRow.network_id],
            set_={"questions": insert.excluded.questions, "comments": insert.excluded.comments},
        )
        async with self._db.write() as session:
            await session.execute(statement)

    async def open(self, poll: Poll) -> Poll:
        statement = (
            dialect_insert(self._db, PollRow)
            .values(
                session_id=poll.session_id,
                network_id=poll.network_id,
                questions=list(poll.questions),
                comments=poll.comments,
                status=PollStatus.OPEN.value,
                opened_at=as_utc(poll.opened_at),
                closes_at=as_utc(poll.closes_at),
                secret=poll.secret,
            )
            .on_conflict_do_nothing(index_elements=[PollRow.session_id])
        )
        async with self._db.write() as session:
            await session.execute(statement)
            row = await session.scalar(select(PollRow).where(PollRow.session_id == poll.session_id))
        assert row is not None
        return _poll(row)

    async def get(self, poll_id: int) -> Poll | None:
        async with self._db.read() as session:
            row = await session.get(PollRow, poll_id)
        return _poll(row) if row else None

    async def for_session(self, session_id: int) -> Poll | None:
        async with self._db.read() as session:
            row = await session.scalar(select(PollRow).where(PollRow.session_id == session_id))
        return _poll(row) if row else None

    async def _open_poll(self, session: object, poll_id: int) -> bool:
        # FOR SHARE on PostgreSQL: a vote and the close (an UPDATE of this row) never interleave,
        # so no vote is written with a real voter key after the keys were replaced.
        query = select(PollRow.id).where(PollRow.id == poll_id, PollRow.status == PollStatus.OPEN.value)
        if self._db.dialect == "postgresql":
            query = query.with_for_update(read=True)
        return (await session.scalar(query)) is not None  # type: ignore[attr-defined]

    async def vote(self, poll_id: int, question: str, voter: str, option: int, at: datetime) -> bool:
        insert = dialect_insert(self._db, VoteRow).values(
            poll_id=poll_id, question=question, voter_key=voter, option=option, at=as_utc(at)
        )
        statement = insert.on_conflict_do_update(
            index_elements=[VoteRow.poll_id, VoteRow.question, VoteRow.voter_key],
            set_={"option": insert.excluded.option, "at": insert.excluded.at},
        )
        async with self._db.write() as session:
            if not await self._open_poll(session, poll_id):
                return False
            await session.execute(statement)
        return True

    async def comment(self, poll_id: int, voter: str, text: str, at: datetime) -> bool:
        insert = dialect_insert(self._db, PollCommentRow).values(
            poll_id=poll_id, voter_key=voter, text=text, at=as_utc(at)
        )
        statement = insert.on_conflict_do_update(
            index_elements=[PollCommentRow.poll_id, PollCommentRow.voter_key],
            set_={"text": insert.excluded.text, "at": insert.excluded.at},
        )
        async with self._db.write() as session:
            if not await self._open_poll(session, poll_id):
                return False
            await session.execute(statement)
        return True

    async def votes(self, poll_id: int) -> Sequence[tuple[str, int]]:
        async with self._db.read() as session:
            rows = (
                await session.execute(
                    select(VoteRow.question, VoteRow.option).where(VoteRow.poll_id == poll_id)
                )
            ).all()
        return [(question, option) for question, option in rows]

    async def my_votes(self, poll_id: int, voter: str) -> dict[str, int]:
        query = select(VoteRow.question, VoteRow.option).where(
            VoteRow.poll_id == poll_id, VoteRow.voter_key == voter
        )
        async with self._db.read() as session:
            rows = (await session.execute(query)).all()
        return {str(row[0]): int(row[1]) for row in rows}

    async def network_votes(
        self, network_id: int, start: datetime, end: datetime
    ) -> Sequence[tuple[str, int]]:
        query = (
            select(VoteRow.question, VoteRow.option)
            .join(PollRow, PollRow.id == VoteRow.poll_id)
            .where(
                PollRow.network_id == network_id,
                # An open poll's counts stay hidden until it closes, in reports too.
                PollRow.status == PollStatus.CLOSED.value,
                PollRow.opened_at >= as_utc(start),
                PollRow.opened_at < as_utc(end),
            )
        )
        async with self._db.read() as session:
            rows = (await session.execute(query)).all()
        return [(str(row[0]), int(row[1])) for row in rows]

    async def comments(self, poll_id: int) -> Sequence[str]:
        query = (
            # Sorted by text, never by time: the order in which people commented could tell who
            # wrote what to someone who saw them answer.
            select(PollCommentRow.text).where(PollCommentRow.poll_id == poll_id).order_by(PollCommentRow.text)
        )
        async with self._db.read() as session:
            return list((await session.scalars(query)).all())

    async def close(self, poll_id: int, at: datetime) -> bool:
        async with self._db.write() as session:
            closed = await session.execute(
                update(PollRow)
                .where(PollRow.id == poll_id, PollRow.status == PollStatus.OPEN.value)
                .values(status=PollStatus.CLOSED.value, secret=None, closed_at=as_utc(at))
                .returning(PollRow.id)
            )
            if closed.first() is None:
                return False
            voters = set(
                (await session.scalars(select(VoteRow.voter_key).where(VoteRow.poll_id == poll_id))).all()
            )
            voters |= set(
                (
                    await session.scalars(
                        select(PollCommentRow.voter_key).where(PollCommentRow.poll_id == poll_id)
                    )
                ).all()
            )
            # Every answer's time becomes the close time: when someone tapped could be matched with
            # when they were seen (a message, a log line), so the received time would link them.
            closed_at = as_utc(at)
            for voter in voters:
                # A fresh random pseudonym per voter: answers stay countable, never linkable.
                anonymous = secrets.token_hex(32)
                for model in (VoteRow, PollCommentRow):
                    await session.execute(
                        update(model)
                        .where(model.poll_id == poll_id, model.voter_key == voter)
                        .values(voter_key=anonymous, at=closed_at)
                    )
        return True

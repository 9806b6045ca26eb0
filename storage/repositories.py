"""SQL implementations of the ports in :mod:`domain.ports`.

Everything that must be idempotent is one ``INSERT ... ON CONFLICT`` statement, never "check,
then insert": a redelivered activity or a second worker may run the same code at the same time.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, func, literal, select, update
from sqlalchemy.dialects import postgresql, sqlite

from domain.clock import Clock, SystemClock
from domain.conversations import ConversationRef
from domain.jobs import Job, JobStatus, NewJob
from storage.db import Database
from storage.models import AuditRow, ConversationRefRow, InboundActivityRow, JobRow, SentMessageRow
from storage.types import as_utc

log = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 4000
STALE_CLAIM = timedelta(minutes=2)  # far longer than any turn takes


def dialect_insert(db: Database, model: type[Any]) -> postgresql.Insert | sqlite.Insert:
    """The backend's own INSERT, which has ``on_conflict_do_nothing/do_update``."""
    if db.dialect == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


_insert = dialect_insert  # the name storage/network_repos.py imports


def _status_in(*statuses: JobStatus) -> ColumnElement[bool]:
    # Literals, not bound parameters: the partial index ix_jobs_ready_due_at is used only when
    # the planner can see the predicate's values.
    return JobRow.status.in_([literal(str(s), literal_execute=True) for s in statuses])


def upsert_ref_statement(db: Database, ref: ConversationRef) -> Any:
    values = {
        "conversation_id": ref.conversation_id,
        "service_url": ref.service_url,
        "channel_id": ref.channel_id,
        "kind": ref.kind,
        "tenant_id": ref.tenant_id,
        "bot_id": ref.bot_id,
        "user_id": ref.user_id,
        "user_aad_id": ref.user_aad_id,
        "locale": ref.locale,
        "reference": ref.reference,
        "updated_at": as_utc(ref.updated_at),
    }
    statement = dialect_insert(db, ConversationRefRow).values(values)
    return statement.on_conflict_do_update(
        index_elements=[ConversationRefRow.conversation_id],
        set_={name: statement.excluded[name] for name in values if name != "conversation_id"},
    )


def _sqlite_time(moment: datetime) -> str:
    """A datetime as SQLAlchemy's SQLite DateTime writes it (naive UTC, microseconds)."""
    return as_utc(moment).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def _begin_sqlite(connection: sqlite3.Connection, activity_key: str | None, ref: ConversationRef) -> bool:
    """:meth:`SqlInboundLedger.begin` as plain SQL, the same statements the ORM path runs."""
    if activity_key is not None:
        claimed = connection.execute(
            "INSERT INTO inbound_activities (activity_key, received_at, finished, response) "
            "VALUES (?, ?, 0, NULL) ON CONFLICT (activity_key) "
            "DO UPDATE SET received_at = excluded.received_at "
            "WHERE inbound_activities.finished = 0 AND inbound_activities.received_at < ? "
            "RETURNING activity_key",
            (activity_key, _sqlite_time(ref.updated_at), _sqlite_time(ref.updated_at - STALE_CLAIM)),
        ).fetchone()
        if claimed is None:
            return False
    connection.execute(
        "INSERT INTO conversation_refs (conversation_id, service_url, channel_id, kind, tenant_id, bot_id, "
        "user_id, user_aad_id, locale, reference, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (conversation_id) DO UPDATE SET service_url = excluded.service_url, "
        "channel_id = excluded.channel_id, kind = excluded.kind, tenant_id = excluded.tenant_id, "
        "bot_id = excluded.bot_id, user_id = excluded.user_id, user_aad_id = excluded.user_aad_id, "
        "locale = excluded.locale, reference = excluded.reference, updated_at = excluded.updated_at",
        (
            ref.conversation_id,
            ref.service_url,
            ref.channel_id,
            ref.kind,
            ref.tenant_id,
            ref.bot_id,
            ref.user_id,
            ref.user_aad_id,
            ref.locale,
            json.dumps(ref.reference),
            _sqlite_time(ref.updated_at),
        ),
    )
    return True


class SqlConversationRefs:
    """:class:`domain.ports.ConversationRefs` on SQL."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def upsert(self, ref: ConversationRef) -> None:
        async with self._db.write() as session:
            await session.execute(upsert_ref_statement(self._db, ref))

    async def get(self, conversation_id: str) -> ConversationRef | None:
        async with self._db.read() as session:
            row = await session.get(ConversationRefRow, conversation_id)
        if row is None:
            return None
        return ConversationRef(
            conversation_id=row.conversation_id,
            service_url=row.service_url,
            channel_id=row.channel_id,
            kind=row.kind,  # type: ignore[arg-type]  # only ever written from a ConversationKind
            tenant_id=row.tenant_id,
            bot_id=row.bot_id,
            user_id=row.user_id,
            user_aad_id=row.user_aad_id,
            locale=row.locale,
            reference=row.reference,
            updated_at=row.updated_at,
        )

    async def remove(self, conversation_id: str) -> bool:
        statement = delete(ConversationRefRow).where(ConversationRefRow.conversation_id == conversation_id)
        async with self._db.write() as session:
            removed = await session.execute(statement.returning(ConversationRefRow.conversation_id))
            return removed.first() is not None

    async def count(self) -> int:
        async with self._db.read() as session:
            return (await session.scalar(select(func.count()).select_from(ConversationRefRow))) or 0


class SqlAuditLog:
    """:class:`domain.ports.AuditLog` on SQL."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(
        self,
        *,
        actor_id: str,
        action: str,
        subject: str,
        details: dict[str, Any] | None = None,
        at: datetime,
    ) -> None:
        async with self._db.write() as session:
            session.add(
                AuditRow(at=as_utc(at), actor_id=actor_id, action=action, subject=subject, details=details)
            )

    async def entries(self, subject: str) -> Sequence[dict[str, Any]]:
        """The entries about ``subject``, oldest first."""
        query = select(AuditRow).where(AuditRow.subject == subject).order_by(AuditRow.at, AuditRow.id)
        async with self._db.read() as session:
            rows = (await session.scalars(query)).all()
        return [
            {
                "id": row.id,
                "at": row.at,
                "actor_id": row.actor_id,
                "action": row.action,
                "subject": row.subject,
                "details": row.details,
            }
            for row in rows
        ]

    async def purge(self, before: datetime) -> int:
        """Drop entries older than ``before`` (the retention period is over)."""
        async with self._db.write() as session:
            result = await session.execute(
                delete(AuditRow).where(AuditRow.at < as_utc(before)).returning(AuditRow.id)
            )
            return len(result.all())


class SqlInboundLedger:
    """:class:`domain.ports.InboundLedger` on SQL."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def _claim_statement(self, activity_key: str, at: datetime) -> Any:
        # An unfinished claim older than STALE_CLAIM was left by a process that died mid-turn:
        # the redelivery may take it over instead of being refused until the purge.
        insert = dialect_insert(self._db, InboundActivityRow).values(
            activity_key=activity_key, received_at=as_utc(at), finished=False, response=None
        )
        return insert.on_conflict_do_update(
            index_elements=[InboundActivityRow.activity_key],
            set_={"received_at": insert.excluded.received_at},
            where=(InboundActivityRow.finished.is_(False))
            & (InboundActivityRow.received_at < as_utc(at) - STALE_CLAIM),
        ).returning(InboundActivityRow.activity_key)

    async def claim(self, activity_key: str, at: datetime) -> bool:
        async with self._db.write() as session:
            return (await session.execute(self._claim_statement(activity_key, at))).first() is not None

    async def begin(self, activity_key: str | None, ref: ConversationRef) -> bool:
        """Claim the activity and record its conversation in one transaction (one writer turn)."""
        if self._db.raw_sqlite:
            return await self._db.sqlite_write(
                lambda connection: _begin_sqlite(connection, activity_key, ref)
            )
        async with self._db.write() as session:
            if activity_key is not None:
                claimed = (await session.execute(self._claim_statement(activity_key, ref.updated_at))).first()
                if claimed is None:
                    return False
            await session.execute(upsert_ref_statement(self._db, ref))
        return True

    async def finish_many(self, items: Sequence[tuple[str, dict[str, Any] | None]]) -> None:
        """Mark several turns finished in one transaction."""
        if not items:
            return
        if self._db.raw_sqlite:
            rows = [(None if r is None else json.dumps(r), key) for key, r in items]
            await self._db.sqlite_write(
                lambda connection: connection.executemany(
                    "UPDATE inbound_activities SET finished = 1, response = ? WHERE activity_key = ?", rows
                )
            )
            return
        async with self._db.write() as session:
            for activity_key, response in items:
                await session.execute(
                    update(InboundActivityRow)
                    .where(InboundActivityRow.activity_key == activity_key)
                    .values(finished=True, response=response)
                )

    async def finish(self, activity_key: str, response: dict[str, Any] | None) -> None:
        statement = (
            update(InboundActivityRow)
            .where(InboundActivityRow.activity_key == activity_key)
            .values(finished=True, response=response)
        )
        async with self._db.write() as session:
            await session.execute(statement)

    async def release(self, activity_key: str) -> None:
        statement = delete(InboundActivityRow).where(InboundActivityRow.activity_key == activity_key)
        async with self._db.write() as session:
            await session.execute(statement)

    async def response(self, activity_key: str) -> dict[str, Any] | None:
        query = select(InboundActivityRow.response).where(
            InboundActivityRow.activity_key == activity_key, InboundActivityRow.finished.is_(True)
        )
        async with self._db.read() as session:
            return await session.scalar(query)

    async def outcome(self, activity_key: str) -> tuple[bool, dict[str, Any] | None] | None:
        query = select(InboundActivityRow.finished, InboundActivityRow.response).where(
            InboundActivityRow.activity_key == activity_key
        )
        async with self._db.read() as session:
            row = (await session.execute(query)).first()
        return None if row is None else (bool(row.finished), row.response)

    async def purge(self, before: datetime) -> int:
        statement = (
            delete(InboundActivityRow)
            .where(InboundActivityRow.received_at < as_utc(before))
            .returning(InboundActivityRow.activity_key)
        )
        async with self._db.write() as session:
            return len((await session.execute(statement)).all())


def _job(row: JobRow) -> Job:
    return Job(
        id=row.id,
        kind=row.kind,
        payload=row.payload,
        due_at=row.due_at,
        status=JobStatus(row.status),
        attempts=row.attempts,
        dedupe_key=row.dedupe_key,
        lease_until=row.lease_until,
        last_error=row.last_error,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


class SqlJobStore:
    """:class:`domain.ports.JobStore` on SQL: the durable outbox.

    Claiming is safe with several workers: on PostgreSQL the due rows are locked with
    ``FOR UPDATE SKIP LOCKED`` and marked running in the same transaction, so two workers never
    take the same job; on SQLite the single writer (and ``BEGIN IMMEDIATE`` across processes)
    serialises claims.
    """

    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        self._db = db
        self._clock = clock or SystemClock()

    async def enqueue(self, job: NewJob) -> int:
        statement = (
            dialect_insert(self._db, JobRow)
            .values(
                kind=job.kind,
                payload=job.payload,
                due_at=as_utc(job.due_at),
                status=JobStatus.PENDING.value,
                attempts=0,
                dedupe_key=job.dedupe_key,
                created_at=self._clock.now(),
            )
            .on_conflict_do_nothing(index_elements=[JobRow.dedupe_key])
            .returning(JobRow.id)
        )
        async with self._db.write() as session:
            new_id = await session.scalar(statement)
            if new_id is not None:
                return new_id
            # Already there. The conflict waited for any concurrent insert of the key to commit,
            # so this read (a fresh snapshot under READ COMMITTED) sees its row.
            existing = await session.scalar(select(JobRow.id).where(JobRow.dedupe_key == job.dedupe_key))
        if existing is None:  # deleted by a cancel between the two statements
            raise RuntimeError(f"job {job.dedupe_key!r} vanished while being enqueued")
        return existing

    async def enqueue_many(self, jobs: Sequence[NewJob]) -> None:
        """:meth:`enqueue` for several jobs in one transaction (the ids are not returned).

        A series' extension enqueues four jobs per session, almost all already there: one write
        transaction each made the daily extension of 500 series take ~40 s of the single writer.
        """
        if not jobs:
            return
        now = self._clock.now()
        rows = [
            {
                "kind": job.kind,
                "payload": job.payload,
                "due_at": as_utc(job.due_at),
                "status": JobStatus.PENDING.value,
                "attempts": 0,
                "dedupe_key": job.dedupe_key,
                "created_at": now,
            }
            for job in jobs
        ]
        statement = dialect_insert(self._db, JobRow).on_conflict_do_nothing(
            index_elements=[JobRow.dedupe_key]
        )
        async with self._db.write() as session:
            await session.execute(statement, rows)

    async def claim_due(self, now: datetime, limit: int, lease_until: datetime) -> Sequence[Job]:
        now, lease_until = as_utc(now), as_utc(lease_until)
        if limit <= 0:
            return []
        # Expired leases first: their worker died, and they have waited longest.
        expired = (
            select(JobRow.id)
            .where(JobRow.status == JobStatus.RUNNING.value, JobRow.lease_until < now)
            .order_by(JobRow.lease_until)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ready = (
            select(JobRow.id)
            .where(_status_in(JobStatus.PENDING, JobStatus.FAILED), JobRow.due_at <= now)
            .order_by(JobRow.due_at)
            .with_for_update(skip_locked=True)
        )
        async with self._db.write() as session:
            ids = list((await session.scalars(expired)).all())
            if len(ids) < limit:
                ids += (await session.scalars(ready.limit(limit - len(ids)))).all()
            if not ids:
                return []
            claimed = await session.scalars(
                update(JobRow)
                .where(JobRow.id.in_(ids))
                .values(status=JobStatus.RUNNING.value, attempts=JobRow.attempts + 1, lease_until=lease_until)
                .returning(JobRow),
                execution_options={"synchronize_session": False},
            )
            jobs = [_job(row) for row in claimed.all()]
        jobs.sort(key=lambda job: (job.due_at, job.id))
        return jobs

    async def _update_claimed(self, job_id: int, attempt: int | None, values: dict[str, Any]) -> bool:
        """Set ``values`` on a running job; False when it is not running (under claim ``attempt``).

        Only a running job, and only under the claim that reports: a late report from a worker
        whose lease ran out must not undo the outcome recorded by the worker that took the job
        over, nor make a job that worker is still running claimable again.
        """
        where = [JobRow.id == job_id, JobRow.status == JobStatus.RUNNING.value]
        if attempt is not None:
            where.append(JobRow.attempts == attempt)
        statement = update(JobRow).where(*where).values(values).returning(JobRow.id)
        async with self._db.write() as session:
            return (await session.scalar(statement)) is not None

    async def complete(self, job_id: int, at: datetime, attempt: int | None = None) -> bool:
        values = {
            "status": JobStatus.DONE.value,
            "finished_at": as_utc(at),
            "lease_until": None,
            "last_error": None,
        }
        return await self._update_claimed(job_id, attempt, values)

    async def fail(
        self, job_id: int, error: str, retry_at: datetime | None, attempt: int | None = None
    ) -> bool:
        values: dict[str, Any] = {"last_error": error[:MAX_ERROR_LENGTH], "lease_until": None}
        if retry_at is None:
            values |= {"status": JobStatus.DEAD.value, "finished_at": self._clock.now()}
        else:
            values |= {"status": JobStatus.FAILED.value, "due_at": as_utc(retry_at)}
        return await self._update_claimed(job_id, attempt, values)

    async def renew(self, job_id: int, attempt: int, lease_until: datetime) -> bool:
        return await self._update_claimed(job_id, attempt, {"lease_until": as_utc(lease_until)})

    async def get(self, job_id: int) -> Job | None:
        async with self._db.read() as session:
            row = await session.get(JobRow, job_id)
        return None if row is None else _job(row)

    async def by_dedupe_key(self, dedupe_key: str) -> Job | None:
        async with self._db.read() as session:
            row = await session.scalar(select(JobRow).where(JobRow.dedupe_key == dedupe_key))
        return None if row is None else _job(row)

    async def counts(self) -> dict[str, int]:
        """Jobs per status, every status present (zero when there are none)."""
        query = select(JobRow.status, func.count()).group_by(JobRow.status)
        async with self._db.read() as session:
            found: dict[str, int] = dict((await session.execute(query)).all())
        return {status.value: found.get(status.value, 0) for status in JobStatus}

    async def cancel(self, dedupe_prefix: str) -> int:
        """Drop pending and failed jobs whose dedupe key starts with ``dedupe_prefix``.

        Running jobs are left to finish; done and dead ones are history.
        """
        if not dedupe_prefix:
            raise ValueError("an empty prefix would cancel every job")
        statement = (
            delete(JobRow)
            .where(
                _status_in(JobStatus.PENDING, JobStatus.FAILED),
                JobRow.dedupe_key.startswith(dedupe_prefix, autoescape=True),
                # SQLite's LIKE ignores ASCII case; this keeps the prefix exact there too.
                func.substr(JobRow.dedupe_key, 1, len(dedupe_prefix)) == dedupe_prefix,
            )
            .returning(JobRow.id)
        )
        async with self._db.write() as session:
            return len((await session.execute(statement)).all())

    async def purge_finished(self, before: datetime) -> int:
        """Drop done jobs finished before ``before`` (dead ones stay for a person to look at)."""
        statement = (
            delete(JobRow)
            .where(JobRow.status == JobStatus.DONE.value, JobRow.finished_at < as_utc(before))
            .returning(JobRow.id)
        )
        async with self._db.write() as session:
            return len((await session.execute(statement)).all())


class SqlSentMessages:
    """:class:`domain.ports.SentMessages` on SQL."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(self, *, key: str, conversation_id: str, activity_id: str | None, at: datetime) -> None:
        """Remember a send; the first activity id recorded under ``key`` wins.

        A row that has no activity id yet (an earlier failure) is filled in by a later success.
        """
        statement = dialect_insert(self._db, SentMessageRow).values(
            key=key, conversation_id=conversation_id, activity_id=activity_id, sent_at=as_utc(at), error=None
        )
        statement = statement.on_conflict_do_update(
            index_elements=[SentMessageRow.key],
            set_={
                "conversation_id": statement.excluded.conversation_id,
                "activity_id": statement.excluded.activity_id,
                "sent_at": statement.excluded.sent_at,
                "error": None,
            },
            where=SentMessageRow.activity_id.is_(None),
        )
        async with self._db.write() as session:
            await session.execute(statement)

    async def activity_id(self, key: str) -> str | None:
        async with self._db.read() as session:
            return await session.scalar(select(SentMessageRow.activity_id).where(SentMessageRow.key == key))

    async def record_failure(self, *, key: str, conversation_id: str, error: str, at: datetime) -> None:
        """Keep a send that failed for good; it never overwrites a successful one."""
        statement = dialect_insert(self._db, SentMessageRow).values(
            key=key,
            conversation_id=conversation_id,
            activity_id=None,
            sent_at=as_utc(at),
            error=error[:MAX_ERROR_LENGTH],
        )
        statement = statement.on_conflict_do_update(
            index_elements=[SentMessageRow.key],
            set_={"error": statement.excluded.error, "sent_at": statement.excluded.sent_at},
            where=SentMessageRow.activity_id.is_(None),
        )
        async with self._db.write() as session:
            await session.execute(statement)

    async def failure(self, key: str) -> str | None:
        """The error kept for ``key``, if its send failed for good."""
        async with self._db.read() as session:
            return await session.scalar(select(SentMessageRow.error).where(SentMessageRow.key == key))


@dataclass(frozen=True, slots=True)
class Repositories:
    """Every SQL repository over one database, for the composition root to hand out."""

    conversations: SqlConversationRefs
    audit: SqlAuditLog
    inbound: SqlInboundLedger
    jobs: SqlJobStore
    sent: SqlSentMessages

    @classmethod
    def build(cls, db: Database, clock: Clock | None = None) -> Repositories:
        return cls(
            conversations=SqlConversationRefs(db),
            audit=SqlAuditLog(db),
            inbound=SqlInboundLedger(db),
            jobs=SqlJobStore(db, clock),
            sent=SqlSentMessages(db),
        )

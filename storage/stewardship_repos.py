"""SQL implementation of :class:`domain.ports.NudgeStore`."""

from __future__ import annotations

from sqlalchemy import select

from domain.stewardship import NudgeState
from storage.db import Database
from storage.repositories import dialect_insert
from storage.stewardship_models import NudgeRow


def _state(row: NudgeRow) -> NudgeState:
    return NudgeState(
        network_id=row.network_id,
        cause=row.cause,
        last_sent_at=row.last_sent_at,
        unanswered=row.unanswered,
        snoozed_until=row.snoozed_until,
        answered_at=row.answered_at,
    )


class SqlNudgeStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, network_id: int) -> NudgeState:
        async with self._db.read() as session:
            row = await session.get(NudgeRow, network_id)
        return _state(row) if row else NudgeState(network_id)

    async def all(self) -> dict[int, NudgeState]:
        async with self._db.read() as session:
            rows = (await session.scalars(select(NudgeRow))).all()
        return {row.network_id: _state(row) for row in rows}

    async def save(self, state: NudgeState) -> None:
        values = {
            "network_id": state.network_id,
            "cause": state.cause,
            "last_sent_at": state.last_sent_at,
            "unanswered": state.unanswered,
            "snoozed_until": state.snoozed_until,
            "answered_at": state.answered_at,
        }
        insert = dialect_insert(self._db, NudgeRow).values(values)
        statement = insert.on_conflict_do_update(
            index_elements=[NudgeRow.network_id],
            set_={name: insert.excluded[name] for name in values if name != "network_id"},
        )
        async with self._db.write() as session:
            await session.execute(statement)

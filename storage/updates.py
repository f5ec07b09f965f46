"""Processed updates: handling an update twice must not change anything twice."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

from sqlalchemy import delete, exists, literal
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import InboxUpdate, ProcessedUpdate

# Old ids are forgotten by the retention timer (storage/retention.py), well within a week.


async def claim(session: AsyncSession, update_id: int, now: datetime) -> bool:
    """Records the update as processed; False when it was processed already."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(ProcessedUpdate)
        .values(update_id=update_id, processed_at=now)
        .on_conflict_do_nothing(index_elements=["update_id"])
    )
    result = await session.execute(statement)
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


class Taken(Enum):
    """What `take` found: the update is this transaction's to handle, was handled already, or
    must wait for an earlier update of the same person (several workers)."""

    CLAIMED = "claimed"
    DUPLICATE = "duplicate"
    AFTER_EARLIER = "after earlier"


async def take(
    session: AsyncSession,
    update_id: int,
    now: datetime,
    *,
    person: int | None = None,
    received_after: datetime | None = None,
) -> Taken:
    """Removes the update from the inbox and claims it (`claim`), in this transaction.

    DUPLICATE when it was processed already (its inbox row is removed all the same). With
    `person` (PostgreSQL, several workers): AFTER_EARLIER when an earlier update of that person,
    received after `received_after`, is still in the inbox (another worker is handling it: its
    deletion is not committed); the caller then rolls back and tries again later. On PostgreSQL
    one statement (the delete a common table expression of the insert, the check in its
    RETURNING), on SQLite two (and no check: one worker, whose per-person lock keeps order)."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    forget = delete(InboxUpdate).where(InboxUpdate.update_id == update_id)
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(ProcessedUpdate)
        .values(update_id=update_id, processed_at=now)
        .on_conflict_do_nothing(index_elements=["update_id"])
    )
    if dialect != "postgresql":
        await session.execute(forget)
        result = await session.execute(statement)
        assert isinstance(result, CursorResult)
        return Taken.CLAIMED if result.rowcount == 1 else Taken.DUPLICATE
    earlier = (
        exists()
        .where(
            InboxUpdate.user_id == person,
            InboxUpdate.update_id < update_id,
            InboxUpdate.received_at > (received_after or now),
        )
        .correlate(None)
    )
    claimed = (
        await session.execute(
            statement.add_cte(forget.cte("handled")).returning(
                earlier if person is not None else literal(False)
            )
        )
    ).first()
    if claimed is None:
        return Taken.DUPLICATE
    return Taken.AFTER_EARLIER if claimed[0] else Taken.CLAIMED

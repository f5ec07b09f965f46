"""Processed updates: handling an update twice must not change anything twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
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


async def take(session: AsyncSession, update_id: int, now: datetime) -> bool:
    """Removes the update from the inbox and claims it (`claim`), in this transaction; False
    when it was processed already (its inbox row is removed all the same). On PostgreSQL one
    statement (the delete a common table expression of the insert), on SQLite two."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    forget = delete(InboxUpdate).where(InboxUpdate.update_id == update_id)
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(ProcessedUpdate)
        .values(update_id=update_id, processed_at=now)
        .on_conflict_do_nothing(index_elements=["update_id"])
    )
    if dialect == "postgresql":
        statement = statement.add_cte(forget.cte("handled"))
    else:
        await session.execute(forget)
    result = await session.execute(statement)
    assert isinstance(result, CursorResult)
    return result.rowcount == 1

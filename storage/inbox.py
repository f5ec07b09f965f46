"""The inbox: updates received from Telegram and not yet handled.

Long polling confirms updates by asking for the next ones (getUpdates with a higher offset);
Telegram then forgets them. So a runtime writes each update here before it asks again (a whole
getUpdates batch in one small transaction, `add_many`; a webhook's update alone, `add`); the
transaction that handles the update deletes its row (handlers/kernel/dispatch.py), and rows a
crash left are handled first at start-up (bot/inbox.py). Together with the processed-update
claim (storage/updates.py) every update received is handled, once.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import InboxUpdate


async def add(
    session: AsyncSession, update_id: int, user_id: int, payload: dict[str, Any], now: datetime
) -> None:
    """Keeps an update (a Bot API Update object as JSON) until it is handled; a second copy of
    the same update id is ignored."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(
        insert(InboxUpdate)
        .values(update_id=update_id, user_id=user_id, payload=payload, received_at=now)
        .on_conflict_do_nothing(index_elements=["update_id"])
    )


async def add_many(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """`add` for a whole getUpdates batch in one statement: `rows` of update_id, user_id,
    payload and received_at; copies of update ids kept already are ignored. The statement is
    built once and sent with every row's parameters (SQLAlchemy's executemany): built with
    the rows as its VALUES it was compiled anew for every batch (issue 17: 5 % of a storm's
    CPU on PostgreSQL)."""
    if not rows:
        return
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    await session.execute(_add_many(dialect), rows)


@cache
def _add_many(dialect: str) -> Any:
    """`add_many`'s INSERT, on the table (no ORM bulk insert), built once per dialect."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    table: Table = InboxUpdate.__table__  # type: ignore[assignment]
    return insert(table).on_conflict_do_nothing(index_elements=["update_id"])


async def remove(session: AsyncSession, update_id: int) -> None:
    """Forgets an update: it is handled (or refused) in this transaction."""
    await session.execute(delete(InboxUpdate).where(InboxUpdate.update_id == update_id))


async def waiting(session: AsyncSession) -> list[dict[str, Any]]:
    """The updates received and not handled, oldest first (what a crash left)."""
    rows = await session.scalars(select(InboxUpdate.payload).order_by(InboxUpdate.update_id))
    return [dict(row) for row in rows]

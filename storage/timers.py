"""Timers: reminders, deadlines and nudges, stored so that none is lost across restarts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, Select, String, cast, func, literal, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Timer

PENDING = "pending"
DONE = "done"
MISSED = "missed"
CANCELLED = "cancelled"


async def schedule(
    session: AsyncSession,
    kind: str,
    key: str,
    due_at: datetime,
    now: datetime,
    *,
    chat_id: int | None = None,
    payload: dict[str, Any] | None = None,
    grace_seconds: int | None = None,
) -> Timer:
    """Creates the timer `kind`/`key`, or moves it (and re-arms it) when it exists.

    One upsert, so that two workers scheduling the same timer at once both succeed.
    """
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    values = {
        "due_at": due_at,
        "chat_id": chat_id,
        "payload": dict(payload or {}),
        "grace_seconds": grace_seconds,
        "status": PENDING,
        "fired_at": None,
    }
    statement = (
        insert(Timer)
        .values(kind=kind, key=key, created_at=now, **values)
        .on_conflict_do_update(index_elements=["kind", "key"], set_=values)
        .returning(Timer.id)
    )
    timer_id = (await session.execute(statement)).scalar_one()
    timer = await session.get(Timer, timer_id, populate_existing=True)
    assert timer is not None
    return timer


async def schedule_each(
    session: AsyncSession,
    kind: str,
    dues: Select[int, datetime],
    now: datetime,
    *,
    grace_seconds: int | None = None,
) -> int:
    """`schedule` for each (chat id, due at) a query yields (key: the chat id), in one upsert
    computed by the database (a digest for each of an audience); returns how many."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    found = dues.subquery()
    chat, due_at = found.c
    table = Timer.__table__
    rows = select(
        literal(kind, String).label("kind"),
        cast(chat, String).label("key"),
        due_at.label("due_at"),
        chat.label("chat_id"),
        literal({}, table.c.payload.type).label("payload"),
        literal(grace_seconds, Integer).label("grace_seconds"),
        literal(PENDING, String).label("status"),
        literal(now, table.c.created_at.type).label("created_at"),
    ).where(true())  # SQLite: an INSERT … SELECT with ON CONFLICT needs a WHERE
    columns = ["kind", "key", "due_at", "chat_id", "payload", "grace_seconds", "status"]
    statement = insert(Timer).from_select([*columns, "created_at"], rows)
    excluded = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["kind", "key"],
        set_={
            "due_at": excluded.due_at,
            "chat_id": excluded.chat_id,
            "payload": excluded.payload,
            "grace_seconds": excluded.grace_seconds,
            "status": excluded.status,
            "fired_at": None,
        },
    )
    result = await session.execute(statement)
    return int(getattr(result, "rowcount", 0) or 0)


async def cancel(session: AsyncSession, kind: str, key_prefix: str) -> list[int]:
    """Cancels pending timers of a kind whose key starts with `key_prefix`; returns their ids."""
    ids = list(
        await session.scalars(
            select(Timer.id).where(
                Timer.kind == kind, Timer.key.startswith(key_prefix), Timer.status == PENDING
            )
        )
    )
    if ids:
        await session.execute(update(Timer).where(Timer.id.in_(ids)).values(status=CANCELLED))
    return ids


async def get(session: AsyncSession, timer_id: int) -> Timer | None:
    """A timer by id."""
    return await session.get(Timer, timer_id)


async def pending(session: AsyncSession) -> Sequence[Timer]:
    """Every timer still to fire, soonest first."""
    return (
        await session.scalars(select(Timer).where(Timer.status == PENDING).order_by(Timer.due_at))
    ).all()


async def next_due(session: AsyncSession) -> datetime | None:
    """When the earliest pending timer is due (None: none pending)."""
    return await session.scalar(select(func.min(Timer.due_at)).where(Timer.status == PENDING))


async def due(session: AsyncSession, now: datetime) -> Sequence[int]:
    """Ids of pending timers whose moment has come."""
    return (
        await session.scalars(
            select(Timer.id)
            .where(Timer.status == PENDING, Timer.due_at <= now)
            .order_by(Timer.due_at, Timer.id)
        )
    ).all()


async def claim(session: AsyncSession, timer_id: int, status: str, now: datetime) -> bool:
    """Moves a pending timer to `status`; False when another worker got there first."""
    result = await session.execute(
        update(Timer)
        .where(Timer.id == timer_id, Timer.status == PENDING)
        .values(status=status, fired_at=now)
    )
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


async def superseded(
    session: AsyncSession, kind: str, key: str, key_prefix: str, now: datetime
) -> bool:
    """Whether a later timer of `kind` for the same thing (its key starts with `key_prefix`) is
    overdue too: of several overdue timers of one thing, only the latest is worth sending."""
    current = select(Timer.due_at).where(Timer.kind == kind, Timer.key == key).scalar_subquery()
    later = await session.scalar(
        select(Timer.id)
        .where(
            Timer.kind == kind,
            Timer.key.startswith(key_prefix),
            Timer.key != key,
            Timer.status == PENDING,
            Timer.due_at <= now,
            Timer.due_at >= current,
        )
        .limit(1)
    )
    return later is not None

"""Processed updates: handling an update twice must not change anything twice."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from functools import cache
from typing import Any

from sqlalchemy import bindparam, delete, exists, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import id_rows, id_rows_values
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


def _insert(dialect: str) -> Any:
    return pg_insert if dialect == "postgresql" else sqlite_insert


# Core statements on the tables (an ORM entity with parameters would be an ORM bulk insert).
_inbox: Any = InboxUpdate.__table__
_FORGET = delete(_inbox).where(_inbox.c.update_id == bindparam("claimed_id"))


@cache
def _take_statement(dialect: str, ordered: bool) -> Any:
    """The claim of `take`, built once (issue 17: statements are built per press otherwise)."""
    statement = (
        _insert(dialect)(ProcessedUpdate.__table__)
        .values(update_id=bindparam("claimed_id"), processed_at=bindparam("claimed_at"))
        .on_conflict_do_nothing(index_elements=["update_id"])
    )
    if dialect != "postgresql":
        return statement
    earlier = (
        exists()
        .where(
            _inbox.c.user_id == bindparam("person"),
            _inbox.c.update_id < bindparam("claimed_id"),
            _inbox.c.received_at > bindparam("received_after"),
        )
        .correlate(None)
    )
    return statement.add_cte(_FORGET.cte("handled")).returning(
        (earlier if ordered else literal(False)).label("earlier")
    )


def claim_returning(ordered: bool) -> Any:
    """PostgreSQL: `take`'s statement (a row, `earlier`, when claimed), for a caller that
    makes it a common table expression of its own statement (storage/people/person_context)."""
    return _take_statement("postgresql", ordered)


def claim_values(
    update_id: int, now: datetime, person: int | None, received_after: datetime
) -> dict[str, Any]:
    """The parameters of `claim_returning`'s statement."""
    values: dict[str, Any] = {"claimed_id": update_id, "claimed_at": now}
    if person is not None:
        values |= {"person": person, "received_after": received_after}
    return values


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
    RETURNING), on SQLite one too (the claim's trigger deletes the row; a duplicate's a second
    statement; no check: one worker, whose per-person lock keeps order)."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    values: dict[str, Any] = {"claimed_id": update_id, "claimed_at": now}
    if dialect != "postgresql":  # the claim's trigger removes the inbox row (migration 0018)
        result = await session.execute(_take_statement(dialect, False), values)
        assert isinstance(result, CursorResult)
        if result.rowcount == 1:
            return Taken.CLAIMED
        await session.execute(
            _FORGET, {"claimed_id": update_id}
        )  # a copy received again: no claim, no trigger
        return Taken.DUPLICATE
    if person is not None:
        values |= {"person": person, "received_after": received_after or now}
    claimed = (await session.execute(_take_statement(dialect, person is not None), values)).first()
    if claimed is None:
        return Taken.DUPLICATE
    return Taken.AFTER_EARLIER if claimed[0] else Taken.CLAIMED


@cache
def _take_many_statement() -> Any:
    return _take_statement("sqlite", False).returning(ProcessedUpdate.__table__.c.update_id)


async def take_many(session: AsyncSession, update_ids: list[int], now: datetime) -> set[int]:
    """SQLite: `take` for several updates in one statement (a batch handled in one
    transaction, Dispatcher.feed_batch); returns the ids claimed here — the others were
    processed already, and their inbox rows are removed all the same (a second statement,
    only then). The claim's trigger removes each claimed update's inbox row (migration 0018).

    Raises ValueError on PostgreSQL, whose claim is a statement of its own with the person's
    context (storage/people/person_context.take_and_load)."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    if dialect == "postgresql":
        raise ValueError("take_many is SQLite's: PostgreSQL claims with take_and_load")
    if not update_ids:
        return set()
    statement = _take_many_statement()
    parameters = [{"claimed_id": update_id, "claimed_at": now} for update_id in update_ids]
    # Several parameter sets: SQLAlchemy's "insertmanyvalues" sends one INSERT … VALUES (…),
    # (…) … RETURNING, its text built once.
    claimed = {int(row[0]) for row in await session.execute(statement, parameters)}
    seen = [update_id for update_id in update_ids if update_id not in claimed]
    if seen:  # copies received again: no claim, no trigger
        await session.execute(delete(_inbox).where(_inbox.c.update_id.in_(seen)))
    return claimed


_TAKING = ("update_id", "person")


@cache
def _take_chunk() -> Any:
    """`take_chunk`'s statement, built once (the chunk's ids are parameters)."""
    ids = id_rows(_TAKING, "postgresql").cte("taking")
    table: Any = ProcessedUpdate.__table__
    mine = select(ids.c.update_id)
    handled = delete(_inbox).where(_inbox.c.update_id.in_(mine)).cte("handled")
    claimed = (
        pg_insert(table)
        .from_select(
            ["update_id", "processed_at"],
            select(ids.c.update_id, bindparam("chunk_now", type_=table.c.processed_at.type)),
        )
        .on_conflict_do_nothing(index_elements=["update_id"])
        .returning(table.c.update_id)
        .cte("claimed")
    )
    earlier = (
        exists()
        .where(
            _inbox.c.user_id == ids.c.person,
            _inbox.c.update_id < ids.c.update_id,
            _inbox.c.received_at
            > bindparam("chunk_received_after", type_=_inbox.c.received_at.type),
            _inbox.c.update_id.not_in(mine),
        )
        .correlate(ids)
    )
    return (
        select(claimed.c.update_id, earlier.label("earlier"))
        .select_from(claimed.join(ids, ids.c.update_id == claimed.c.update_id))
        .add_cte(handled)
    )


async def take_chunk(
    session: AsyncSession,
    taking: list[tuple[int, int]],
    now: datetime,
    received_after: datetime,
) -> dict[int, Taken]:
    """PostgreSQL: `take` with `person` for several updates, (update id, person) in order, in
    one statement (a batch's chunk, issue 17): each update's inbox row removed, its claim, and
    whether an earlier update of its person, received after `received_after` and not of these,
    is still in the inbox (another worker's). Returns each update's Taken."""
    if not taking:
        return {}
    values = id_rows_values(_TAKING, "postgresql", taking)
    values |= {"chunk_now": now, "chunk_received_after": received_after}
    found = {int(row[0]): bool(row[1]) for row in await session.execute(_take_chunk(), values)}
    return {
        update_id: (
            Taken.DUPLICATE
            if update_id not in found
            else Taken.AFTER_EARLIER
            if found[update_id]
            else Taken.CLAIMED
        )
        for update_id, _ in taking
    }

"""Everything Chorus stores about a person: exported for /mydata, erased for /forget.

Both walk every table of the schema, so a table added later is covered without a change here:
a row belongs to a person when one of its person columns holds their user id (or `chat_id`
holds it: their private chat). /forget deletes such rows, except where a row carries an
aggregate that must stay true (an RSVP counts towards an action's turnout, a ballot towards a
vote, a sent message towards a broadcast's reach): those rows keep a placeholder that no longer
points at anyone. References to the person in other rows (who created an action, who granted a
role) are cleared.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import Table, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from storage.schema import Base

OWNING = ("user_id", "voter_id", "owner_id")  # the row is the person's: deleted
REFERENCES = (  # the row is someone else's, or shared: the reference is cleared
    "actor_id",
    "target_id",
    "created_by",
    "granted_by",
    "decided_by",
    "updated_by",
    "report_chat_id",
    "answered_by",
    "buddy_id",  # a safety buddy (storage/actions/safety_models.py)
    "given_by",  # who gave an organisation's proxy (storage/decisions/decision_models.py)
)
CHAT = "chat_id"  # a person's private chat has their user id
ABOUT = {"audit_log": ("actor_id", "target_id")}  # exported too: what was done by or to them
SKIPPED_TABLES = frozenset({"processed_updates", "alembic_version"})
NOT_EXPORTED = frozenset({("decisions", "result"), ("outbox", "keyboard")})  # others' data
FREE_TEXT_DETAILS = ("reason", "question", "answer", "text", "name", "username")
ERASED = 0  # who made something, once they are forgotten


def _tables() -> list[Table]:
    return [t for t in Base.metadata.sorted_tables if t.name not in SKIPPED_TABLES]


def _owner_conditions(table: Table, user_id: int) -> list[ColumnElement[bool]]:
    """Rows about the person: theirs, sent to them, or (audit log) done by or to them."""
    names = (*OWNING, CHAT, *ABOUT.get(table.name, ()))
    return [table.c[name] == user_id for name in names if name in table.c]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


async def export(session: AsyncSession, user_id: int) -> dict[str, list[dict[str, Any]]]:
    """Every row about the person, table by table (columns holding others' data left out)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for table in _tables():
        conditions = _owner_conditions(table, user_id)
        if not conditions:
            continue
        rows = (await session.execute(select(table).where(or_(*conditions)))).mappings().all()
        if rows:
            found[str(table.name)] = [
                {
                    str(key): _plain(value)
                    for key, value in row.items()
                    if (table.name, key) not in NOT_EXPORTED
                }
                for row in rows
            ]
    return found


Eraser = Callable[[AsyncSession, Table, int, frozenset[str]], Awaitable[None]]


async def _rsvps(session: AsyncSession, table: Table, user_id: int, names: frozenset[str]) -> None:
    """An answer still counts towards the action; it points at nobody (a unique negative id)."""
    await session.execute(
        update(table).where(table.c.user_id == user_id).values(user_id=-table.c.id)
    )


async def _ballots(
    session: AsyncSession, table: Table, user_id: int, names: frozenset[str]
) -> None:
    """A ballot still counts in its vote; its voter becomes an anonymous placeholder."""
    rows = await session.execute(select(table.c.decision_id).where(table.c.voter_id == user_id))
    for (decision_id,) in rows.all():
        lowest = await session.scalar(
            select(func.min(table.c.voter_id)).where(table.c.decision_id == decision_id)
        )
        placeholder = min(int(lowest or 0), 0) - 1
        await session.execute(
            update(table)
            .where(table.c.decision_id == decision_id, table.c.voter_id == user_id)
            .values(voter_id=placeholder, unit=f"anon:{-placeholder}", reason=None)
        )


async def _outbox(session: AsyncSession, table: Table, user_id: int, names: frozenset[str]) -> None:
    """A message sent to the person still counts in a broadcast's reach; its content goes."""
    mine = table.c.chat_id == user_id
    await session.execute(
        update(table)
        .where(mine, table.c.state.in_(("pending", "sending")))
        .values(state="stopped", failure="forgotten")
    )
    await session.execute(
        update(table)
        .where(mine)
        .values(chat_id=ERASED, text="", keyboard=None, message_id=None, last_error=None)
    )


async def _audit(session: AsyncSession, table: Table, user_id: int, names: frozenset[str]) -> None:
    """Entries stay (what was done, when) but no longer say by or to whom, nor any free text."""
    rows = await session.execute(
        select(table.c.id, table.c.details).where(
            or_(table.c.actor_id == user_id, table.c.target_id == user_id)
        )
    )
    for entry_id, details in rows.all():
        kept = {k: v for k, v in (details or {}).items() if k not in FREE_TEXT_DETAILS}
        await session.execute(
            update(table).where(table.c.id == entry_id).values(details={**kept, "erased": True})
        )
    await session.execute(update(table).where(table.c.actor_id == user_id).values(actor_id=ERASED))
    await session.execute(update(table).where(table.c.target_id == user_id).values(target_id=None))


def _scrub(value: Any, names: frozenset[str]) -> Any:
    if isinstance(value, str):
        return None if value in names else value
    if isinstance(value, list):
        return [_scrub(item, names) for item in value]
    if isinstance(value, dict):
        return {
            key: _scrub_reasons(item, names) if key == "reasons" else _scrub(item, names)
            for key, item in value.items()
            if key != "status"
        } | ({"status": value["status"]} if "status" in value else {})
    return value


def _scrub_reasons(pairs: Any, names: frozenset[str]) -> Any:
    """[name, reason] pairs: the person's reason goes with their name."""
    if not isinstance(pairs, list):
        return _scrub(pairs, names)
    return [
        [None, None] if isinstance(p, list) and p and p[0] in names else _scrub(p, names)
        for p in pairs
    ]


async def _decisions(
    session: AsyncSession, table: Table, user_id: int, names: frozenset[str]
) -> None:
    """Stored results keep their counts; the person's name in them becomes a discreet member."""
    if names and "result" in table.c:
        rows = await session.execute(select(table.c.id, table.c.result))
        for decision_id, result in rows.all():
            if not result:
                continue
            scrubbed = _scrub(result, names)
            if scrubbed != result:
                await session.execute(
                    update(table).where(table.c.id == decision_id).values(result=scrubbed)
                )
    await _generic(session, table, user_id, names)


async def _generic(
    session: AsyncSession, table: Table, user_id: int, names: frozenset[str]
) -> None:
    """The person's own rows go; references to them in other rows are cleared."""
    owning = [table.c[n] == user_id for n in (*OWNING, CHAT) if n in table.c]
    if owning:
        await session.execute(delete(table).where(or_(*owning)))
    for name in REFERENCES:
        if name in table.c:
            column = table.c[name]
            cleared = None if column.nullable else ERASED
            await session.execute(update(table).where(column == user_id).values({name: cleared}))


SPECIAL: dict[str, Eraser] = {
    "rsvps": _rsvps,
    "decision_ballots": _ballots,
    "outbox": _outbox,
    "audit_log": _audit,
    "decisions": _decisions,
}


async def erase(session: AsyncSession, user_id: int, names: frozenset[str]) -> None:
    """Erases the person's data from every table; `names` are their names, scrubbed from text."""
    for table in reversed(_tables()):
        eraser = SPECIAL.get(table.name, _generic)
        await eraser(session, table, user_id, frozenset(n for n in names if n))
    await session.flush()

"""What the dispatcher reads about the person behind an update, in one statement (issue 17)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import BigInteger, and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import updates
from storage.db import id_rows, id_rows_values
from storage.models import DialogState, Role, UserPreference, Volunteer


@dataclass(frozen=True, slots=True)
class PersonContext:
    """A person's volunteer record, preferences, dialog in the update's chat and roles (each
    None or empty when there is none)."""

    volunteer: Volunteer | None
    preference: UserPreference | None
    dialog: DialogState | None
    roles: frozenset[str]


_me = select(bindparam("person_id", type_=BigInteger).label("user_id")).subquery("me")
_STATEMENT = (  # built once: a statement is built per update otherwise (issue 17)
    select(Volunteer, UserPreference, DialogState, Role.role)
    .select_from(_me)
    .outerjoin(Volunteer, Volunteer.user_id == _me.c.user_id)
    .outerjoin(UserPreference, UserPreference.user_id == _me.c.user_id)
    .outerjoin(
        DialogState,
        and_(
            DialogState.user_id == _me.c.user_id,
            DialogState.chat_id == bindparam("chat_id", type_=BigInteger),
        ),
    )
    .outerjoin(Role, Role.user_id == _me.c.user_id)
)


async def load(session: AsyncSession, user_id: int, chat_id: int) -> PersonContext:
    """The person's context: one SELECT with outer joins (a row per role held, or one row),
    instead of one per table. The objects are the session's, as `session.get` returns them."""
    rows = (await session.execute(_STATEMENT, {"person_id": user_id, "chat_id": chat_id})).all()
    return _context(rows)


async def load_many(
    session: AsyncSession, people: list[tuple[int, int]]
) -> dict[tuple[int, int], PersonContext]:
    """`load` for several (user id, chat id) at once, in one SELECT (the first updates of the
    people of a batch's chunk, issue 17): each pair's context, keyed by the pair."""
    if not people:
        return {}
    pairs = list(dict.fromkeys(people))
    dialect = session.get_bind().dialect.name
    values = id_rows_values(_PAIR, dialect, pairs)
    found: dict[tuple[int, int], list[Any]] = {pair: [] for pair in pairs}
    for user_id, chat_id, *row in (await session.execute(_load_many(dialect), values)).all():
        found[(int(user_id), int(chat_id))].append(row)
    return {pair: _context(rows) for pair, rows in found.items()}


_PAIR = ("user_id", "chat_id")


@cache
def _load_many(dialect: str) -> Any:
    """`load_many`'s statement, built once per dialect: the pairs are parameters."""
    me = id_rows(_PAIR, dialect).subquery("me")
    return (
        select(me.c.user_id, me.c.chat_id, Volunteer, UserPreference, DialogState, Role.role)
        .select_from(me)
        .outerjoin(Volunteer, Volunteer.user_id == me.c.user_id)
        .outerjoin(UserPreference, UserPreference.user_id == me.c.user_id)
        .outerjoin(
            DialogState,
            and_(DialogState.user_id == me.c.user_id, DialogState.chat_id == me.c.chat_id),
        )
        .outerjoin(Role, Role.user_id == me.c.user_id)
    )


def _context(rows: Any) -> PersonContext:
    if not rows:
        return PersonContext(None, None, None, frozenset())
    volunteer, preference, dialog, *_ = rows[0]
    roles = frozenset(row[3] for row in rows if row[3] is not None)
    return PersonContext(volunteer, preference, dialog, roles)


@cache
def _take_and_load(ordered: bool) -> Any:
    """PostgreSQL: `updates.take`'s claim as a common table expression of the context's
    SELECT, whose last column is the claim's answer (NULL: the update was a duplicate)."""
    claimed = updates.claim_returning(ordered).cte("claimed")
    return _STATEMENT.add_columns(select(claimed.c.earlier).scalar_subquery().label("claim"))


async def take_and_load(
    session: AsyncSession,
    update_id: int,
    now: datetime,
    user_id: int,
    chat_id: int,
    *,
    ordered: bool,
    received_after: datetime,
) -> tuple[updates.Taken, PersonContext]:
    """PostgreSQL: `updates.take` and `load` in one statement (issue 17: one fewer a press).
    The claim's statements run once whatever the SELECT reads; the context is read as `load`
    reads it, from the same snapshot (the claim changes neither table it reads)."""
    values: dict[str, Any] = {"person_id": user_id, "chat_id": chat_id}
    values |= updates.claim_values(update_id, now, user_id if ordered else None, received_after)
    rows = (await session.execute(_take_and_load(ordered), values)).all()
    claim = rows[0][4] if rows else None
    if claim is None:
        taken = updates.Taken.DUPLICATE
    else:
        taken = updates.Taken.AFTER_EARLIER if claim else updates.Taken.CLAIMED
    return taken, _context(rows)

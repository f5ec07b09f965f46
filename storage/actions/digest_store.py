"""Calls to action waiting for volunteers' digests (issue 16)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Integer, Select, delete, exists, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.actions.action_models import Action, DigestItem


async def add(
    session: AsyncSession, user_ids: Iterable[int], action_id: int, now: datetime
) -> None:
    """Keeps the action for these volunteers' next digests (once per person)."""
    ids = list(user_ids)
    if not ids:
        return
    known = set(
        await session.scalars(
            select(DigestItem.user_id).where(
                DigestItem.action_id == action_id, DigestItem.user_id.in_(ids)
            )
        )
    )
    session.add_all(
        DigestItem(user_id=u, action_id=action_id, created_at=now) for u in ids if u not in known
    )
    await session.flush()


async def add_each(
    session: AsyncSession, people: Select[int, datetime], action_id: int, now: datetime
) -> None:
    """`add` for each volunteer a query yields (user id first), in one INSERT … SELECT."""
    found = people.subquery()
    user = found.c[0]
    waiting = select(DigestItem.id).where(
        DigestItem.action_id == action_id, DigestItem.user_id == user
    )
    rows = select(
        user.label("user_id"),
        literal(action_id, Integer).label("action_id"),
        literal(now, DigestItem.__table__.c.created_at.type).label("created_at"),
    ).where(~exists(waiting))
    await session.execute(
        insert(DigestItem).from_select(["user_id", "action_id", "created_at"], rows)
    )


async def take(session: AsyncSession, user_id: int) -> list[Action]:
    """The actions waiting for this volunteer's digest, oldest first; they wait no more."""
    actions = list(
        await session.scalars(
            select(Action)
            .join(DigestItem, DigestItem.action_id == Action.id)
            .where(DigestItem.user_id == user_id)
            .order_by(DigestItem.id)
        )
    )
    await session.execute(delete(DigestItem).where(DigestItem.user_id == user_id))
    return actions

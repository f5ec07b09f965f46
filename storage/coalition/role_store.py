"""Roles: who runs the coalition (owner, chair, secretariat, coordinators, treasurer).

A registered volunteer with none of these roles is a plain member. Who may do what with which
role is decided in handlers/permissions.py (the one permission model); this module only stores
roles.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Role

OWNER = "owner"
CHAIR = "chair"
SECRETARIAT = "secretariat"
COORDINATOR = "coordinator"
TREASURER = "treasurer"
VOLUNTEER_COORDINATOR = "volunteer_coordinator"
MEMBER = "member"  # no stored role: a registered volunteer

ALL = (OWNER, CHAIR, SECRETARIAT, COORDINATOR, TREASURER, VOLUNTEER_COORDINATOR)


async def of_user(session: AsyncSession, user_id: int) -> frozenset[str]:
    """The roles a person holds."""
    rows = await session.scalars(select(Role.role).where(Role.user_id == user_id))
    return frozenset(rows)


async def grant(
    session: AsyncSession, user_id: int, role: str, now: datetime, granted_by: int | None = None
) -> bool:
    """Gives a role; False when the person had it already."""
    existing = await session.scalar(
        select(Role.id).where(Role.user_id == user_id, Role.role == role)
    )
    if existing is not None:
        return False
    session.add(Role(user_id=user_id, role=role, granted_by=granted_by, granted_at=now))
    await session.flush()
    return True


async def revoke(session: AsyncSession, user_id: int, role: str) -> None:
    """Takes a role away."""
    await session.execute(delete(Role).where(Role.user_id == user_id, Role.role == role))


async def count(session: AsyncSession, role: str) -> int:
    """How many people hold a role."""
    return int(await session.scalar(select(func.count()).where(Role.role == role)) or 0)


async def everyone(session: AsyncSession) -> dict[int, frozenset[str]]:
    """Every person holding any role, with their roles."""
    held: dict[int, set[str]] = {}
    for user_id, role in await session.execute(select(Role.user_id, Role.role)):
        held.setdefault(user_id, set()).add(role)
    return {user_id: frozenset(names) for user_id, names in held.items()}


async def holders(session: AsyncSession, role: str) -> list[int]:
    """Everyone with a role."""
    return list(await session.scalars(select(Role.user_id).where(Role.role == role)))


async def ensure(session: AsyncSession, held: Mapping[int, Iterable[str]], now: datetime) -> None:
    """Stores the given roles of each person, keeping the ones they had (at start-up: the
    configured admins' roles, which handlers/permissions.py held_roles decides)."""
    for user_id, names in held.items():
        for role in sorted(names):
            await grant(session, user_id, role, now)

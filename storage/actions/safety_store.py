"""The safety check-in's storage: risky actions, buddies, answers (issue 16)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.actions.safety_models import SafetyCheck, SafetyPlan

PENDING, ASKED, SAFE, HELP, ALERTED = "pending", "asked", "safe", "help", "alerted"


async def plan(session: AsyncSession, action_id: int) -> SafetyPlan | None:
    """The action's safety plan; None when it is not marked risky."""
    return await session.get(SafetyPlan, action_id)


async def plans(session: AsyncSession, action_ids: Sequence[int]) -> set[int]:
    """Which of these actions are marked risky."""
    if not action_ids:
        return set()
    found = await session.scalars(
        select(SafetyPlan.action_id).where(SafetyPlan.action_id.in_(list(action_ids)))
    )
    return set(found)


async def mark(
    session: AsyncSession, action_id: int, wait_minutes: int, by: int, now: datetime
) -> SafetyPlan:
    """Marks an action risky (or changes its wait); returns the plan."""
    found = await session.get(SafetyPlan, action_id)
    if found is None:
        found = SafetyPlan(action_id=action_id, created_by=by, created_at=now)
        session.add(found)
    found.wait_minutes = wait_minutes
    await session.flush()
    return found


async def unmark(session: AsyncSession, action_id: int) -> None:
    """The action is no longer risky: its plan and check-ins go."""
    await session.execute(delete(SafetyCheck).where(SafetyCheck.action_id == action_id))
    await session.execute(delete(SafetyPlan).where(SafetyPlan.action_id == action_id))


async def check_of(session: AsyncSession, action_id: int, user_id: int) -> SafetyCheck | None:
    """A participant's check-in row for the action."""
    return await session.scalar(
        select(SafetyCheck).where(
            SafetyCheck.action_id == action_id, SafetyCheck.user_id == user_id
        )
    )


async def ensure(session: AsyncSession, action_id: int, user_id: int, now: datetime) -> SafetyCheck:
    """The participant's check-in row, created when missing."""
    found = await check_of(session, action_id, user_id)
    if found is None:
        found = SafetyCheck(action_id=action_id, user_id=user_id, state=PENDING, created_at=now)
        session.add(found)
        await session.flush()
    return found


async def invitation(session: AsyncSession, check: SafetyCheck) -> str:
    """The secret of the buddy invitation link (a new one if none is open)."""
    if check.invite is None:
        check.invite = secrets.token_urlsafe(12)
        await session.flush()
    return check.invite


async def by_invite(session: AsyncSession, secret: str) -> SafetyCheck | None:
    """The check-in an invitation link belongs to; None for an unknown or used one."""
    if not secret:
        return None
    return await session.scalar(select(SafetyCheck).where(SafetyCheck.invite == secret))


async def checks(
    session: AsyncSession, action_id: int, states: Sequence[str] | None = None
) -> Sequence[SafetyCheck]:
    """The action's check-ins (in these states), in the order they were made."""
    statement = select(SafetyCheck).where(SafetyCheck.action_id == action_id)
    if states is not None:
        statement = statement.where(SafetyCheck.state.in_(list(states)))
    return (await session.scalars(statement.order_by(SafetyCheck.id))).all()


async def of_person(session: AsyncSession, user_id: int) -> Sequence[SafetyCheck]:
    """The person's check-ins (as a participant)."""
    return (
        await session.scalars(
            select(SafetyCheck).where(SafetyCheck.user_id == user_id).order_by(SafetyCheck.id)
        )
    ).all()

"""Check-ins: when each volunteer last confirmed their profile, who is being asked, who lapsed."""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.coalition.coalition_models import CheckIn
from storage.models import UserPreference, Volunteer

ACTIVE = "active"
INACTIVE = "inactive"


def add_months(moment: datetime, months: int) -> datetime:
    """The same day `months` later (the last day of the month when it has no such day)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


async def get(session: AsyncSession, user_id: int) -> CheckIn | None:
    """A volunteer's check-in record."""
    return await session.get(CheckIn, user_id)


async def confirmed(session: AsyncSession, user_id: int, now: datetime) -> CheckIn:
    """Records that a volunteer confirmed their profile now (no question pending any more)."""
    record = await session.get(CheckIn, user_id)
    if record is None:
        record = CheckIn(user_id=user_id)
        session.add(record)
    record.confirmed_at = now
    record.asked_at = None
    record.lapsed_at = None
    await session.flush()
    return record


async def to_ask(session: AsyncSession, months: int, now: datetime) -> Sequence[Volunteer]:
    """Active volunteers not asked yet whose last confirmation (or registration) is `months` old."""
    rows = await session.execute(
        select(Volunteer, CheckIn)
        .join(CheckIn, CheckIn.user_id == Volunteer.user_id, isouter=True)
        .where(
            Volunteer.status == ACTIVE,
            CheckIn.asked_at.is_(None),
            Volunteer.user_id.not_in(
                select(UserPreference.user_id).where(UserPreference.blocked_bot_at.is_not(None))
            ),
        )
        .order_by(Volunteer.user_id)
    )
    due: list[Volunteer] = []
    for volunteer, record in rows:
        since = record.confirmed_at if record is not None else volunteer.registered_at
        if add_months(since, months) <= now:
            due.append(volunteer)
    return due


async def mark_asked(session: AsyncSession, volunteer: Volunteer, now: datetime) -> None:
    """Records that a volunteer was asked to check in now."""
    record = await session.get(CheckIn, volunteer.user_id)
    if record is None:
        record = CheckIn(user_id=volunteer.user_id, confirmed_at=volunteer.registered_at)
        session.add(record)
    record.asked_at = now
    await session.flush()


async def to_lapse(session: AsyncSession, days: int, now: datetime) -> Sequence[Volunteer]:
    """Active volunteers asked more than `days` ago who have not answered."""
    return (
        await session.scalars(
            select(Volunteer)
            .join(CheckIn, CheckIn.user_id == Volunteer.user_id)
            .where(
                Volunteer.status == ACTIVE,
                CheckIn.asked_at.is_not(None),
                CheckIn.asked_at <= now - timedelta(days=days),
            )
            .order_by(Volunteer.user_id)
        )
    ).all()


async def lapse(session: AsyncSession, volunteer: Volunteer, now: datetime) -> None:
    """Marks a volunteer inactive (not deleted): broadcasts and votes leave them out."""
    volunteer.status = INACTIVE
    volunteer.updated_at = now
    record = await session.get(CheckIn, volunteer.user_id)
    if record is not None:
        record.lapsed_at = now
    await session.flush()


async def come_back(session: AsyncSession, volunteer: Volunteer, now: datetime) -> bool:
    """Confirms a volunteer's profile; an inactive one becomes active again. True if they were."""
    was_inactive = volunteer.status == INACTIVE
    if was_inactive:
        volunteer.status = ACTIVE
        volunteer.updated_at = now
    await confirmed(session, volunteer.user_id, now)
    return was_inactive

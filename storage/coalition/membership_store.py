"""Coalition settings and membership applications."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.coalition.coalition_models import Application, CoalitionSetting
from storage.models import UserPreference, Volunteer, detached

OPEN = "open"
BY_APPLICATION = "application"

PENDING = "pending"
APPROVED = "approved"
REJECTED = "rejected"

# Volunteer statuses
ACTIVE = "active"
APPLICANT = "applicant"
DECLINED = "rejected"
INACTIVE = "inactive"

DEFAULTS: dict[str, Any] = {
    "membership": OPEN,
    "checkin_months": 6,  # 0: no check-ins
    "checkin_days": 14,  # time to answer a check-in
}


async def setting(session: AsyncSession, name: str) -> Any:
    """A setting's value, or its default: a copy (settings change through `change_setting`)."""
    row = await session.get(CoalitionSetting, name)
    return detached(row.value if row is not None else DEFAULTS[name])


async def settings(session: AsyncSession) -> dict[str, Any]:
    """Every setting with its value."""
    rows = await session.scalars(select(CoalitionSetting))
    stored = {row.name: row.value for row in rows if row.name in DEFAULTS}
    return {name: detached(value) for name, value in {**DEFAULTS, **stored}.items()}


async def change_setting(
    session: AsyncSession, name: str, value: Any, actor_id: int, now: datetime
) -> Any:
    """Changes a setting; returns the previous value."""
    if name not in DEFAULTS:
        raise ValueError(f"unknown setting {name!r}")
    row = await session.get(CoalitionSetting, name)
    before = row.value if row is not None else DEFAULTS[name]
    if row is None:
        row = CoalitionSetting(name=name)
        session.add(row)
    row.value = detached(value)
    row.updated_by = actor_id
    row.updated_at = now
    await session.flush()
    return before


async def submit(session: AsyncSession, user_id: int, now: datetime) -> Application:
    """Opens an application (a pending one of the same person is reused)."""
    application = await pending_of(session, user_id)
    if application is None:
        application = Application(user_id=user_id, status=PENDING, exchanges=[], submitted_at=now)
        session.add(application)
    application.submitted_at = now
    await session.flush()
    return application


async def get(session: AsyncSession, application_id: int) -> Application | None:
    """An application by id."""
    return await session.get(Application, application_id)


async def pending_of(session: AsyncSession, user_id: int) -> Application | None:
    """A person's application still waiting for a decision."""
    return await session.scalar(
        select(Application).where(Application.user_id == user_id, Application.status == PENDING)
    )


async def pending(session: AsyncSession) -> Sequence[tuple[Application, Volunteer]]:
    """Applications waiting for a decision, oldest first, with the applicant."""
    rows = await session.execute(
        select(Application, Volunteer)
        .join(Volunteer, Volunteer.user_id == Application.user_id)
        .where(Application.status == PENDING)
        .order_by(Application.submitted_at, Application.id)
    )
    return [(application, volunteer) for application, volunteer in rows]


async def add_exchange(
    session: AsyncSession, application: Application, who: str, text: str, now: datetime
) -> None:
    """Keeps a question of a coordinator or an answer of the applicant with the application."""
    application.exchanges = [
        *application.exchanges,
        {"from": who, "text": text, "at": now.isoformat(timespec="seconds")},
    ]
    await session.flush()


async def decide(
    session: AsyncSession,
    application: Application,
    volunteer: Volunteer,
    approved: bool,
    actor_id: int,
    now: datetime,
    reason: str | None = None,
) -> None:
    """Approves (the volunteer becomes active) or rejects an application."""
    application.status = APPROVED if approved else REJECTED
    application.decided_by = actor_id
    application.decided_at = now
    application.reason = reason
    volunteer.status = ACTIVE if approved else DECLINED
    volunteer.updated_at = now
    await session.flush()


async def languages(session: AsyncSession, user_ids: Iterable[int]) -> dict[int, str | None]:
    """Each person's language (from their profile, or their preference), None when unknown."""
    ids = list(user_ids)
    found: dict[int, str | None] = dict.fromkeys(ids)
    if not ids:
        return found
    for user_id, language in await session.execute(
        select(UserPreference.user_id, UserPreference.language).where(
            UserPreference.user_id.in_(ids)
        )
    ):
        found[user_id] = language
    for user_id, language in await session.execute(
        select(Volunteer.user_id, Volunteer.language).where(Volunteer.user_id.in_(ids))
    ):
        found[user_id] = language
    return found


async def blocked(session: AsyncSession, user_ids: Iterable[int]) -> set[int]:
    """Of these people, those who blocked the bot."""
    ids = list(user_ids)
    if not ids:
        return set()
    rows = await session.scalars(
        select(UserPreference.user_id).where(
            UserPreference.user_id.in_(ids), UserPreference.blocked_bot_at.is_not(None)
        )
    )
    return set(rows)

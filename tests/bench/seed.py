"""Fast set-up for the benchmarks: volunteers and answers inserted in bulk (SQLAlchemy core),
not through the handlers; an event made as /newaction saves it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select

from bot.app import Storage
from storage.actions import action_store
from storage.actions.action_models import Rsvp
from storage.models import Volunteer

BATCH = 5000


async def volunteers(storage: Storage, ids: Sequence[int], now: datetime) -> None:
    """Registers active volunteers with these Telegram ids."""
    rows = [
        {
            "user_id": user_id,
            "kind": "individual",
            "display_name": f"V{user_id}",
            "country": "LB",
            "language": "en",
            "timezone": "Asia/Beirut",
            "skills": [],
            "resources": [],
            "interests": [],
            "muted": [],
            "pledge_accepted_at": now,
            "consent_given_at": now,
            "status": "active",
            "registered_at": now,
            "updated_at": now,
        }
        for user_id in ids
    ]
    async with storage.engine.begin() as connection:
        for start in range(0, len(rows), BATCH):
            await connection.execute(insert(Volunteer), rows[start : start + BATCH])


async def event(storage: Storage, now: datetime, capacity: int | None, created_by: int) -> int:
    """An open meeting tomorrow; returns its id."""
    async with storage.sessionmaker() as session, session.begin():
        action = await action_store.create(
            session,
            {
                "kind": "meeting",
                "title": "Storm",
                "description": "d",
                "at": now + timedelta(days=1),
                "timezone": "UTC",
                "capacity": capacity,
                "audience": {},
                "group_ids": [],
                "reminder_minutes": [],
                "created_by": created_by,
            },
            now,
        )
        return action.id


async def answers(
    storage: Storage, action_id: int, ids: Sequence[int], status: str, now: datetime
) -> None:
    """Stores these volunteers' answers to an action."""
    rows = [
        {"action_id": action_id, "user_id": i, "status": status, "answered_at": now} for i in ids
    ]
    async with storage.engine.begin() as connection:
        for start in range(0, len(rows), BATCH):
            await connection.execute(insert(Rsvp), rows[start : start + BATCH])


async def answer_counts(storage: Storage, action_id: int) -> dict[str, int]:
    """How many answers of each status an action has."""
    async with storage.sessionmaker() as session:
        rows = await session.execute(
            select(Rsvp.status, func.count())
            .where(Rsvp.action_id == action_id)
            .group_by(Rsvp.status)
        )
        return {status: count for status, count in rows.tuples()}

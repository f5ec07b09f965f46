"""A varied crowd of volunteers inserted in bulk, and counters of what a piece of code costs the
database: SQL statements and volunteers loaded as ORM objects (issue 17)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import Storage
from storage.models import UserPreference, Volunteer

SKILLS = ("media", "legal", "research", "logistics", "first_aid")
COUNTRIES = ("LB", "FR", "TN", "EG")
LANGUAGES = ("en", "fr", "ar", "es")
ZONES = ("Asia/Beirut", "Europe/Paris", "America/New_York", "UTC")
NAMES = ("Ana", "Élodie", "ana", "Zeyn", "Omar", "Léa", "Bob", "Ömer", "Salma", "Ana")
MUTED: tuple[list[str] | None, ...] = ([], [], ["action:meeting"], ["action:petition"], None)
STATUSES = ("active",) * 6 + ("asleep", "applicant")
QUIET = (None, None, "off", "13:00-15:30", "16:00-09:00")
DIGESTS = (None, None, None, "daily 18:00", "weekly 09:00")


async def seed(
    storage: Storage, count: int, now: datetime, *, seed: int = 17, first_id: int = 1
) -> None:
    """Inserts `count` volunteers (ids from `first_id`) with varied profiles, privacy and
    preferences; about one in eleven has blocked the bot."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    blocked: list[dict[str, Any]] = []
    for user_id in range(first_id, first_id + count):
        name = rng.choice(NAMES)
        rows.append(
            {
                "user_id": user_id,
                "kind": rng.choice(("individual", "individual", "organisation")),
                "display_name": f"{name} {rng.randint(1, 9)}",
                "username": rng.choice((None, f"{name.lower()}_{user_id}")),
                "org_name": rng.choice((None, None, "Bread & Roses")),
                "country": rng.choice(COUNTRIES),
                "language": rng.choice(LANGUAGES),
                "timezone": rng.choice(ZONES),
                "skills": rng.sample(SKILLS, rng.randint(0, 3)),
                "hours_per_month": rng.choice((0, 2, 8, 20)),
                "resources": [],
                "interests": [],
                "discreet": rng.random() < 0.2,
                "pseudonym": rng.choice((None, None, None, "Nightingale")),
                "keep_username": True,
                "muted": rng.choice(MUTED),
                "quiet_hours": rng.choice(QUIET),
                "digest": rng.choice(DIGESTS),
                "status": rng.choice(STATUSES),
                "pledge_accepted_at": now,
                "consent_given_at": now,
                "registered_at": now,
                "updated_at": now,
            }
        )
        if user_id % 11 == 0:
            blocked.append(
                {"user_id": user_id, "blocked_bot_at": now, "unreachable_reason": "blocked"}
                | {"updated_at": now}
            )
    async with storage.sessionmaker() as session, session.begin():
        await session.execute(insert(Volunteer), rows)
        if blocked:
            await session.execute(insert(UserPreference), blocked)


@dataclass
class Cost:
    """What ran against the database while counting."""

    statements: int = 0
    volunteers_loaded: int = 0


@contextmanager
def counting(engine: AsyncEngine) -> Iterator[Cost]:
    """Counts SQL statements on `engine` and Volunteer rows turned into ORM objects."""
    cost = Cost()

    def statement(*_: Any) -> None:
        cost.statements += 1

    def loaded(*_: Any) -> None:
        cost.volunteers_loaded += 1

    event.listen(engine.sync_engine, "before_cursor_execute", statement)
    event.listen(Volunteer, "load", loaded)
    try:
        yield cost
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", statement)
        event.remove(Volunteer, "load", loaded)

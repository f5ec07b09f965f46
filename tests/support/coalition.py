"""Helpers for the tests of running the coalition: members made directly, people with usernames."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.app import Storage
from handlers.kernel.events import Person
from storage.coalition import checkin_store, membership_store, role_store
from storage.people import volunteers
from tests.support.recording import Conversation, Someone


def someone(
    conversation: Conversation,
    user_id: int,
    first_name: str,
    *,
    username: str | None = None,
    language_code: str = "en",
) -> Someone:
    """A person with a fixed id and an optional @username."""
    return Someone(conversation, Person(user_id, first_name, None, username, language_code))


async def make_member(
    storage: Storage,
    user_id: int,
    *,
    now: datetime,
    name: str = "Member",
    username: str | None = None,
    language: str = "en",
    country: str = "LB",
    kind: str = "individual",
    skills: list[str] | None = None,
    hours: int = 5,
    status: str = "active",
    discreet: bool = False,
    role: str | None = None,
    **extra: Any,
) -> None:
    """Registers a member without the dialog (their check-in clock starts now)."""
    profile: dict[str, Any] = {
        "kind": kind,
        "display_name": name,
        "username": username,
        "country": country,
        "language": language,
        "timezone": "UTC",
        "skills": skills or [],
        "hours_per_month": hours,
        "discreet": discreet,
        **extra,
    }
    async with storage.sessionmaker() as session, session.begin():
        await volunteers.register(
            session,
            user_id,
            profile,
            pledge_accepted_at=now,
            consent_given_at=now,
            status=status,
            now=now,
        )
        await checkin_store.confirmed(session, user_id, now)
        if role is not None:
            await role_store.grant(session, user_id, role, now)


async def set_membership(storage: Storage, mode: str, now: datetime) -> None:
    """Switches the coalition's membership mode (open | application)."""
    async with storage.sessionmaker() as session, session.begin():
        await membership_store.change_setting(session, "membership", mode, 1, now)

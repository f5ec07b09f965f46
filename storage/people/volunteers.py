"""Volunteers: registration, profile changes, look-ups."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Volunteer

PROFILE_FIELDS = frozenset(
    {
        "kind",
        "display_name",
        "username",
        "org_name",
        "org_type",
        "org_country",
        "country",
        "language",
        "timezone",
        "skills",
        "hours_per_month",
        "resources",
        "interests",
        "discreet",
        "quiet_hours",
        "digest",
        "pseudonym",
        "keep_username",
    }
)


SAFETY_CHOICES = ("pseudonym", "keep_username")  # set in /profile only


async def get(session: AsyncSession, user_id: int) -> Volunteer | None:
    """A volunteer by Telegram user id."""
    return await session.get(Volunteer, user_id)


async def kinds_and_statuses(
    session: AsyncSession, user_ids: Iterable[int]
) -> dict[int, tuple[str, str]]:
    """Of these people, the registered ones: their kind and status."""
    ids = list(user_ids)
    if not ids:
        return {}
    rows = await session.execute(
        select(Volunteer.user_id, Volunteer.kind, Volunteer.status).where(
            Volunteer.user_id.in_(ids)
        )
    )
    return {user_id: (kind, status) for user_id, kind, status in rows}


async def register(
    session: AsyncSession,
    user_id: int,
    profile: Mapping[str, Any],
    *,
    pledge_accepted_at: datetime,
    consent_given_at: datetime,
    status: str,
    now: datetime,
) -> Volunteer:
    """Creates (or re-creates) a volunteer from a completed registration."""
    unknown = set(profile) - PROFILE_FIELDS
    if unknown:
        raise ValueError(f"unknown profile fields: {sorted(unknown)}")
    volunteer = await session.get(Volunteer, user_id)
    # the safety kit's choices outlive a new registration of the same person (registration
    # does not ask them): a pseudonym stays, and a username not kept stays unkept
    kept = {name: getattr(volunteer, name) for name in SAFETY_CHOICES} if volunteer else {}
    if volunteer is None:
        volunteer = Volunteer(user_id=user_id, registered_at=now)
        session.add(volunteer)
    for name in PROFILE_FIELDS:
        default = kept[name] if name in kept else _default(name)
        setattr(volunteer, name, profile.get(name, default))
    if not volunteer.keep_username:
        volunteer.username = None
    volunteer.pledge_accepted_at = pledge_accepted_at
    volunteer.consent_given_at = consent_given_at
    volunteer.status = status
    volunteer.updated_at = now
    await session.flush()
    return volunteer


def _default(name: str) -> Any:
    if name in ("skills", "resources", "interests"):
        return []
    if name == "hours_per_month":
        return 0
    if name == "discreet":
        return False
    if name == "keep_username":
        return True
    return None


CHECKINS = "checkins"  # the periodic check-in (handlers/coalition/checkins.py)


def is_muted(volunteer: Volunteer, what: str) -> bool:
    """Whether the volunteer asked not to get this kind of message."""
    return what in (volunteer.muted or [])


def group_mute(chat_id: int) -> str:
    """The mute of reminders about one group's decisions ("decisions:-100123…"); a group's
    migration to a supergroup moves it to the new id (group_store.migrated)."""
    return f"decisions:{chat_id}"


def action_mute(kind: str) -> str:
    """The mute of calls to action of one kind ("action:fundraising")."""
    return f"action:{kind}"


async def set_muted(
    session: AsyncSession, volunteer: Volunteer, what: str, muted: bool, now: datetime
) -> bool:
    """Mutes (or unmutes) one kind of message for a volunteer; True when that changed."""
    current = list(volunteer.muted or [])
    if (what in current) == muted:
        return False
    volunteer.muted = [*current, what] if muted else [m for m in current if m != what]
    volunteer.updated_at = now
    await session.flush()
    return True


async def update_field(
    session: AsyncSession, volunteer: Volunteer, name: str, value: Any, now: datetime
) -> None:
    """Changes one profile field. Not keeping the @username (``keep_username`` False) erases
    the stored one at once, and a username is then never stored again."""
    if name not in PROFILE_FIELDS:
        raise ValueError(f"unknown profile field: {name}")
    setattr(volunteer, name, value)
    if not volunteer.keep_username:
        volunteer.username = None
    volunteer.updated_at = now
    await session.flush()

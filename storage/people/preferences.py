"""Per-person settings that exist before registration: language, whether the bot can reach them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import UserPreference


async def get(session: AsyncSession, user_id: int) -> UserPreference | None:
    """A person's preferences, if stored."""
    return await session.get(UserPreference, user_id)


async def _get_or_create(session: AsyncSession, user_id: int, now: datetime) -> UserPreference:
    preference = await session.get(UserPreference, user_id)
    if preference is None:
        preference = UserPreference(user_id=user_id, updated_at=now)
        session.add(preference)
    return preference


async def set_language(session: AsyncSession, user_id: int, language: str, now: datetime) -> None:
    """Remembers the language a person chose."""
    preference = await _get_or_create(session, user_id, now)
    preference.language = language
    preference.updated_at = now
    await session.flush()


BLOCKED = "blocked"  # the person blocked the bot (403, or my_chat_member "kicked")
DEACTIVATED = "deactivated"  # the person deleted their account (403 "user is deactivated")
NOT_STARTED = "not_started"  # never wrote to the bot (403 "can't initiate conversation")


async def set_unreachable(
    session: AsyncSession, user_id: int, reason: str | None, now: datetime
) -> None:
    """Records why the bot cannot write to a person (BLOCKED, DEACTIVATED, NOT_STARTED), or,
    with `reason` None, that it can again. Everyone unreachable is left out of calls to action,
    reminders and notices until then."""
    preference = await _get_or_create(session, user_id, now)
    preference.blocked_bot_at = now if reason is not None else None
    preference.unreachable_reason = reason
    preference.updated_at = now
    await session.flush()


async def reachable_again(session: AsyncSession, preference: UserPreference, now: datetime) -> None:
    """A person wrote to the bot in private: whatever was recorded, it can reach them now."""
    if preference.blocked_bot_at is None:
        return
    preference.blocked_bot_at = None
    preference.unreachable_reason = None
    preference.updated_at = now
    await session.flush()

"""Per-person settings that exist before registration: language, whether they blocked the bot."""

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


async def set_blocked(session: AsyncSession, user_id: int, blocked: bool, now: datetime) -> None:
    """Records that a person blocked (or unblocked) the bot."""
    preference = await _get_or_create(session, user_id, now)
    preference.blocked_bot_at = now if blocked else None
    preference.updated_at = now
    await session.flush()

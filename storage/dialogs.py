"""Dialog state: where a person is in a multi-step dialog."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import DialogState, detached


async def get(session: AsyncSession, user_id: int, chat_id: int) -> DialogState | None:
    """The person's dialog in a chat, if any."""
    return await session.get(DialogState, (user_id, chat_id))


async def save(
    session: AsyncSession,
    user_id: int,
    chat_id: int,
    flow: str,
    step: str,
    data: dict[str, Any],
    now: datetime,
) -> DialogState:
    """Stores the dialog at a step with its collected data."""
    state = await session.get(DialogState, (user_id, chat_id))
    if state is None:
        state = DialogState(user_id=user_id, chat_id=chat_id)
        session.add(state)
    state.flow = flow
    state.step = step
    state.data = detached(data)
    state.updated_at = now
    await session.flush()
    return state


async def clear(session: AsyncSession, user_id: int, chat_id: int) -> None:
    """Ends the dialog."""
    await session.execute(
        delete(DialogState).where(DialogState.user_id == user_id, DialogState.chat_id == chat_id)
    )

"""The outbox: messages waiting for paced delivery, one row per recipient."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxMessage

PENDING = "pending"


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to deliver: to whom, what, and why."""

    chat_id: int
    text: str
    keyboard: list[Any] | None = None


async def enqueue(
    session: AsyncSession,
    messages: Iterable[Outgoing],
    *,
    purpose: str,
    ref: str | None,
    now: datetime,
    not_before: datetime | None = None,
) -> int:
    """Adds messages to the outbox in the caller's transaction; returns how many."""
    rows = [
        {
            "purpose": purpose,
            "ref": ref,
            "chat_id": message.chat_id,
            "text": message.text,
            "keyboard": message.keyboard,
            "state": PENDING,
            "attempts": 0,
            "not_before": not_before,
            "created_at": now,
        }
        for message in messages
    ]
    if rows:
        await session.execute(insert(OutboxMessage), rows)
    return len(rows)

"""The audit log: every admin action, who did it, to whom, when (the AuditEntry table)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry


async def record(
    session: AsyncSession,
    actor_id: int,
    action: str,
    now: datetime,
    *,
    target_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Writes one entry, in the caller's transaction (so it exists exactly when the change does)."""
    entry = AuditEntry(
        actor_id=actor_id, action=action, target_id=target_id, details=details or {}, at=now
    )
    session.add(entry)
    await session.flush()
    return entry


async def page(session: AsyncSession, offset: int, limit: int) -> Sequence[AuditEntry]:
    """Entries newest first, one page."""
    return (
        await session.scalars(
            select(AuditEntry)
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
            .offset(offset)
            .limit(limit)
        )
    ).all()


async def total(session: AsyncSession) -> int:
    """How many entries there are."""
    return int(await session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


async def everything(session: AsyncSession) -> Sequence[AuditEntry]:
    """Every entry, oldest first (for the CSV export)."""
    return (await session.scalars(select(AuditEntry).order_by(AuditEntry.at, AuditEntry.id))).all()


async def of_action(session: AsyncSession, action: str) -> Sequence[AuditEntry]:
    """Entries of one kind, oldest first."""
    return (
        await session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
    ).all()

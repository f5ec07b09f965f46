"""Broadcasts: one sending about an action, its outbox rows under the ref "b<id>", its report."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.actions.action_models import Broadcast

RUNNING = "running"
STOPPED = "stopped"
DONE = "done"
ANNOUNCE = "announce"


def ref(broadcast_id: int) -> str:
    """The outbox ref of a broadcast's rows."""
    return f"b{broadcast_id}"


def id_of(ref_text: str) -> int | None:
    """The broadcast id behind an outbox ref, if it is one."""
    if ref_text.startswith("b") and ref_text[1:].isdigit():
        return int(ref_text[1:])
    return None


async def create(
    session: AsyncSession,
    action_id: int,
    purpose: str,
    now: datetime,
    *,
    report_chat_id: int | None = None,
    report_locale: str = "en",
) -> Broadcast:
    """Starts a broadcast (its rows are enqueued next, in the same transaction)."""
    broadcast = Broadcast(
        action_id=action_id,
        purpose=purpose,
        total=0,
        state=RUNNING,
        report_chat_id=report_chat_id,
        report_locale=report_locale,
        created_at=now,
    )
    session.add(broadcast)
    await session.flush()
    return broadcast


async def get(session: AsyncSession, broadcast_id: int) -> Broadcast | None:
    """A broadcast by id."""
    return await session.get(Broadcast, broadcast_id)


async def unreported(session: AsyncSession, before: datetime) -> Sequence[Broadcast]:
    """Broadcasts created before `before` that still owe a coordinator their report (its
    progress message, or the summary), oldest first."""
    return (
        await session.scalars(
            select(Broadcast)
            .where(
                Broadcast.finished_at.is_(None),
                Broadcast.report_chat_id.is_not(None),
                Broadcast.created_at < before,
            )
            .order_by(Broadcast.id)
        )
    ).all()


async def of_action(session: AsyncSession, action_id: int) -> Sequence[Broadcast]:
    """Every broadcast of an action, oldest first."""
    return (
        await session.scalars(
            select(Broadcast).where(Broadcast.action_id == action_id).order_by(Broadcast.id)
        )
    ).all()


async def stop(session: AsyncSession, broadcast: Broadcast) -> int:
    """Stops a running broadcast; returns how many messages will not be sent."""
    stopped = await outbox.stop(session, ref(broadcast.id))
    if broadcast.state == RUNNING:
        broadcast.state = STOPPED
    await session.flush()
    return stopped


async def stop_all(session: AsyncSession, action_id: int) -> int:
    """Stops every running broadcast of an action."""
    total = 0
    for broadcast in await of_action(session, action_id):
        if broadcast.state == RUNNING:
            total += await stop(session, broadcast)
    return total


async def delivered_to(session: AsyncSession, action_id: int) -> list[int]:
    """Private chats that received the action's announcement."""
    refs = [ref(b.id) for b in await of_action(session, action_id) if b.purpose == ANNOUNCE]
    return [chat for chat in await outbox.chats_sent(session, refs) if chat > 0]

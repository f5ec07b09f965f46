"""Broadcasts: one sending about an action, its outbox rows under the ref "b<id>", its report."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.actions import audience_store
from storage.actions.action_models import Broadcast
from storage.models import detached

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


# How many rows a fan-out still to plan will enqueue (`broadcasts.rows_to_plan`).
ToPlan = Callable[[AsyncSession, Broadcast], Awaitable[int]]


async def stop(session: AsyncSession, broadcast: Broadcast, to_plan: ToPlan | None = None) -> int:
    """Stops a running broadcast; returns how many messages will not be sent (those its
    fan-out has still to enqueue are enqueued as not sent; `to_plan` counts them while its
    plan is pending)."""
    stopped = await outbox.stop(session, ref(broadcast.id)) + not_enqueued(broadcast)
    if broadcast.fanout_after == PLANNING and to_plan is not None:
        stopped += await to_plan(session, broadcast)
    if broadcast.state == RUNNING:
        broadcast.state = STOPPED
    await session.flush()
    return stopped


async def stop_all(session: AsyncSession, action_id: int, to_plan: ToPlan | None = None) -> int:
    """Stops every running broadcast of an action."""
    total = 0
    for broadcast in await of_action(session, action_id):
        if broadcast.state == RUNNING:
            total += await stop(session, broadcast, to_plan)
    return total


async def delivered_to(session: AsyncSession, action_id: int) -> list[int]:
    """Private chats that received the action's announcement."""
    refs = [ref(b.id) for b in await of_action(session, action_id) if b.purpose == ANNOUNCE]
    return [chat for chat in await outbox.chats_sent(session, refs) if chat > 0]


# A broadcast to an audience is enqueued this many volunteers at a time, each chunk in its own
# short transaction (issue 17: an INSERT … SELECT of 100k rows held SQLite's write lock for
# about a second, and every other update waited behind it). The first chunk goes in the
# coordinator's transaction: a smaller audience is enqueued there whole, as before.
FANOUT_CHUNK = 2000

View = tuple[audience_store.Share, str, Any, datetime | None]

# `broadcasts.fanout_after` of a fan-out still to plan: its shares are read after the
# coordinator's commit, in a read session (issue 17: their GROUP BY held SQLite's write lock
# ~86 ms at 100k volunteers); `fanout` then holds only what planning needs (`pending_plan`).
# Below every user id, so it is never mistaken for a cursor.
PLANNING = -1


def pending_plan(
    filters: Mapping[str, Any], kind: str | None, leaving_out: Collection[int], audit_id: int | None
) -> dict[str, Any]:
    """What a fan-out still to plan needs (JSON): the audience's filters and kind, who is left
    out (they got their own view), and the audit entry whose recipients the plan fills in."""
    return {
        "filters": detached(dict(filters)),
        "kind": kind,
        "leaving_out": sorted(leaving_out),
        "audit_id": audit_id,
    }


async def store_plan(
    session: AsyncSession, broadcast_id: int, plan: Mapping[str, Any], shared: int
) -> bool:
    """Stores the plan of a fan-out still to plan and sets its cursor before the first
    volunteer, in the caller's transaction; `shared`: the rows its chunks will enqueue (the
    expected total adds those enqueued already). False when it was planned meanwhile (on
    PostgreSQL a second planner waits for this row, then finds it planned)."""
    total = await session.scalar(select(Broadcast.total).where(Broadcast.id == broadcast_id))
    stored = dict(plan) | {"expected": int(total or 0) + shared}
    result = await session.execute(
        update(Broadcast)
        .where(Broadcast.id == broadcast_id, Broadcast.fanout_after == PLANNING)
        .values(fanout=stored, fanout_after=0)
        .execution_options(synchronize_session="evaluate")
    )
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


def fanout_plan(
    filters: Mapping[str, Any],
    kind: str | None,
    views: Sequence[View],
    leaving_out: Collection[int],
    expected: int,
) -> dict[str, Any]:
    """What the chunks of a fan-out need, as stored on the broadcast (JSON): the audience's
    filters and kind, the message of each share, who is left out (they get their own view),
    and the total the broadcast is expected to reach once every chunk is in (its report)."""
    return {
        "filters": detached(dict(filters)),
        "kind": kind,
        "leaving_out": sorted(leaving_out),
        "expected": expected,
        "views": [
            {
                "language": share.language,
                "timezone": share.timezone,
                "quiet_hours": share.quiet_hours,
                "digest": share.digest,
                "text": text,
                "keyboard": keyboard,
                "not_before": None if moment is None else moment.isoformat(),
            }
            for share, text, keyboard, moment in views
        ],
    }


def _views(plan: Mapping[str, Any]) -> list[View]:
    return [
        (
            audience_store.Share(v["language"], v["timezone"], v["quiet_hours"], v["digest"], 0),
            v["text"],
            v["keyboard"],
            None if v["not_before"] is None else datetime.fromisoformat(v["not_before"]),
        )
        for v in plan["views"]
    ]


async def fan_out(
    session: AsyncSession, broadcast_id: int, now: datetime, size: int | None = None
) -> int | None:
    """Enqueues the next chunk of a broadcast's fan-out (the next `size` volunteers by id, those
    of the audience among them) in the
    caller's transaction, and moves its cursor past them in the same transaction: a crash
    loses the chunk and its cursor together, so every recipient is enqueued once. Returns how
    many rows it enqueued (0: another worker took this chunk first), None when nothing is left
    to enqueue. A broadcast stopped meanwhile gets its remaining rows as not sent."""
    found = (
        await session.execute(
            select(Broadcast.fanout, Broadcast.fanout_after, Broadcast.state).where(
                Broadcast.id == broadcast_id
            )
        )
    ).one_or_none()
    if found is None or found.fanout is None or found.fanout_after is None:
        return None
    plan, after = found.fanout, int(found.fanout_after)
    if after == PLANNING:
        return None  # its plan first (`broadcasts.plan_fan_out`)
    filters, kind = plan["filters"], plan["kind"]
    size = size or FANOUT_CHUNK
    through = await audience_store.next_bound(session, after, size)
    # The cursor moves first: on PostgreSQL a second worker on the same chunk waits for this
    # row, then finds the cursor moved and enqueues nothing.
    moved: dict[str, Any] = {"fanout_after": through}
    if through is None:
        moved["fanout"] = None
    result = await session.execute(
        update(Broadcast)
        .where(Broadcast.id == broadcast_id, Broadcast.fanout_after == after)
        .values(moved)
        .execution_options(synchronize_session="evaluate")
    )
    assert isinstance(result, CursorResult)
    if result.rowcount != 1:
        return 0
    key = ref(broadcast_id)
    stopped = found.state == STOPPED
    count = 0
    views = _views(plan)
    leaving_out = plan["leaving_out"]
    statements = audience_store.messages(
        session, filters, kind, views, leaving_out=leaving_out, after=after, through=through
    )
    for rows in statements if views else ():
        count += await outbox.enqueue_each(
            session, rows, purpose="broadcast", ref=key, now=now, stopped=stopped
        )
    if count:
        await session.execute(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id)
            .values(total=Broadcast.total + count)
            .execution_options(synchronize_session="evaluate")
        )
    return count


async def fanning_out(session: AsyncSession) -> list[int]:
    """The broadcasts whose fan-out is not all enqueued (a crash interrupted it), oldest first."""
    rows = await session.scalars(
        select(Broadcast.id).where(Broadcast.fanout_after.is_not(None)).order_by(Broadcast.id)
    )
    return list(rows)


def not_enqueued(broadcast: Broadcast) -> int:
    """How many rows a broadcast's fan-out is still expected to enqueue (0: none pending, or
    not known yet: its plan is pending, and the report shows it is not done)."""
    if broadcast.fanout is None or broadcast.fanout_after is None:
        return 0
    if broadcast.fanout_after == PLANNING:
        return 0
    return max(0, int(broadcast.fanout.get("expected", 0)) - broadcast.total)

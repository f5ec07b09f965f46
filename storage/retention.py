"""Data retention: old delivered messages, processed-update ids and audit entries are forgotten.

A daily timer (handlers/retention.py) prunes a bounded batch per table in one short transaction,
and comes back a minute later while a table still had more, so that a first prune of years of
rows never holds the database for long.

- Outbox rows in a final state (sent, failed, stopped) older than `outbox_days`: deleted —
  except broadcast rows, whose state and chat id are what an action's delivery figures (/stats,
  /actions) and its later notices (an edit, a cancellation) count on: their text and buttons are
  erased instead, and the row stays.
- Processed-update ids older than `updates_days`: deleted. Kept under a week on purpose: after a
  week without updates Telegram picks the next update id at random, and an old id still stored
  would make a new update look like a replay.
- Audit entries older than `audit_days`: deleted (0 keeps them for ever).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession

from storage import timers
from storage.models import AuditEntry, OutboxMessage, ProcessedUpdate, Timer

TIMER = "retention"
KEY = "daily"
RUN_AT_HOUR = 3  # UTC: the daily prune runs at 03:00
AGAIN_SOON = timedelta(minutes=1)  # when a batch was full, the next one comes this soon
MAX_UPDATES_DAYS = 6
FINAL_STATES = ("sent", "failed", "stopped")
BROADCAST = "broadcast"


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long rows are kept, in days (0: for ever, except processed updates: 1 to 6)."""

    outbox_days: int = 30
    updates_days: int = 2
    audit_days: int = 365
    batch: int = 5000  # rows per table and per run


@dataclass(frozen=True, slots=True)
class Pruned:
    """What one run did: rows deleted (or, for broadcast rows, erased) per table."""

    outbox: int = 0
    updates: int = 0
    audit: int = 0
    full: bool = False  # a batch was full: more rows may be waiting

    @property
    def total(self) -> int:
        """Rows touched."""
        return self.outbox + self.updates + self.audit


def next_run(now: datetime) -> datetime:
    """The next 03:00 UTC after `now`."""
    today = now.replace(hour=RUN_AT_HOUR, minute=0, second=0, microsecond=0)
    return today if today > now else today + timedelta(days=1)


async def ensure_scheduled(session: AsyncSession, now: datetime) -> None:
    """Schedules the daily prune (at the next 03:00 UTC) unless it is pending already."""
    pending = await session.scalar(
        select(Timer.id).where(Timer.kind == TIMER, Timer.key == KEY, Timer.status == "pending")
    )
    if pending is None:
        await timers.schedule(session, TIMER, KEY, next_run(now), now)


def _count(result: object) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


async def prune(session: AsyncSession, now: datetime, policy: RetentionPolicy) -> Pruned:
    """Forgets at most `policy.batch` rows per table that are older than the policy allows."""
    limit = policy.batch
    outbox = updates = audit = 0
    full = False
    if policy.outbox_days > 0:
        cutoff = now - timedelta(days=policy.outbox_days)
        done_at = func.coalesce(OutboxMessage.sent_at, OutboxMessage.created_at)
        old: ColumnElement[bool] = OutboxMessage.state.in_(FINAL_STATES) & (done_at < cutoff)
        gone = select(OutboxMessage.id).where(old, OutboxMessage.purpose != BROADCAST)
        outbox = _count(
            await session.execute(
                delete(OutboxMessage).where(
                    OutboxMessage.id.in_(gone.limit(limit).scalar_subquery())
                )
            )
        )
        erased = select(OutboxMessage.id).where(
            old, OutboxMessage.purpose == BROADCAST, OutboxMessage.text != ""
        )
        erase = _count(
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(erased.limit(limit).scalar_subquery()))
                .values(text="", keyboard=None)
            )
        )
        full = outbox >= limit or erase >= limit
        outbox += erase
    days = min(max(policy.updates_days, 1), MAX_UPDATES_DAYS)
    old_ids = select(ProcessedUpdate.update_id).where(
        ProcessedUpdate.processed_at < now - timedelta(days=days)
    )
    updates = _count(
        await session.execute(
            delete(ProcessedUpdate).where(
                ProcessedUpdate.update_id.in_(old_ids.limit(limit).scalar_subquery())
            )
        )
    )
    full = full or updates >= limit
    if policy.audit_days > 0:
        audit = await prune_audit(session, now - timedelta(days=policy.audit_days), limit)
        full = full or audit >= limit
    return Pruned(outbox, updates, audit, full)


async def prune_audit(session: AsyncSession, before: datetime, limit: int) -> int:
    """Deletes up to `limit` audit entries recorded before `before`; returns how many."""
    old = select(AuditEntry.id).where(AuditEntry.at < before).limit(limit)
    return _count(
        await session.execute(delete(AuditEntry).where(AuditEntry.id.in_(old.scalar_subquery())))
    )

"""The daily retention timer, moved through time with the injectable clock."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from sqlalchemy import func, select

from bot.app import Storage
from handlers.kernel.ports import ShiftedClock
from storage import outbox, retention
from storage.coalition import audit_store
from storage.models import AuditEntry, OutboxMessage, ProcessedUpdate, Timer
from storage.outbox import Outgoing
from tests.handlers.test_registration import register_individual
from tests.support.actions import engine_for
from tests.support.recording import Conversation


async def _count(storage: Storage, column: object) -> int:
    async with storage.sessionmaker() as session:
        return int(await session.scalar(select(func.count(column))) or 0)  # type: ignore[call-overload]


async def _outbox(storage: Storage) -> list[tuple[str, str, str]]:
    async with storage.sessionmaker() as session:
        rows = await session.execute(
            select(OutboxMessage.purpose, OutboxMessage.state, OutboxMessage.text).order_by(
                OutboxMessage.id
            )
        )
        return [(purpose, state, text) for purpose, state, text in rows]


async def test_old_rows_are_forgotten_each_after_its_own_time_in_bounded_batches(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    services = conversation.dispatcher.services
    services.settings = dataclasses.replace(
        services.settings, retention=retention.RetentionPolicy(batch=2)
    )
    dispatcher = conversation.dispatcher
    amira = conversation.person("Amira")
    await register_individual(amira)
    updates_seen = await _count(storage, ProcessedUpdate.update_id)
    assert updates_seen > 2
    async with storage.sessionmaker() as session, session.begin():
        now = clock.now()
        await outbox.enqueue(
            session, [Outgoing(amira.person.id, "Vigil")], purpose="broadcast", ref="b1", now=now
        )
        notices = [Outgoing(amira.person.id, f"Notice {i}") for i in range(3)]
        await outbox.enqueue(session, notices, purpose="notice", ref=None, now=now)
        await audit_store.record(session, amira.person.id, "test.entry", now)
        await retention.ensure_scheduled(session, now)
    await engine_for(services).drain()

    clock.advance(timedelta(days=3))
    await dispatcher.run_due_timers()  # update ids are older than 2 days: a full batch, again soon
    assert await _count(storage, ProcessedUpdate.update_id) == updates_seen - 2
    for _ in range(updates_seen):
        clock.advance(retention.AGAIN_SOON)
        await dispatcher.run_due_timers()
    assert await _count(storage, ProcessedUpdate.update_id) == 0
    assert len(await _outbox(storage)) == 4 and await _count(storage, AuditEntry.id) == 1

    clock.advance(timedelta(days=28))
    for _ in range(3):
        await dispatcher.run_due_timers()
        clock.advance(retention.AGAIN_SOON)
    # Notices are deleted; the broadcast row keeps its state for the action's figures, not its text.
    assert await _outbox(storage) == [("broadcast", "sent", "")]
    assert await _count(storage, AuditEntry.id) == 1

    clock.advance(timedelta(days=335))
    await dispatcher.run_due_timers()
    assert await _count(storage, AuditEntry.id) == 0
    rows = await _outbox(storage)  # (a check-in notice is new since)
    assert rows[0] == ("broadcast", "sent", "") and not any("Notice" in r[2] for r in rows)


async def test_the_daily_prune_runs_at_three_and_is_scheduled_once(
    storage: Storage, clock: ShiftedClock
) -> None:
    now = clock.now()
    async with storage.sessionmaker() as session, session.begin():
        await retention.ensure_scheduled(session, now)
        await retention.ensure_scheduled(session, now + timedelta(hours=30))
        due = list(await session.scalars(select(Timer.due_at).where(Timer.kind == retention.TIMER)))
    assert due == [retention.next_run(now)]
    assert due[0].hour == 3 and timedelta(0) < due[0] - now <= timedelta(days=1)

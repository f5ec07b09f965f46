"""A broadcast's progress message is posted once, even when the leader resumes the reports
owed (handlers/actions/broadcasts.resume_reports) while a worker is still posting it."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from bot.app import Storage
from handlers.actions import broadcasts
from handlers.kernel.context import Services
from handlers.kernel.i18n import translator
from handlers.kernel.ports import ShiftedClock
from storage import outbox
from storage.actions import action_store, broadcast_store
from storage.models import OutboxMessage
from storage.outbox import Outgoing
from tests.conftest import COORDINATOR_ID
from tests.support.recording import RecordingMessenger


class Slow(RecordingMessenger):
    """Telegram taking its time to answer the first progress message (a busy moment)."""

    def __init__(self) -> None:
        super().__init__()
        self.reached = asyncio.Event()
        self.go_on = asyncio.Event()
        self.waited = False

    async def send_message(self, chat_id: int, text: str, *args: Any, **kwargs: Any) -> Any:
        if not self.waited and "📤" in text:
            self.waited = True
            self.reached.set()
            await self.go_on.wait()
        return await super().send_message(chat_id, text, *args, **kwargs)


async def _broadcast(storage: Storage, clock: ShiftedClock) -> int:
    now = clock.now()
    async with storage.sessionmaker() as session, session.begin():
        action = await action_store.create(
            session,
            {
                "kind": "meeting",
                "title": "Vigil",
                "description": "Bring candles",
                "at": now + timedelta(days=3),
                "timezone": "UTC",
                "audience": {},
                "group_ids": [],
                "reminder_minutes": [],
                "created_by": COORDINATOR_ID,
            },
            now,
        )
        sending = await broadcast_store.create(
            session, action.id, "announce", now, report_chat_id=COORDINATOR_ID
        )
        await outbox.enqueue(
            session,
            [Outgoing(7001, "Vigil"), Outgoing(7002, "Vigil")],
            purpose="broadcast",
            ref=broadcast_store.ref(sending.id),
            now=now,
        )
        return sending.id


async def test_a_report_being_posted_is_not_posted_again_by_the_leader_resuming_reports(
    services: Services, storage: Storage, clock: ShiftedClock
) -> None:
    """The coordinator pressed "Send it"; the progress message is on its way (Telegram slow to
    answer) when a worker becomes leader and resumes the reports still owed: it must not post
    a second progress message (that one would stay at "0 of 2" for good, never refreshed)."""
    slow = Slow()
    services.messenger = slow
    broadcast_id = await _broadcast(storage, clock)
    start = broadcasts._start_report(services, broadcast_id, COORDINATOR_ID, translator("en"))
    posting = asyncio.create_task(start(slow))
    await asyncio.wait_for(slow.reached.wait(), 5)
    clock.advance(timedelta(seconds=1))
    await asyncio.wait_for(broadcasts.resume_reports(services, clock.now()), 5)
    slow.go_on.set()
    await asyncio.wait_for(posting, 5)
    progress = [m for m in slow.chats.get(COORDINATOR_ID, []) if "📤" in m.text]
    assert len(progress) == 1, [m.text for m in progress]
    async with storage.sessionmaker() as session:
        broadcast = await broadcast_store.get(session, broadcast_id)
        assert broadcast is not None and broadcast.report_message_id == progress[0].message_id


async def test_a_report_a_crash_left_unposted_is_posted_by_the_leader(
    services: Services, storage: Storage, clock: ShiftedClock, messenger: RecordingMessenger
) -> None:
    broadcast_id = await _broadcast(storage, clock)  # the start was lost with the process
    clock.advance(timedelta(seconds=1))
    await broadcasts.resume_reports(services, clock.now())
    progress = [m for m in messenger.chats.get(COORDINATOR_ID, []) if "📤" in m.text]
    assert len(progress) == 1
    async with storage.sessionmaker() as session:
        broadcast = await broadcast_store.get(session, broadcast_id)
        assert broadcast is not None and broadcast.report_message_id == progress[0].message_id


async def test_on_postgresql_another_worker_resuming_leaves_the_post_to_the_worker_posting(
    postgres_url: str, clock: ShiftedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers on one PostgreSQL database: the one posting the progress message holds the
    report's advisory lock; the other, just elected leader, leaves that report alone."""
    import weakref

    from sqlalchemy import text

    from bot.app import open_storage
    from handlers.kernel.context import HandlerSettings
    from storage import create_engine

    engine = create_engine(postgres_url)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
    storage = await open_storage(postgres_url)
    try:
        slow, other = Slow(), RecordingMessenger()
        settings = HandlerSettings(admin_ids=frozenset({COORDINATOR_ID}))
        posting_worker = Services(storage.sessionmaker, slow, clock, settings)
        leader = Services(storage.sessionmaker, other, clock, settings)
        broadcast_id = await _broadcast(storage, clock)
        start = broadcasts._start_report(
            posting_worker, broadcast_id, COORDINATOR_ID, translator("en")
        )
        posting = asyncio.create_task(start(slow))
        await asyncio.wait_for(slow.reached.wait(), 5)
        # another process: none of this one's own locks
        monkeypatch.setattr(broadcasts, "_starting", weakref.WeakValueDictionary())
        clock.advance(timedelta(seconds=1))
        await asyncio.wait_for(broadcasts.resume_reports(leader, clock.now()), 5)
        slow.go_on.set()
        await asyncio.wait_for(posting, 5)
        assert other.chats.get(COORDINATOR_ID, []) == []
        assert len([m for m in slow.chats[COORDINATOR_ID] if "📤" in m.text]) == 1
    finally:
        async with storage.engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
        await storage.engine.dispose()


class FirstTexts(RecordingMessenger):
    """Remembers each message as it was first posted (edits change what the chat shows)."""

    def __init__(self) -> None:
        super().__init__()
        self.posted: list[str] = []

    async def send_message(self, chat_id: int, text: str, *args: Any, **kwargs: Any) -> Any:
        self.posted.append(text)
        return await super().send_message(chat_id, text, *args, **kwargs)


async def test_the_progress_message_counts_the_messages_to_send_from_its_first_post(
    services: Services, storage: Storage, clock: ShiftedClock
) -> None:
    """Sandbox finding: the progress message was first posted with no counts at all, so it
    said "Remaining: 0" before anything was sent, until its first edit."""
    recording = FirstTexts()
    services.messenger = recording
    broadcast_id = await _broadcast(storage, clock)
    start = broadcasts._start_report(services, broadcast_id, COORDINATOR_ID, translator("en"))
    await start(recording)
    assert len(recording.posted) == 1
    assert "Remaining: 2" in recording.posted[0], recording.posted[0]


async def test_a_fan_out_still_to_enqueue_counts_as_remaining_in_the_first_post(
    services: Services, storage: Storage, clock: ShiftedClock
) -> None:
    """Rows the fan-out has not enqueued yet are remaining from the first post on."""
    recording = FirstTexts()
    services.messenger = recording
    broadcast_id = await _broadcast(storage, clock)
    async with storage.sessionmaker() as session, session.begin():
        broadcast = await broadcast_store.get(session, broadcast_id)
        assert broadcast is not None
        broadcast.total = 2
        broadcast.fanout = {"expected": 5000}  # the rest comes a chunk a transaction
        broadcast.fanout_after = 0
    start = broadcasts._start_report(services, broadcast_id, COORDINATOR_ID, translator("en"))
    await start(recording)
    assert "Remaining: 5,000" in recording.posted[0], recording.posted[0]


async def test_a_broadcast_over_before_its_report_is_posted_is_posted_as_its_summary(
    services: Services, storage: Storage, clock: ShiftedClock
) -> None:
    """Every message went before the progress message could be posted: the first post is
    the summary, not "Sending… Remaining: 0"."""
    recording = FirstTexts()
    services.messenger = recording
    broadcast_id = await _broadcast(storage, clock)
    async with storage.sessionmaker() as session, session.begin():
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.ref == broadcast_store.ref(broadcast_id))
            .values(state=outbox.SENT)
        )
    start = broadcasts._start_report(services, broadcast_id, COORDINATOR_ID, translator("en"))
    await start(recording)
    assert "Remaining" not in recording.posted[0], recording.posted[0]
    assert "Delivered: 2 messages" in recording.posted[0], recording.posted[0]
    async with storage.sessionmaker() as session:
        broadcast = await broadcast_store.get(session, broadcast_id)
        assert broadcast is not None and broadcast.finished_at is not None

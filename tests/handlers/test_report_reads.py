"""A broadcast's progress report counts its rows in a read-only session (issue 17): at 100k
recipients the counts take ~70 ms, which a write transaction held the write lock for, every
time the delivery engine recorded results; presses waited behind it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import event

from bot.app import Storage
from handlers.actions import broadcasts
from handlers.kernel.context import Services
from handlers.kernel.ports import ShiftedClock
from storage import create_read_sessionmaker
from storage.actions import broadcast_store
from storage.db import READ_ONLY
from tests.conftest import COORDINATOR_ID
from tests.handlers.test_report_start import _broadcast


async def test_a_report_refresh_with_nothing_to_write_takes_no_write_lock(
    services: Services, storage: Storage, clock: ShiftedClock
) -> None:
    services.reads = create_read_sessionmaker(storage.engine)
    broadcast_id = await _broadcast(storage, clock)
    posted = await services.messenger.send_message(COORDINATOR_ID, "📤 0 / 2")
    async with storage.sessionmaker() as session, session.begin():
        broadcast = await broadcast_store.get(session, broadcast_id)
        assert broadcast is not None
        shown = clock.now()
        broadcast.report_message_id, broadcast.reported_at = posted.message_id, shown
    began: list[bool] = []

    @event.listens_for(storage.engine.sync_engine, "begin")
    def _begun(conn: Any) -> None:
        began.append(bool(conn.get_execution_options().get(READ_ONLY)))

    await broadcasts.refresh(services, broadcast_id)  # shown a moment ago: not again yet
    assert began == [True]  # it only read
    began.clear()
    clock.advance(timedelta(minutes=5))
    await broadcasts.refresh(services, broadcast_id)  # due: shown, and its moment written
    assert began == [True, False]
    async with storage.sessionmaker() as session:
        broadcast = await broadcast_store.get(session, broadcast_id)
        assert broadcast is not None and broadcast.reported_at is not None
        moved = broadcast.reported_at.replace(tzinfo=None) - shown.replace(tzinfo=None)
        assert moved >= timedelta(minutes=5)

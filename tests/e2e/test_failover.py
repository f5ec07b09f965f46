"""Two workers on one PostgreSQL: one leads (runs the timers); when it dies, the other leads
within 15 s and the timer that comes due afterwards fires there, once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from bot.app import open_storage
from botapi_emulator.client import SandboxClient
from botapi_emulator.emulator import RunningEmulator
from handlers.kernel.ports import ShiftedClock
from storage import create_engine, retention
from storage.models import Timer
from tests.e2e.conftest import PATIENCE, ChorusUnderTest
from tests.e2e.test_webhook import free_port

TAKEOVER = 15.0  # seconds: the bound (TRY_EVERY is 5 s)


@pytest.fixture
async def pg_url(postgres_url: str) -> AsyncIterator[str]:
    """PostgreSQL emptied before and after."""

    async def empty() -> None:
        engine = create_engine(postgres_url)
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
        await engine.dispose()

    await empty()
    yield postgres_url
    await empty()


@pytest.fixture(params=["aiogram", "ptb"])
async def workers(
    request: pytest.FixtureRequest,
    emulator: RunningEmulator,
    sandbox: SandboxClient,
    clock: ShiftedClock,
    pg_url: str,
    tmp_path: Path,
) -> AsyncIterator[list[ChorusUnderTest]]:
    """Two webhook workers on one PostgreSQL, started one after the other."""
    coordinator = await sandbox.create_user("Coral", language_code="en")
    started = []
    try:
        for _ in range(2):
            worker = ChorusUnderTest(
                emulator=emulator,
                sandbox=sandbox,
                clock=clock,
                database_url=pg_url,
                coordinator=coordinator,
                runtime=request.param,
                webhook_url=f"http://127.0.0.1:{free_port()}/hook",
            )
            await worker.start()
            started.append(worker)
        yield started
    finally:
        for worker in started:
            await worker.kill()


async def _retention_due(url: str) -> datetime:
    storage = await open_storage(url)
    try:
        async with storage.sessionmaker() as session:
            return await session.scalar(select(Timer.due_at).where(Timer.kind == retention.TIMER))
    finally:
        await storage.engine.dispose()


@pytest.mark.postgres
async def test_the_leader_dies_and_the_other_worker_takes_over(
    workers: list[ChorusUnderTest], pg_url: str
) -> None:
    first, second = workers
    assert first.running is not None and second.running is not None
    leading, standing_by = first.running.leadership, second.running.leadership
    assert leading is not None and standing_by is not None
    assert leading.leader and not first.running.scheduler.standby
    assert not standing_by.leader and second.running.scheduler.standby
    due = await _retention_due(pg_url)

    # kill -9 of the leader: its socket to PostgreSQL closes, then the process is gone.
    assert leading._connection is not None
    await leading._connection.invalidate()
    await first.kill()
    began = time.monotonic()
    async with asyncio.timeout(TAKEOVER):
        await standing_by.elected.wait()
    took = time.monotonic() - began
    print(f"takeover after {took:.1f} s")
    assert not second.running.scheduler.standby

    # The daily retention timer comes due after the takeover: the new leader fires it, once
    # (it then moves itself to the next 03:00 UTC).
    await second.advance(timedelta(days=1))
    moved = await _retention_due(pg_url)
    assert moved > due
    # The survivor answers people.
    amira = await second.person("Amira")
    await amira.send("/start")
    await amira.wait_for_message(lambda m: "Welcome to" in (m.text or ""), timeout=PATIENCE)

"""Shared fixtures: a fresh database per test, the handlers with a recording messenger."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import Storage, open_storage
from handlers import build_router
from handlers.kernel.coalesce import EditCoalescer
from handlers.kernel.context import HandlerSettings, Services
from handlers.kernel.dispatch import Dispatcher
from handlers.kernel.ports import ShiftedClock
from tests.support.recording import Conversation, RecordingMessenger
from tests.support.timing import ManualTime

COORDINATOR_ID = 900_001


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """A fresh SQLite database file for this test."""
    return f"sqlite+aiosqlite:///{tmp_path / 'chorus.sqlite3'}"


@pytest.fixture
def postgres_url() -> str:
    """The PostgreSQL test database, or a skip with the reason."""
    url = os.environ.get("CHORUS_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("CHORUS_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped")
    return url


@pytest.fixture
def redis_url() -> str:
    """The Redis of the tests, or a skip with the reason."""
    url = os.environ.get("CHORUS_TEST_REDIS_URL")
    if not url:
        pytest.skip("CHORUS_TEST_REDIS_URL is not set: Redis tests skipped")
    return url


@pytest.fixture
async def pg_storage(postgres_url: str) -> AsyncIterator[Storage]:
    """The PostgreSQL test database at head, emptied before and after (a skip without it)."""
    from sqlalchemy import text

    from storage import create_engine

    async def empty(engine: AsyncEngine) -> None:
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))

    engine = create_engine(postgres_url)
    await empty(engine)
    await engine.dispose()
    opened = await open_storage(postgres_url)
    yield opened
    await empty(opened.engine)
    await opened.engine.dispose()


@pytest.fixture
async def storage(database_url: str) -> AsyncIterator[Storage]:
    """The database at head."""
    opened = await open_storage(database_url)
    yield opened
    await opened.engine.dispose()


@pytest.fixture
def clock() -> ShiftedClock:
    """A clock tests can move forward, starting at the next 15:00 UTC: daytime in every zone
    the tests use (09:00 in Chicago, 17:00 in Beirut), so that quiet hours (22:00-08:00 by
    default, issue 16) hold nothing unless a test moves into someone's night on purpose."""
    now = datetime.now(UTC)
    start = now.replace(hour=15, minute=0, second=0, microsecond=0)
    if start <= now:
        start += timedelta(days=1)
    return ShiftedClock(start - now)


@pytest.fixture
def manual_time() -> ManualTime:
    """Seconds that pass only when the test advances them (edit coalescing, pacing)."""
    return ManualTime()


@pytest.fixture
def messenger() -> RecordingMessenger:
    """A messenger that records what chats show."""
    return RecordingMessenger()


@pytest.fixture
def services(
    storage: Storage, messenger: RecordingMessenger, clock: ShiftedClock, manual_time: ManualTime
) -> Services:
    """What every update shares; live-result edits coalesce on `manual_time`, not real seconds."""
    return Services(
        sessionmaker=storage.sessionmaker,
        messenger=messenger,
        clock=clock,
        settings=HandlerSettings(admin_ids=frozenset({COORDINATOR_ID}), bot_username="chorus_bot"),
        edits=EditCoalescer(monotonic=manual_time.monotonic, sleep=manual_time.sleep),
    )


@pytest.fixture
def conversation(services: Services, messenger: RecordingMessenger) -> Conversation:
    """People talking to the handlers."""
    return Conversation(Dispatcher(build_router(), services), messenger)

"""A worker started with REDIS_URL shares its per-person rate limit on Redis (both runtimes)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Settings
from bot.shared_limits import SharedRateLimiter
from botapi_emulator.client import SandboxClient
from botapi_emulator.emulator import RunningEmulator
from handlers.kernel.ports import ShiftedClock
from tests.e2e.conftest import PATIENCE, ChorusUnderTest


class RedisChorus(ChorusUnderTest):
    """Chorus with REDIS_URL."""

    redis_url: str = ""

    def settings(self) -> Settings:
        """The test's settings, with Redis."""
        return super().settings().model_copy(update={"redis_url": self.redis_url})


@pytest.fixture(params=["aiogram", "ptb"])
async def shared(
    request: pytest.FixtureRequest,
    emulator: RunningEmulator,
    sandbox: SandboxClient,
    clock: ShiftedClock,
    tmp_path: Path,
) -> AsyncIterator[RedisChorus]:
    """Chorus against the emulator, its limits on Redis."""
    url = os.environ.get("CHORUS_TEST_REDIS_URL")
    if not url:
        pytest.skip("CHORUS_TEST_REDIS_URL is not set: Redis tests skipped")
    coordinator = await sandbox.create_user("Coral", language_code="en")
    under_test = RedisChorus(
        emulator=emulator,
        sandbox=sandbox,
        clock=clock,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'e2e.sqlite3'}",
        coordinator=coordinator,
        runtime=request.param,
    )
    under_test.redis_url = url
    await under_test.start()
    try:
        yield under_test
    finally:
        await under_test.kill()


@pytest.mark.redis
async def test_a_worker_with_redis_limits_people_there(shared: RedisChorus) -> None:
    assert shared.running is not None
    assert isinstance(shared.running.dispatcher.limiter, SharedRateLimiter)
    amira = await shared.person("Amira")
    await amira.send("/start")
    await amira.wait_for_message(lambda m: "Welcome to" in (m.text or ""), timeout=PATIENCE)

"""Limits shared by several workers on Redis: one budget per person, one 429 pause for all."""

from __future__ import annotations

import asyncio
import os
import random
import sys

import pytest

from bot.config import ConfigError
from bot.shared_limits import SharedPause, SharedRateLimiter
from handlers.kernel.dispatch import RateLimit
from handlers.kernel.ports import SystemClock

LIMIT = RateLimit(burst=3, per_second=0.01, warn_every=60)


@pytest.fixture
def redis_url() -> str:
    """The Redis of the tests, or a skip with the reason."""
    url = os.environ.get("CHORUS_TEST_REDIS_URL")
    if not url:
        pytest.skip("CHORUS_TEST_REDIS_URL is not set: Redis tests skipped")
    return url


def someone() -> int:
    """A person no other test (or session on this Redis) uses."""
    return random.randrange(10**12, 10**13)


@pytest.mark.redis
async def test_a_person_has_one_budget_across_workers(redis_url: str) -> None:
    first = SharedRateLimiter(redis_url, LIMIT, SystemClock())
    second = SharedRateLimiter(redis_url, LIMIT, SystemClock())
    await first.check()
    person, other = someone(), someone()
    answers = [await (first, second)[n % 2].acquire(person) for n in range(5)]
    # Three presses spread over two workers, then refused; "slow down" said once.
    assert answers == [(True, False)] * 3 + [(False, True), (False, False)]
    assert await second.acquire(other) == (True, False)  # someone else's budget is their own
    await first.close()
    await second.close()


@pytest.mark.redis
async def test_a_429_pauses_every_other_worker(redis_url: str) -> None:
    told: dict[str, list[float]] = {"first": [], "second": []}
    heard = asyncio.Event()

    def pause_second(seconds: float) -> None:
        told["second"].append(seconds)
        heard.set()

    first = SharedPause(redis_url, told["first"].append)
    second = SharedPause(redis_url, pause_second)
    await first.start()
    await second.start()
    try:
        async with asyncio.timeout(10):
            await first.subscribed.wait()
            await second.subscribed.wait()
            first.publish(2.5)
            await heard.wait()
        assert told == {"first": [], "second": [2.5]}  # the sender paused itself already
    finally:
        await first.stop()
        await second.stop()


async def test_without_redis_the_worker_decides_alone() -> None:
    limiter = SharedRateLimiter("redis://127.0.0.1:1/0", LIMIT, SystemClock())
    with pytest.raises(ConfigError, match=r"^REDIS_URL: cannot reach Redis$"):
        await limiter.check()
    person = someone()
    answers = [await limiter.acquire(person) for _ in range(4)]
    assert answers == [(True, False)] * 3 + [(False, True)]
    await limiter.close()


def test_without_the_extra_redis_url_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "limits.aio", None)
    with pytest.raises(ConfigError, match=r"pip install 'chorus\[redis\]'"):
        SharedRateLimiter("redis://127.0.0.1:6379/0", LIMIT, SystemClock())

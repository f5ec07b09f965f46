"""/healthz's judgement and the metrics' counting, without a network (see tests/e2e/test_ops.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.app import Storage
from bot.ops.health import POLL_STALE_AFTER, SCHEDULER_STALE_AFTER, HealthCheck, Heartbeat
from bot.ops.metrics import LATE_AFTER, Metrics
from bot.scheduler import TimerScheduler
from handlers.kernel.context import Services
from handlers.kernel.dispatch import Dispatcher
from handlers.kernel.ports import ShiftedClock
from handlers.kernel.routing import Router
from storage import create_engine, create_sessionmaker


class FakeMonotonic:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def scheduler(services: Services, clock: ShiftedClock) -> AsyncIterator[TimerScheduler]:
    """A started timer scheduler over an empty router."""
    running = TimerScheduler(Dispatcher(Router("t"), services), clock)
    await running.start()
    try:
        yield running
    finally:
        await running.shutdown()


async def test_healthy_then_polling_stale_then_scheduler_stale(
    storage: Storage, clock: ShiftedClock, scheduler: TimerScheduler
) -> None:
    monotonic = FakeMonotonic()
    heartbeat = Heartbeat(monotonic)
    assert scheduler.synced_at is not None
    health = HealthCheck(
        storage.sessionmaker,
        clock,
        heartbeat,
        scheduler,
        None,
        monotonic=lambda: scheduler.synced_at or 0.0,
    )
    heartbeat.beat()
    healthy, report = await health.run()
    assert healthy and report["status"] == "ok"
    assert report["outbox"] == {"pending": 0, "sending": 0, "oldest_due_seconds": 0.0}
    monotonic.now += POLL_STALE_AFTER + 1
    healthy, report = await health.run()
    assert not healthy and report["checks"]["polling"]["ok"] is False
    heartbeat.beat()
    health.monotonic = lambda: (scheduler.synced_at or 0.0) + SCHEDULER_STALE_AFTER + 1
    healthy, report = await health.run()
    assert not healthy and report["checks"]["scheduler"]["ok"] is False
    assert report["checks"]["polling"]["ok"] is True


async def test_an_unreachable_database_is_unhealthy(
    tmp_path: Path, clock: ShiftedClock, scheduler: TimerScheduler
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'nowhere.sqlite3'}")
    try:
        health = HealthCheck(create_sessionmaker(engine), clock, None, scheduler, None)
        healthy, report = await health.run()
    finally:
        await engine.dispose()
    assert not healthy
    assert report["checks"]["database"] == {"ok": False, "error": "OperationalError"}
    assert "outbox" not in report


def test_metrics_count_updates_and_timers_by_outcome() -> None:
    metrics = Metrics()
    metrics.update_done("command", "handled", 0.02)
    metrics.update_done("command", "refused", None)
    metrics.timer_done("reminder", "fired", 2.0)
    metrics.timer_done("reminder", "fired", LATE_AFTER + 1)
    metrics.timer_done("reminder", "dropped", 7200.0)
    found = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(metrics.exposition().decode())
        for sample in family.samples
    }
    assert found[("chorus_updates_total", (("kind", "command"), ("outcome", "handled")))] == 1
    assert found[("chorus_updates_total", (("kind", "command"), ("outcome", "refused")))] == 1
    assert found[("chorus_update_handling_seconds_count", (("kind", "command"),))] == 1
    for outcome in ("on_time", "late", "dropped"):
        assert found[("chorus_timers_total", (("kind", "reminder"), ("outcome", outcome)))] == 1
    assert found[("chorus_timer_lateness_seconds_count", ())] == 3


async def test_nothing_the_scheduler_starts_outlives_its_shutdown(
    scheduler: TimerScheduler,
) -> None:
    """A timer finishing during shutdown wakes the scheduler (its timers changed): no resync
    may start then, or it would run on after the bot stopped, holding a database connection
    (seen as "database is locked" when the bot restarted on the same SQLite file)."""
    release = asyncio.Event()

    async def firing() -> None:
        await release.wait()
        scheduler.wake()  # what _fire does when a timer was moved

    task = asyncio.get_running_loop().create_task(firing())
    scheduler._firing.add(task)
    stopping = asyncio.get_running_loop().create_task(scheduler.shutdown(grace=5))
    await asyncio.sleep(0)
    release.set()
    await stopping
    sync_task = scheduler._sync_task
    assert sync_task is None or sync_task.done()
    scheduler.wake()
    assert scheduler._sync_task is sync_task

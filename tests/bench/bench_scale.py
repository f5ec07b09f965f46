"""What a coordinator's and a volunteer's updates cost as the coalition grows (SQLite).

For each size (BENCH_SIZES, default 1000,10000,100000 volunteers, seeded in bulk) the handlers
run through the neutral dispatcher with a recording messenger, as the handler tests drive them;
each figure is the median CPU (ms) of REPEATS runs of one update, except the last two, which are
the median wall time of REPEATS volunteers' presses made while a coordinator's audience count
runs beside it, and while a coordinator's broadcast to everyone is being enqueued.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.app import Storage, open_storage
from handlers import build_router
from handlers.kernel.context import HandlerSettings, Services
from handlers.kernel.dispatch import Dispatcher, RateLimit, RateLimiter
from handlers.kernel.ports import SystemClock
from storage import create_read_sessionmaker
from storage.models import OutboxMessage
from tests.bench import seed
from tests.support.recording import Conversation, RecordingMessenger, Someone

REPEATS = 3
COORDINATOR = 900_001
TIMEOUT = 900.0  # one size, set-up included

AUDIENCE = "`/newaction` audience count"
ENQUEUE = "enqueue a broadcast to everyone"
MEMBERS = "`/members` (first page)"
PRESS_EMPTY = "one RSVP press, 0 existing RSVPs"
PRESS_FULL = "one RSVP press, as many existing RSVPs as volunteers"
WAIT = "a press while a coordinator's audience count runs (wall ms)"
WAIT_ENQUEUE = "a press while a broadcast to everyone is enqueued (wall ms)"


class QuietMessenger(RecordingMessenger):
    """Records; the pressed messages exist only in the volunteers' chats (not recorded)."""

    async def edit_keyboard(self, chat_id: int, message_id: int, keyboard: Any) -> None:
        return None


def sizes() -> list[int]:
    """The coalition sizes to measure, from BENCH_SIZES."""
    raw = os.environ.get("BENCH_SIZES", "1000,10000,100000")
    return [int(size) for size in raw.split(",") if size.strip()]


async def cpu_ms(update: Awaitable[Any]) -> float:
    """The CPU time (this process, every thread) one update takes, in ms."""
    start = time.process_time()
    await update
    return (time.process_time() - start) * 1000


async def walk_to_capacity(coordinator: Someone) -> None:
    """/newaction for a meeting, up to the capacity question (the next one shows the count)."""
    await coordinator.send("/newaction")
    await coordinator.press("Meeting")
    await coordinator.send("Vigil")
    await coordinator.send("Bring candles.")
    await coordinator.press("No link")
    await coordinator.send((SystemClock().now() + timedelta(days=3)).strftime("%Y-%m-%d 18:30"))
    await coordinator.send("Beirut")
    await coordinator.send("Martyrs' Square")


async def beside(heavy: Awaitable[Any], presser: Someone, action_id: int) -> float:
    """The wall time (ms) of a press made while a coordinator's heavy update runs."""
    running = asyncio.ensure_future(heavy)
    await asyncio.sleep(0.02)  # the heavy update has started
    start = time.perf_counter()
    await presser.press_data(1, f"rv:{action_id}:going")
    waited = (time.perf_counter() - start) * 1000
    await running
    return waited


async def _outbox_size(storage: Storage) -> int:
    async with storage.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxMessage)) or 0)


async def measure(size: int) -> dict[str, float]:
    """Every figure at one size."""
    with tempfile.TemporaryDirectory() as directory:
        storage = await open_storage(f"sqlite+aiosqlite:///{Path(directory) / 'scale.sqlite3'}")
        now = SystemClock().now()
        # the coalition, plus a few volunteers who have not answered yet (the pressers)
        await seed.volunteers(storage, range(1, size + REPEATS * 4 + 1), now)
        messenger = QuietMessenger()
        settings = HandlerSettings(admin_ids=frozenset({COORDINATOR}))
        services = Services(
            storage.sessionmaker,
            messenger,
            SystemClock(),
            settings,
            reads=create_read_sessionmaker(storage.engine),  # as the bot's (bot/app.py)
        )
        dispatcher = Dispatcher(build_router(), services)
        # The scripted coordinator presses faster than anyone can: at 1k and 10k, where each
        # step is quick, the per-person limit (30, then 2 a second) refused its 40th press.
        dispatcher.limiter = RateLimiter(RateLimit(burst=1e9), services.clock)
        conversation = Conversation(dispatcher, messenger)
        coordinator = conversation.person("Coral", user_id=COORDINATOR)
        extra = range(size + 1, size + REPEATS * 4 + 1)  # 4 presses a repeat
        pressers = iter(conversation.person(f"V{i}", user_id=i) for i in extra)
        figures: dict[str, list[float]] = {}
        for _ in range(REPEATS):
            await walk_to_capacity(coordinator)
            figures.setdefault(AUDIENCE, []).append(await cpu_ms(coordinator.press("No limit")))
            if "Who receives it?" not in coordinator.last.text:
                raise RuntimeError(f"/newaction changed: {coordinator.last.text[:80]!r}")
            await coordinator.press("Done ✔")
            figures.setdefault(ENQUEUE, []).append(await cpu_ms(coordinator.press("✅ Send it")))
        if await _outbox_size(storage) < size * REPEATS:
            raise RuntimeError("the broadcasts did not reach everyone")
        figures[MEMBERS] = [await cpu_ms(coordinator.send("/members")) for _ in range(REPEATS)]
        empty = await seed.event(storage, now, 500, COORDINATOR)
        full = await seed.event(storage, now, 500, COORDINATOR)
        await seed.answers(storage, full, range(1, size + 1), "maybe", now)
        for name, action in ((PRESS_EMPTY, empty), (PRESS_FULL, full)):
            figures[name] = [
                await cpu_ms(next(pressers).press_data(1, f"rv:{action}:going"))
                for _ in range(REPEATS)
            ]
        for _ in range(REPEATS):
            await walk_to_capacity(coordinator)
            waited = await beside(coordinator.press("No limit"), next(pressers), empty)
            figures.setdefault(WAIT, []).append(waited)
            await coordinator.press("Done ✔")
            sending = coordinator.press("✅ Send it")
            figures.setdefault(WAIT_ENQUEUE, []).append(
                await beside(sending, next(pressers), empty)
            )
        await storage.engine.dispose()
    return {name: round(statistics.median(values), 1) for name, values in figures.items()}


async def main() -> dict[str, dict[str, Any]]:
    """A table: one row per operation, one column per size; a size that fails says why."""
    rows: dict[str, dict[str, Any]] = {}
    failures = []
    for size in sizes():
        column = f"{size:,}"
        try:
            figures = await asyncio.wait_for(measure(size), TIMEOUT)
        except Exception as exc:
            why = f"timed out after {TIMEOUT:.0f} s" if isinstance(exc, TimeoutError) else exc
            failures.append(f"{column}: {why}")
            figures = {}
        print(f"scale {column}:", figures or failures[-1], flush=True)
        for name in (AUDIENCE, ENQUEUE, MEMBERS, PRESS_EMPTY, PRESS_FULL, WAIT, WAIT_ENQUEUE):
            rows.setdefault(name, {})[column] = figures.get(name, "failed")
    if failures:
        rows["failed"] = {"error": "; ".join(failures)}
    return rows


if __name__ == "__main__":
    asyncio.run(main())

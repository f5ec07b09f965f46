"""Delivery: 3,000 recipients at 30/s with Telegram's limits on; then the paid and lifted modes."""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bot.aiogram_runtime import AiogramTransport, create_bot
from bot.app import open_storage
from bot.botapi import BulkSender
from bot.delivery import DeliveryConfig, DeliveryEngine, Transport
from handlers.kernel.ports import Button, SystemClock
from storage import outbox
from storage.outbox import Outgoing
from tests.bench.emulator_process import EmulatorProcess

TEXT = (
    "🤝 Meeting\n<b>Vigil for the survivors of cluster munitions</b>\n\n"
    + "Bring candles, wear white, and invite a friend. " * 8
    + "\n\n🗓 When: Friday 5 December 2026, 18:30 (Asia/Beirut)\n📍 Where: Martyrs' Square"
)
KEYBOARD = [
    [
        Button("Going", "rv:1:going"),
        Button("Maybe", "rv:1:maybe"),
        Button("Can't", "rv:1:cant"),
    ]
]


@asynccontextmanager
async def bulk_sender(runtime: str, token: str, url: str) -> AsyncIterator[Transport]:
    """The runtime's lean send path, as run_bot gives it to the delivery engine."""
    if runtime == "ptb":
        from bot.ptb_runtime import PtbRuntime

        ptb = PtbRuntime(token, url)
        await ptb.username()
        try:
            yield ptb.bulk_sender()
        finally:
            await ptb.close()
        return
    bot = create_bot(token, url)
    try:
        yield BulkSender(AiogramTransport(bot))
    finally:
        await bot.session.close()


async def run(
    recipients: int, config: DeliveryConfig, limits: dict[str, Any], runtime: str = "aiogram"
) -> dict[str, Any]:
    """Delivers one broadcast to `recipients` people and measures it."""
    emulator = EmulatorProcess(recipients, **limits)
    url, token, ids = emulator.start()
    try:
        return await _deliver(emulator, url, token, ids, config, runtime)
    finally:
        emulator.kill()


async def _deliver(
    emulator: EmulatorProcess,
    url: str,
    token: str,
    ids: list[int],
    config: DeliveryConfig,
    runtime: str,
) -> dict[str, Any]:
    recipients = len(ids)
    with tempfile.TemporaryDirectory() as directory:
        storage = await open_storage(f"sqlite+aiosqlite:///{Path(directory) / 'bench.sqlite3'}")
        clock = SystemClock()
        async with storage.sessionmaker() as session, session.begin():
            messages = [Outgoing(chat, TEXT, KEYBOARD) for chat in ids]
            await outbox.enqueue(session, messages, purpose="broadcast", ref="b1", now=clock.now())
        async with bulk_sender(runtime, token, url) as sender:
            engine = DeliveryEngine(storage.sessionmaker, sender, clock, config)
            cpu, wall = time.process_time(), time.perf_counter()
            await engine.start()
            try:  # a timeout (a loaded machine) fails this scenario only, its engine stopped
                await engine.wait_until_idle(timeout=recipients / config.rate * 3 + 60)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            finally:
                await engine.stop()
        await storage.engine.dispose()
    delivered = emulator.delivered()
    return {
        "recipients": recipients,
        "delivered": delivered,
        "seconds": round(wall, 2),
        "rate": round(delivered / wall, 1),
        "cpu_ms_per_delivery": round(cpu * 1000 / max(delivered, 1), 3),
        "rate_limited": engine.stats.rate_limited,
        "failed": engine.stats.failed,
    }


async def main() -> dict[str, dict[str, Any]]:
    """The three delivery measurements."""
    results = {}
    lifted = DeliveryConfig(rate=1000, paced=False, window=400)
    for runtime in ("aiogram", "ptb"):
        scenarios = {
            "free 30/s, limits on": (3000, DeliveryConfig(rate=30), {}),
            "paid 1000/s, limits on": (10_000, DeliveryConfig(rate=1000), {}),
            "limit lifted, unpaced": (10_000, lifted, {"enabled": False}),
        }
        for name, (recipients, config, limits) in scenarios.items():
            label = f"{runtime}: {name}"
            try:
                results[label] = await run(recipients, config, limits, runtime)
            except Exception as exc:  # one scenario failing must not cost the others
                results[label] = {"error": f"{type(exc).__name__}: {exc}"}
            print(label, results[label], flush=True)
    return results


if __name__ == "__main__":
    asyncio.run(main())

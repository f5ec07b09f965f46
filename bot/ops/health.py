"""/healthz: is this Chorus able to do its work right now?

Healthy (HTTP 200) when the database answers, long polling got an answer from getUpdates
recently, the timer scheduler has synchronised recently and the delivery engine's loops are
alive; otherwise 503. The outbox backlog is reported alongside (a long backlog is normal during
a big broadcast, so it does not make the bot unhealthy on its own). Polling and scheduler ages
are measured on the monotonic clock: they are about the process, not the bot's (shiftable) time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery import DeliveryEngine
from bot.scheduler import RESYNC_EVERY, TimerScheduler
from handlers.kernel.ports import Clock
from storage import outbox

# getUpdates long-polls for at most 25 s (ptb; aiogram 10 s) and answers at once when updates
# wait: no answer for this long means polling is stuck or Telegram is unreachable.
POLL_STALE_AFTER = 90.0
SCHEDULER_STALE_AFTER = 2 * RESYNC_EVERY.total_seconds() + 60.0
DATABASE_TIMEOUT = 5.0

Monotonic = Callable[[], float]


class Heartbeat:
    """When the runtime last got a successful answer to getUpdates (monotonic seconds)."""

    def __init__(self, monotonic: Monotonic = time.monotonic) -> None:
        self._now = monotonic
        self.started = monotonic()
        self.last: float | None = None

    def beat(self) -> None:
        """getUpdates answered."""
        self.last = self._now()

    def age(self) -> float:
        """Seconds since the last answer (since the start, before the first one)."""
        return self._now() - (self.last if self.last is not None else self.started)


@dataclass(slots=True)
class HealthCheck:
    """The parts of a running bot that /healthz looks at."""

    sessionmaker: async_sessionmaker[AsyncSession]
    clock: Clock
    heartbeat: Heartbeat | None  # None: the runtime does not report its polling
    scheduler: TimerScheduler
    delivery: DeliveryEngine | None
    monotonic: Monotonic = time.monotonic

    async def run(self) -> tuple[bool, dict[str, Any]]:
        """(healthy, report): the report is the JSON body of /healthz."""
        checks: dict[str, dict[str, Any]] = {}
        report: dict[str, Any] = {"checks": checks}
        try:
            backlog = await asyncio.wait_for(self._backlog(), DATABASE_TIMEOUT)
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            checks["database"] = {"ok": False, "error": type(exc).__name__}
        else:
            checks["database"] = {"ok": True}
            waited = 0.0
            if backlog.oldest_due is not None:
                waited = max(0.0, (self.clock.now() - backlog.oldest_due).total_seconds())
            report["outbox"] = {
                "pending": backlog.pending,
                "sending": backlog.sending,
                "oldest_due_seconds": round(waited, 1),
            }
        if self.heartbeat is not None:
            age = self.heartbeat.age()
            checks["polling"] = {
                "ok": age <= POLL_STALE_AFTER,
                "seconds_since_answer": round(age, 1),
                "answered": self.heartbeat.last is not None,
            }
        synced = self.scheduler.synced_at
        since_sync = None if synced is None else self.monotonic() - synced
        checks["scheduler"] = {
            "ok": self.scheduler.running
            and (
                self.scheduler.standby
                or (since_sync is not None and since_sync <= SCHEDULER_STALE_AFTER)
            ),
            "leader": not self.scheduler.standby,
            "seconds_since_sync": None if since_sync is None else round(since_sync, 1),
        }
        if self.delivery is not None:
            checks["delivery"] = {"ok": self.delivery.running}
        healthy = all(check["ok"] for check in checks.values())
        report["status"] = "ok" if healthy else "unhealthy"
        return healthy, report

    async def _backlog(self) -> outbox.Backlog:
        async with self.sessionmaker() as session:
            await session.execute(text("SELECT 1"))
            return await outbox.backlog(session)

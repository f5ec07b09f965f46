"""Coalesces bursts of edits of one message into one edit every `interval`, plus a trailing one.

Telegram allows about 20 edits a minute per group. A burst of votes asks for many refreshes of
the live results message; this runs the first at once, then at most one per `interval` per key,
always with the latest job (a job renders the current state, so only the last one matters).
Time and sleeping are injected, so tests drive it with a controllable clock.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]
DEFAULT_INTERVAL = 4.0


class EditCoalescer:
    """At most one run per key per interval; requests in between collapse into one trailing run."""

    def __init__(
        self,
        interval: float = DEFAULT_INTERVAL,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.interval = interval
        self._monotonic = monotonic
        self._sleep = sleep
        self._last: dict[Hashable, float] = {}
        self._pending: dict[Hashable, Job] = {}
        self._tasks: dict[Hashable, asyncio.Task[None]] = {}

    async def submit(self, key: Hashable, job: Job) -> None:
        """Runs `job` now if the key was quiet for an interval; otherwise schedules it to trail."""
        if key in self._tasks:
            self._pending[key] = job
            return
        wait = self._last.get(key, float("-inf")) + self.interval - self._monotonic()
        if wait <= 0:
            self._last[key] = self._monotonic()
            await self._run(key, job)
            return
        self._pending[key] = job
        due = self._monotonic() + wait
        self._tasks[key] = asyncio.get_running_loop().create_task(self._trail(key, due))

    async def _trail(self, key: Hashable, due: float) -> None:
        await self._sleep(max(0.0, due - self._monotonic()))
        self._tasks.pop(key, None)
        job = self._pending.pop(key, None)
        if job is not None:
            self._last[key] = self._monotonic()
            await self._run(key, job)

    async def _run(self, key: Hashable, job: Job) -> None:
        try:
            await job()
        except Exception:
            log.exception("coalesced edit %r failed", key)

    def waiting(self, key: Hashable) -> bool:
        """True while a trailing run is scheduled for the key."""
        return key in self._tasks

    def cancel(self, key: Hashable) -> None:
        """Drops the trailing run of a key (its message got its final form another way)."""
        task = self._tasks.pop(key, None)
        if task is not None:
            task.cancel()
        self._pending.pop(key, None)

    async def flush(self) -> None:
        """Runs every trailing job now (at shutdown, and in tests)."""
        for key in list(self._tasks):
            self._tasks.pop(key).cancel()
            job = self._pending.pop(key, None)
            if job is not None:
                self._last[key] = self._monotonic()
                await self._run(key, job)

    def close(self) -> None:
        """Cancels every trailing run."""
        for key in list(self._tasks):
            self.cancel(key)

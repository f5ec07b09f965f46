"""Time that moves only when a test says so: a monotonic clock and a sleeper woken by `advance`.

Inject it wherever code under test measures or waits for real seconds (the edit coalescer,
pacing): the test then decides exactly when "4 seconds" have passed, however busy the machine.
"""

from __future__ import annotations

import asyncio


class ManualTime:
    """A monotonic clock (seconds) that moves only in `advance`; sleepers wake when it passes."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def monotonic(self) -> float:
        """The current manual time, in seconds."""
        return self.now

    async def sleep(self, seconds: float) -> None:
        """Returns once `advance` has moved time `seconds` forward (at once for 0 or less)."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self.now + seconds, future))
        await future

    def sleeping(self) -> int:
        """How many sleepers wait."""
        return sum(1 for _, future in self._sleepers if not future.done())

    async def advance(self, seconds: float) -> None:
        """Moves time forward, wakes the sleepers now due and lets them run to their next wait."""
        self.now += seconds
        due = [(at, future) for at, future in self._sleepers if at <= self.now]
        self._sleepers = [s for s in self._sleepers if s not in due]
        for _, future in due:
            if not future.done():
                future.set_result(None)
        for _ in range(20):  # let the woken tasks reach their next real suspension point
            await asyncio.sleep(0)

"""Time that moves only when a test says so: a monotonic clock and a sleeper woken by `advance`.

Inject it wherever code under test measures or waits for real seconds (the edit coalescer,
pacing): the test then decides exactly when "4 seconds" have passed, however busy the machine.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import Coroutine, Generator
from typing import Any, TypeVar

T = TypeVar("T")


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

    def next_due(self) -> float | None:
        """When the earliest sleeper wakes (None: nobody sleeps)."""
        due = [at for at, future in self._sleepers if not future.done()]
        return min(due) if due else None


@types.coroutine
def counted(coroutine: Coroutine[Any, Any, T], wakeups: list[int]) -> Generator[Any, Any, T]:
    """Runs `coroutine`, counting in `wakeups[0]` each time it is resumed after a suspension
    (how often a waiting task wakes up, whatever it waits on)."""
    step, value, error = coroutine.__await__(), None, None
    while True:
        try:
            suspended = step.throw(error) if error is not None else step.send(value)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        try:
            value, error = (yield suspended), None
        except BaseException as exc:  # handed on to the coroutine
            value, error = None, exc
        wakeups[0] += 1

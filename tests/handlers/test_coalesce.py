"""The edit coalescer, driven by a controllable clock: no real sleeping."""

from __future__ import annotations

from handlers.kernel.coalesce import EditCoalescer
from tests.support.timing import ManualTime


async def test_a_burst_becomes_one_immediate_and_one_trailing_run() -> None:
    time = ManualTime()
    coalescer = EditCoalescer(4.0, monotonic=time.monotonic, sleep=time.sleep)
    runs: list[tuple[float, int]] = []

    def job(n: int):  # type: ignore[no-untyped-def]
        async def run() -> None:
            runs.append((time.now, n))

        return run

    for n in range(200):
        await coalescer.submit("results", job(n))
    assert runs == [(0.0, 0)]
    assert coalescer.waiting("results")
    await time.advance(3.9)
    assert runs == [(0.0, 0)]
    await time.advance(0.1)
    assert runs == [(0.0, 0), (4.0, 199)]  # the trailing run has the latest job
    await time.advance(10)
    await coalescer.submit("results", job(200))
    assert runs[-1] == (14.0, 200)  # quiet for an interval: runs at once


async def test_keys_are_independent_and_flush_runs_what_waits() -> None:
    time = ManualTime()
    coalescer = EditCoalescer(4.0, monotonic=time.monotonic, sleep=time.sleep)
    runs: list[str] = []

    def job(name: str):  # type: ignore[no-untyped-def]
        async def run() -> None:
            runs.append(name)

        return run

    await coalescer.submit("a", job("a1"))
    await coalescer.submit("b", job("b1"))
    await coalescer.submit("a", job("a2"))
    await coalescer.submit("a", job("a3"))
    assert runs == ["a1", "b1"]
    await coalescer.flush()
    assert runs == ["a1", "b1", "a3"]
    assert not coalescer.waiting("a")
    await coalescer.submit("a", job("a4"))
    coalescer.cancel("a")
    await time.advance(5)
    assert runs == ["a1", "b1", "a3"]


async def test_a_failing_job_is_logged_not_raised() -> None:
    coalescer = EditCoalescer(0.0)

    async def broken() -> None:
        raise RuntimeError("edit failed")

    await coalescer.submit("x", broken)

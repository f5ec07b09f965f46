"""The pacer alone: how often waiting sends wake up, and its CPU, for a storm of concurrent
replies and for a broadcast (one send after the other), against a fake Telegram answering
after a few milliseconds.

    python -m tests.bench.bench_pacer [sends] [rate] [limit] [answer ms] [storm|broadcast]

Defaults: 3000 sends at 970/s (DeliveryConfig(rate=1000).pace), limit 1000, answers in 3 ms.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from bot.delivery import Pacer
from tests.support.timing import counted

ANSWER_AFTER = [0.003]  # seconds: the fake Telegram's latency


async def _send(pacer: Pacer, mark: list[Any], sent: list[float]) -> None:
    sent.append(asyncio.get_running_loop().time())
    await asyncio.sleep(ANSWER_AFTER[0])
    pacer.answered(mark)


async def scenario(kind: str, sends: int, rate: float, limit: float) -> dict[str, Any]:
    """`sends` sends through one pacer: all at once ("storm") or one after the other."""
    pacer = Pacer(rate, limit)
    wakeups, sent, answers = [0], [], set()

    async def one() -> None:
        mark = await counted(pacer.slot(), wakeups)
        task = asyncio.get_running_loop().create_task(_send(pacer, mark, sent))
        answers.add(task)

    cpu, wall = time.process_time(), time.perf_counter()
    if kind == "storm":
        await asyncio.gather(*(one() for _ in range(sends)))
    else:
        for _ in range(sends):
            await one()
    await asyncio.gather(*answers)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    sent.sort()
    busiest, first = 0, 0
    for last, at in enumerate(sent):  # the most sends in any one second
        while at - sent[first] >= 1.0:
            first += 1
        busiest = max(busiest, last - first + 1)
    return {
        "sends": sends,
        "wakeups": wakeups[0],
        "wakeups_per_send": round(wakeups[0] / sends, 2),
        "cpu_ms": round(cpu * 1000),
        "seconds": round(wall, 2),
        "rate": round(sends / (sent[-1] - sent[0]), 1) if sends > 1 else None,
        "most_in_one_second": busiest,
    }


async def main() -> None:
    sends = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    rate = float(sys.argv[2]) if len(sys.argv) > 2 else 970.0  # DeliveryConfig(rate=1000).pace
    limit = float(sys.argv[3]) if len(sys.argv) > 3 else 1000.0
    ANSWER_AFTER[0] = float(sys.argv[4]) / 1000 if len(sys.argv) > 4 else 0.003
    kinds = sys.argv[5:] or ["storm", "broadcast"]
    for kind in kinds:
        print(kind, await scenario(kind, sends, rate, limit), flush=True)


if __name__ == "__main__":
    asyncio.run(main())

"""The RSVP storm with 1, 2 and 3 webhook workers (issue 17's scale-out): `chorus run` workers,
each in its own process, behind a round-robin proxy (as nginx would be) that the emulator's
webhook posts to, sharing PostgreSQL (BENCH_POSTGRES_URL, a database of the benchmark's own:
its schema is dropped) and Redis (BENCH_REDIS_URL: the per-person limit, the 429 pause and the
sending pace).

Same storm as bench_storm (2,000 volunteers press Going, 1000 presses a second, the emulator
in its own process). The CPU is the workers' (each reports its own process time, all threads),
summed over the workers; the SQL statements likewise (statements sent plus commits). The proxy
runs in this process and is not counted (nginx's share).

Beside each row, the control: bare aiogram webhook bots (answer the press, edit its keyboard;
aiogram's SimpleRequestHandler with its defaults) as as many processes behind the same proxy.
On a machine with fewer cores than processes (the emulator, the proxy, PostgreSQL, Redis and
the workers), every process's CPU per update grows with their number, the bare bot's too.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import multiprocessing
import os
import time
from multiprocessing.connection import Connection
from typing import Any

from bot.app import freeze_startup_heap, open_storage, start_bot
from bot.config import Settings
from handlers.kernel.ports import SystemClock
from tests.bench import bare_bots, seed
from tests.bench.bench_storm import (
    ARRIVALS_PER_SECOND,
    CAPACITY,
    REPEATS,
    STORM_PACE,
    VOLUNTEERS,
    Statements,
    _fresh_postgres,
    median_run,
    postgres_url,
    settle_heap,
)
from tests.bench.emulator_process import STORM_PATIENCE as PATIENCE
from tests.bench.emulator_process import EmulatorProcess
from tests.support.proxy import free_port, proxy

WORKERS = (1, 2, 3)
TIMEOUT = 420.0  # one row's whole run, set-up included
READY = 60.0  # seconds for a worker to start


def redis_url() -> str | None:
    """The benchmark's Redis (keys under chorus:<bot id>:*), if one is given."""
    return os.environ.get("BENCH_REDIS_URL") or None


async def _work(conn: Connection, settings: Settings, token: str, api: str, database: str) -> None:
    """One worker: Chorus until told to stop; answers 'sample' with (CPU s, statements)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    with Statements().listening() as statements:
        try:
            task, _ = await start_bot(
                settings,
                token=token,
                api_url=api,
                database_url=database,
                stop=stop,
                clock=SystemClock(),
                ready_within=READY,
            )
        except Exception as exc:
            conn.send(("failed", f"{type(exc).__name__}: {exc}"))
            return
        freeze_startup_heap()  # as `chorus run` does once it is ready
        conn.send(("ready", os.getpid()))
        while (await loop.run_in_executor(None, conn.recv)) == "sample":
            conn.send((time.process_time(), statements.count))
        stop.set()
        await asyncio.wait({task}, timeout=30)
        task.cancel()
    conn.send(("stopped", None))


async def _work_bare(conn: Connection, hook: str, port: int, token: str, api: str) -> None:
    """One bare aiogram webhook worker (the control): answers 'sample' with (CPU s, 0)."""
    loop = asyncio.get_running_loop()
    async with bare_bots.aiogram_webhook_bot(token, api, hook, port):
        settle_heap(tuned=False)  # start-up frozen; the collector's defaults, as a bare bot's
        conn.send(("ready", os.getpid()))
        while (await loop.run_in_executor(None, conn.recv)) == "sample":
            conn.send((time.process_time(), 0))
    conn.send(("stopped", None))


def _worker_main(conn: Connection, hook: str, port: int, redis: str, *where: str) -> None:
    token, api, database = where
    if not database:
        asyncio.run(_work_bare(conn, hook, port, token, api))
        return
    settings = Settings(
        bot_runtime="aiogram",
        metrics_port=0,
        broadcast_rate=STORM_PACE,
        webhook_url=hook,
        webhook_port=port,
        redis_url=redis,
        _env_file=None,  # type: ignore[call-arg]
    )
    asyncio.run(_work(conn, settings, *where))


class WorkerProcess:
    """`chorus run` in webhook mode, in a process of its own."""

    def __init__(self, hook: str, port: int, redis: str, token: str, api: str, db: str) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        args = (child, hook, port, redis, token, api, db)
        self.process = context.Process(target=_worker_main, args=args, daemon=True)

    async def _ask(self, command: str | None = None) -> Any:
        if command is not None:
            self.conn.send(command)
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(None, self.conn.poll, READY):
            raise TimeoutError(f"a worker did not answer within {READY:.0f} s")
        return self.conn.recv()

    async def start(self) -> None:
        self.process.start()
        what, detail = await self._ask()
        if what != "ready":
            raise RuntimeError(f"a worker did not start: {detail}")

    async def sample(self) -> tuple[float, int]:
        """(CPU seconds of the process so far, statements sent so far)."""
        cpu, statements = await self._ask("sample")
        return float(cpu), int(statements)

    async def stop(self) -> None:
        """Stops it gracefully; kills it if it does not end."""
        if self.process.is_alive():
            with contextlib.suppress(OSError, EOFError, TimeoutError):
                await self._ask("stop")
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(10)


async def run(workers: int, database: str, redis: str, bare: bool = False) -> dict[str, Any]:
    """The storm through `workers` webhook workers; rate, latency, CPU and SQL per update.
    With `bare`, the workers are bare aiogram webhook bots (the control: no database)."""
    emulator = EmulatorProcess(VOLUNTEERS, enabled=False)
    url, token, ids = emulator.start()
    running: list[WorkerProcess] = []
    storage = None
    try:
        action_id = 1
        if not bare:
            await _fresh_postgres(database)
            storage = await open_storage(database)
            now = SystemClock().now()
            await seed.volunteers(storage, ids, now)
            action_id = await seed.event(storage, now, CAPACITY, created_by=ids[0])
        ports = [free_port() for _ in range(workers)]
        turns = itertools.count()
        async with proxy(lambda _: next(turns) % workers, ports) as hook:
            for port in ports:
                where = (token, url, "" if bare else database)
                running.append(WorkerProcess(hook, port, redis, *where))
                await running[-1].start()
            before = [await worker.sample() for worker in running]
            storm = await emulator.ask("storm", f"rv:{action_id}:going", ARRIVALS_PER_SECOND)
            after = [await worker.sample() for worker in running]
            for worker in running:
                await worker.stop()
        answered = storm["answered"]
        if not answered:
            raise RuntimeError("no press was answered")
        cpu = sum(a[0] - b[0] for a, b in zip(after, before, strict=True))
        sql = sum(a[1] - b[1] for a, b in zip(after, before, strict=True))
        counts = {} if storage is None else await seed.answer_counts(storage, action_id)
        result: dict[str, Any] = {
            "updates_per_s": round(answered / storm["seconds"], 1),
            "p50_ms": storm["p50_ms"],
            "p95_ms": storm["p95_ms"],
            "answered > 15 s": storm["too_old"],
            "keyboards edited": storm["edited"],
            "cpu_ms_per_update": round(cpu * 1000 / answered, 2),
            "sql_per_update": round(sql / answered, 1),
        }
        if not bare:
            result["going/waitlist"] = f"{counts.get('going', 0)}/{counts.get('waitlist', 0)}"
        if answered < VOLUNTEERS:
            result["error"] = (
                f"only {answered} of {VOLUNTEERS} presses answered within {PATIENCE} s"
            )
        return result
    finally:
        for worker in running:
            await worker.stop()
        if storage is not None:
            await storage.engine.dispose()
        emulator.kill()


def name(workers: int, bare: bool = False) -> str:
    """A row's name in the table."""
    plural = "s" if workers > 1 else ""
    if bare:
        return f"bare aiogram, {workers} webhook worker{plural} (no database)"
    return f"{workers} worker{plural} (aiogram, webhook, PostgreSQL + Redis)"


async def main() -> dict[str, dict[str, Any]]:
    """1, 2 and 3 workers, one after the other, each beside the bare aiogram webhook bot with
    as many processes (the control: what more processes on the machine's cores cost a bot that
    does nothing but answer); one failing does not stop the others."""
    database, redis = postgres_url(), redis_url()
    if not database or not redis:
        missing = " and ".join(
            variable
            for variable, value in (("BENCH_POSTGRES_URL", database), ("BENCH_REDIS_URL", redis))
            if not value
        )
        why = f"not measured: {missing} not set (the workers share PostgreSQL and Redis)"
        return {name(workers): {"error": why} for workers in WORKERS}
    runs: dict[str, list[dict[str, Any]]] = {}
    for _ in range(REPEATS):  # in turn, each row its median run (bench_storm.median_run)
        for workers in WORKERS:
            for bare in (True, False):
                row = name(workers, bare)
                try:
                    done = await asyncio.wait_for(run(workers, database, redis, bare), TIMEOUT)
                except Exception as exc:
                    late = isinstance(exc, TimeoutError)
                    why = f"timed out after {TIMEOUT:.0f} s" if late else ""
                    done = {"error": why or f"{type(exc).__name__}: {exc}"}
                runs.setdefault(row, []).append(done)
                print(f"storm, {row}:", done, flush=True)
    rows = {row: median_run(each) for row, each in runs.items()}
    for bare in (True, False):
        one = rows[name(1, bare)].get("cpu_ms_per_update")
        for workers in WORKERS:
            row = rows[name(workers, bare)]
            if isinstance(one, float) and "cpu_ms_per_update" in row:
                row["× 1 worker's CPU"] = round(row["cpu_ms_per_update"] / one, 2)
    return rows


if __name__ == "__main__":
    asyncio.run(main())

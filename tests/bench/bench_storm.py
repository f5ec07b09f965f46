"""The RSVP storm through the real runtime: 2,000 volunteers press Going on an event with 500
places, 1000 presses a second, and the bot long-polls the emulator (in its own process).

Contenders: the bare frameworks (bare_bots), and Chorus on each runtime and database. The CPU
is this process's (the bot's: handlers, SQLAlchemy, driver threads) during the storm, until
every keyboard's edit has landed (10 s at most after the last answer); the SQL statements are
counted on every engine (statements sent, plus commits).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import create_async_engine

from bot.app import freeze_startup_heap, open_storage, start_bot
from bot.config import Settings
from handlers.kernel.ports import SystemClock
from storage import sqlite_driver
from tests.bench import bare_bots, seed
from tests.bench.emulator_process import STORM_PATIENCE as PATIENCE
from tests.bench.emulator_process import EmulatorProcess

VOLUNTEERS = 2000
CAPACITY = 500
ARRIVALS_PER_SECOND = 1000
REPLAYS = 200
# Chorus's pace (BROADCAST_RATE) in the storms: the emulator's limits are off and the bare bots
# edit each keyboard at once, unpaced. At the default 30/s Chorus's edits trailed its answers
# (2,000 edits take 67 s), and only about 400 of them fell within the storm's CPU. This
# compares the CPU of the same work ("keyboards edited" shows it), not what Telegram's limits
# would let through: real Telegram would answer 2,000 edits in a few seconds with 429s.
STORM_PACE = 1000.0
TIMEOUT = 420.0  # a contender's whole run, set-up included


class Statements:
    """Counts what every engine sends to its database: statements and commits, and on SQLite
    each transaction's BEGIN IMMEDIATE, which the one-hop driver sends with the transaction's
    first statement (storage/sqlite_driver.py), so that no cursor event shows it."""

    def __init__(self) -> None:
        self.count = 0

    def _one(self, *_: Any) -> None:
        self.count += 1

    def _begin(self, connection: Any) -> None:
        if isinstance(connection.connection.dbapi_connection, sqlite_driver.OneHopConnection):
            self.count += 1

    @contextlib.contextmanager
    def listening(self) -> Iterator[Statements]:
        for name in ("before_cursor_execute", "commit"):
            event.listen(Engine, name, self._one)
        event.listen(Engine, "begin", self._begin)
        try:
            yield self
        finally:
            for name in ("before_cursor_execute", "commit"):
                event.remove(Engine, name, self._one)
            event.remove(Engine, "begin", self._begin)

    async def quiet(self, seconds: float = 1.0, within: float = 30.0) -> None:
        """Waits until no statement was sent for `seconds` (at most `within`)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            before = self.count
            await asyncio.sleep(seconds)
            if self.count == before:
                return


def postgres_url() -> str | None:
    """The benchmark's own PostgreSQL database (its schema is dropped), if one is given."""
    return os.environ.get("BENCH_POSTGRES_URL") or None


async def _fresh_postgres(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


@asynccontextmanager
async def chorus(runtime: str, token: str, url: str, database_url: str) -> AsyncIterator[None]:
    """Chorus polling the emulator until the block ends."""
    settings = Settings(
        bot_runtime=runtime,  # type: ignore[arg-type]
        metrics_port=0,
        broadcast_rate=STORM_PACE,
        _env_file=None,  # type: ignore[call-arg]
    )
    stop = asyncio.Event()
    task, _ = await start_bot(
        settings,
        token=token,
        api_url=url,
        database_url=database_url,
        stop=stop,
        clock=SystemClock(),
        ready_within=60,
    )
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait({task}, timeout=30)
        task.cancel()


DEFAULT_GC = gc.get_threshold()  # CPython's collection thresholds, before anything tunes them


def settle_heap(tuned: bool) -> None:
    """Before a storm: what start-up built is frozen (`gc.freeze`) for every contender, since
    the bare bots share this process's heap (Chorus imported, the benchmark) and would
    otherwise walk it at every full collection. `tuned`: the collector as `chorus run` sets
    it (bot/app.py `freeze_startup_heap`); else CPython's defaults, as a bare bot has them."""
    if tuned:
        freeze_startup_heap()
    else:
        gc.collect()
        gc.freeze()
        gc.set_threshold(*DEFAULT_GC)


async def _press(
    emulator: EmulatorProcess, data: str, statements: Statements, gc_tuned: bool
) -> dict[str, Any]:
    """The storm itself: rate, latency, CPU and SQL per update."""
    settle_heap(gc_tuned)
    sent, cpu = statements.count, time.process_time()
    storm = await emulator.ask("storm", data, ARRIVALS_PER_SECOND)
    cpu = time.process_time() - cpu
    answered = storm["answered"]
    if not answered:
        raise RuntimeError("no press was answered")
    result = {
        "updates_per_s": round(answered / storm["seconds"], 1),
        "p50_ms": storm["p50_ms"],
        "p95_ms": storm["p95_ms"],
        "answered > 15 s": storm["too_old"],
        "keyboards edited": storm["edited"],
        "cpu_ms_per_update": round(cpu * 1000 / answered, 2),
        "sql_per_update": round((statements.count - sent) / answered, 1),
    }
    if answered < VOLUNTEERS:  # the figures above stand for the presses answered
        result["error"] = f"only {answered} of {VOLUNTEERS} presses answered within {PATIENCE} s"
    return result


async def run(runtime: str, database: str | None, gc_tuned: bool | None = None) -> dict[str, Any]:
    """One contender: `database` None for the bare framework, else "sqlite" or a PostgreSQL URL.
    `gc_tuned` (default: Chorus's, not the bare bots'): see `settle_heap`."""
    tuned = database is not None if gc_tuned is None else gc_tuned
    emulator = EmulatorProcess(VOLUNTEERS, enabled=False)
    url, token, ids = emulator.start()
    try:
        with Statements().listening() as statements, tempfile.TemporaryDirectory() as directory:
            if database is None:
                bare = bare_bots.aiogram_bot if runtime == "aiogram" else bare_bots.ptb_bot
                async with bare(token, url):
                    return await _press(emulator, "rv:1:going", statements, tuned)
            database_url = database
            if database == "sqlite":
                database_url = f"sqlite+aiosqlite:///{Path(directory) / 'storm.sqlite3'}"
            else:
                await _fresh_postgres(database)
            storage = await open_storage(database_url)
            now = SystemClock().now()
            await seed.volunteers(storage, ids, now)
            action_id = await seed.event(storage, now, CAPACITY, created_by=ids[0])
            async with chorus(runtime, token, url, database_url):
                result = await _press(emulator, f"rv:{action_id}:going", statements, tuned)
                await statements.quiet()
                counts = await seed.answer_counts(storage, action_id)
                await emulator.ask("replay", REPLAYS)
                await statements.quiet()
                replayed = await seed.answer_counts(storage, action_id)
            await storage.engine.dispose()
            result["going/waitlist"] = f"{counts.get('going', 0)}/{counts.get('waitlist', 0)}"
            result["replays change nothing"] = "yes" if replayed == counts else f"no: {replayed}"
            return result
    finally:
        emulator.kill()


BARE_TUNED = "bare aiogram, collector tuned as Chorus's"


def contenders() -> dict[str, tuple[str, str | None, bool | None]]:
    """The contenders, by name: (runtime, database, gc_tuned). The bare aiogram bot runs a
    second time with the collector tuned as Chorus's: shown, not used for the ratios."""
    named: dict[str, tuple[str, str | None, bool | None]] = {
        "bare aiogram": ("aiogram", None, None),
        BARE_TUNED: ("aiogram", None, True),
        "Chorus on aiogram + SQLite": ("aiogram", "sqlite", None),
    }
    postgres = postgres_url()
    if postgres:
        named["Chorus on aiogram + PostgreSQL"] = ("aiogram", postgres, None)
    named["bare python-telegram-bot"] = ("ptb", None, None)
    named["Chorus on python-telegram-bot + SQLite"] = ("ptb", "sqlite", None)
    return named


def with_ratios(rows: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Adds each Chorus row's ratios to the bare bot of its framework (the same `make bench`;
    each row its median run, so the two figures may come from different repeats)."""
    for name, row in rows.items():
        bare = rows["bare aiogram" if "aiogram" in name else "bare python-telegram-bot"]
        if name.startswith("Chorus") and "updates_per_s" in row and "updates_per_s" in bare:
            row["× bare updates/s"] = round(row["updates_per_s"] / bare["updates_per_s"], 2)
            row["× bare CPU"] = round(row["cpu_ms_per_update"] / bare["cpu_ms_per_update"], 1)
    return rows


REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Of a scenario's runs, the one with the median CPU per update (its figures together),
    with every run's CPU beside it (`cpu_ms runs`); a run that failed counts as the worst,
    and the row fails when half or more of its runs did."""
    measured = [run for run in runs if "cpu_ms_per_update" in run]
    if len(measured) * 2 <= len(runs):  # half or more failed: so did the median
        errors = "; ".join(str(run["error"]) for run in runs if "error" in run)
        return {"error": f"{len(runs) - len(measured)} of {len(runs)} runs failed: {errors}"}
    measured.sort(key=lambda run: float(run["cpu_ms_per_update"]))
    middle = dict(measured[len(runs) // 2] if len(measured) == len(runs) else measured[-1])
    if len(runs) > 1:
        middle["cpu_ms runs"] = " / ".join(
            str(run.get("cpu_ms_per_update", "failed")) for run in runs
        )
    return middle


async def main() -> dict[str, dict[str, Any]]:
    """Every contender, REPEATS times in turn (the machine's noise moves one run's figures by
    a quarter or more); each row is its median run. One failing or timing out does not stop
    the rest."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in contenders()}
    for _ in range(REPEATS):
        for name, (runtime, database, gc_tuned) in contenders().items():
            try:
                row = await asyncio.wait_for(run(runtime, database, gc_tuned), TIMEOUT)
            except Exception as exc:
                why = f"timed out after {TIMEOUT:.0f} s" if isinstance(exc, TimeoutError) else ""
                row = {"error": why or f"{type(exc).__name__}: {exc}"}
            runs[name].append(row)
            print(f"storm, {name}:", row, flush=True)
    return with_ratios({name: median_run(each) for name, each in runs.items()})


if __name__ == "__main__":
    asyncio.run(main())

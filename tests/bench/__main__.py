"""Runs every benchmark and writes docs/benchmarks.md: `python -m tests.bench`.

BENCH_SIZES (default 1000,10000,100000) chooses the coalition sizes of the scale table;
BENCH_POSTGRES_URL (a database of the benchmark's own: its schema is dropped) adds the storm on
PostgreSQL; with BENCH_REDIS_URL too (keys under chorus:<bot id>:*), the storm through 1, 2 and 3
webhook workers.
"""

from __future__ import annotations

import asyncio
import os
import platform
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.bench import bench_delivery, bench_scale, bench_storm, bench_workers

DOC = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"
Rows = dict[str, dict[str, Any]]


def machine() -> str:
    """The cores, the CPU model (/proc/cpuinfo) and the Python version."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            model = next(
                (
                    line.split(":", 1)[1].strip()
                    for line in cpuinfo
                    if line.startswith("model name")
                ),
                model,
            )
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}"


def _table(rows: Rows, first: str = "scenario") -> list[str]:
    """A Markdown table, one row a scenario; a scenario that failed says why below."""
    columns = list(dict.fromkeys(c for row in rows.values() for c in row if c != "error"))
    if not columns:
        return [f"- **{name}**: {row.get('error')}" for name, row in rows.items()]
    lines = [f"| {first} | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    failures = []
    for name, row in rows.items():
        if "error" in row:
            failures.append(f"- **{name} failed**: {row['error']}")
        if set(row) != {"error"}:
            lines.append(f"| {name} | " + " | ".join(str(row.get(c, "—")) for c in columns) + " |")
        else:
            lines.append(f"| {name} | " + " | ".join("failed" for _ in columns) + " |")
    return lines + (["", *failures] if failures else [])


async def _guarded(name: str, run: Callable[[], Awaitable[Rows]]) -> Rows:
    """A whole benchmark's rows, or its error: one failing must not cost the others."""
    try:
        return await run()
    except Exception as exc:
        print(f"{name} failed: {exc!r}", flush=True)
        return {name: {"error": f"{type(exc).__name__}: {exc}"}}


def _check(target: str, value: Any, limit: float, *, at_least: bool = False) -> str:
    """One line of the reading: the target, this run's figure, met or not."""
    if not isinstance(value, int | float):
        return f"- {target}: not measured ({value})."
    met = value >= limit if at_least else value <= limit
    return f"- {target}: {value} — **{'met' if met else 'not met'}**."


def reading(storm: Rows, delivery: Rows, scale: Rows, workers: Rows | None = None) -> list[str]:
    """Issue 17's targets against this run's figures."""
    lines = []
    for name, row in storm.items():
        if not name.startswith("Chorus"):
            continue
        if "updates_per_s" not in row:
            lines.append(f"- {name}: failed ({row['error']}).")
            continue
        floor = 0.9 if "python-telegram-bot" in name else 0.5
        speed = row.get("× bare updates/s", "no bare bot")
        lines.append(
            _check(f"{name}: ≥ {floor}× the bare bot's updates/s", speed, floor, at_least=True)
        )
        if "aiogram" in name:
            lines.append(_check(f"{name}: ≤ 2× its CPU/update", row.get("× bare CPU", "—"), 2))
        lines.append(_check(f"{name}: ≤ 4 SQL statements per update", row["sql_per_update"], 4))
        lines.append(f"- {name}: replays change nothing: {row['replays change nothing']}.")
    if not any("PostgreSQL" in name for name in storm):
        lines.append("- The storm on PostgreSQL: not measured (BENCH_POSTGRES_URL not set).")
    paid = delivery.get("ptb: paid 1000/s, limits on", {})
    rate = paid.get("rate", paid.get("error"))
    lines.append(_check("python-telegram-bot's paid broadcast ≥ 900/s", rate, 900, at_least=True))
    at = {row: values.get("100,000", "not run at 100k") for row, values in scale.items()}
    empty, full = at.get(bench_scale.PRESS_EMPTY), at.get(bench_scale.PRESS_FULL)
    same = round(full / empty, 2) if isinstance(empty, float) and isinstance(full, float) else full
    for count in bench_workers.WORKERS[1:]:
        if workers is None or bench_workers.name(count) not in workers:
            continue
        name = bench_workers.name(count)
        row, bare = workers[name], workers.get(bench_workers.name(count, bare=True), {})
        growth = row.get("× 1 worker's CPU", row.get("error", "not measured"))
        lines.append(_check(f"{name}: CPU/update ≤ 1.1× one worker's", growth, 1.1))
        control = bare.get("× 1 worker's CPU")
        if isinstance(growth, float) and isinstance(control, float):
            lines.append(
                f"  - the bare aiogram webhook bot, {count} processes (the control): {control}× "
                f"its one process's; Chorus's growth beyond it: {round(growth / control, 2)}×."
            )
    return [
        *lines,
        _check("100k: an audience count under 200 ms", at.get(bench_scale.AUDIENCE), 200),
        _check("100k: a `/members` page under 200 ms", at.get(bench_scale.MEMBERS), 200),
        _check("100k: enqueueing everyone under 2,000 ms", at.get(bench_scale.ENQUEUE), 2000),
        _check("100k: a press costs the same at 0 and 100k RSVPs (× ≤ 1.25)", same, 1.25),
        _check(
            "100k: a press waits < 100 ms behind an audience count", at.get(bench_scale.WAIT), 100
        ),
        _check(
            "100k: a press waits < 100 ms behind an enqueue to everyone",
            at.get(bench_scale.WAIT_ENQUEUE),
            100,
        ),
    ]


def _load() -> str:
    return "/".join(f"{load:.1f}" for load in os.getloadavg())


def write(storm: Rows, delivery: Rows, scale: Rows, load_before: str, workers: Rows) -> None:
    """Writes docs/benchmarks.md with what has run so far."""
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` (`python -m tests.bench`) on {datetime.now(UTC):%Y-%m-%d}: "
        f"{machine()}. The machine is shared (load average over 1/5/15 min: {load_before} at",
        f"the start, {_load()} at the end): figures are noisy, ratios taken in the same run are",
        "the ones to read. Targets: issue 17.",
        "",
        "## RSVP storm through the real runtime",
        "",
        f"{bench_storm.VOLUNTEERS:,} volunteers press Going on an event with",
        f"{bench_storm.CAPACITY} places, {bench_storm.ARRIVALS_PER_SECOND} presses a second;",
        "the bot long-polls the emulator, which runs in its own process and presses the buttons.",
        "`updates_per_s`: presses / the time from the first press to the last answer; latency:",
        "a press to its answer (queueing included; Telegram refuses answers after about 15 s, so",
        "`answered > 15 s` would be spinners left turning); `cpu_ms_per_update`: the bot",
        "process's CPU (all threads) / presses; `sql_per_update`: statements sent plus commits, on",
        "every engine of the process (the inbox, the handlers, the delivery engine and scheduler",
        "polling beside them). Bare bots answer the press and edit its keyboard, nothing more",
        "(python-telegram-bot on its default httpx request; Chorus's PTB runtime posts on",
        "aiohttp). The CPU is counted until every keyboard's edit has landed (10 s at most after",
        "the last answer; `keyboards edited` of 2,000). The emulator's limits are off and the",
        "bare bots edit unpaced, so Chorus runs with",
        f"BROADCAST_RATE={bench_storm.STORM_PACE:.0f}: at the default 30/s its edits trail the",
        "answers (67 s for 2,000) and only about 400 fell within the window (the figures before",
        "2026-12-01 counted that smaller work). This compares the CPU of the same work, not what",
        "Telegram's limits would let through. Every contender's start-up heap is frozen before",
        "the storm (the bare bots share the benchmark's process and its heap, Chorus imported);",
        "Chorus's collector is as `chorus run` tunes it (bot/app.py `freeze_startup_heap`), the",
        "bare bots' has CPython's defaults; the bare aiogram bot with the collector tuned as",
        "Chorus's is shown too, and not used for the ratios. Every contender runs on asyncio's",
        "own event loop (`chorus run` uses uvloop when it is installed: not measured here).",
        f"Then {bench_storm.REPLAYS} presses are delivered again, as Telegram does",
        "after a crash: the answers must not change.",
        "",
        *_table(storm, "contender"),
        "",
        "## RSVP storm through 1, 2 and 3 webhook workers (PostgreSQL + Redis)",
        "",
        "The same storm; each worker is `chorus run` in webhook mode in a process of its own,",
        "behind a round-robin proxy (in the benchmark's process, as nginx would be) that the",
        "emulator's webhook posts to; the workers share PostgreSQL (BENCH_POSTGRES_URL) and",
        "Redis (BENCH_REDIS_URL: the per-person limit, the 429 pause, the sending pace).",
        "`cpu_ms_per_update` and `sql_per_update` are summed over all the workers' processes",
        "(each its own process time, all threads); the proxy is not counted. CPU per update",
        "must not grow with the number of workers. Beside each, the control: bare aiogram",
        "webhook bots (answer, edit the keyboard; aiogram's SimpleRequestHandler) as as many",
        "processes behind the same proxy: with more processes than cores (the emulator, the",
        "proxy, PostgreSQL and Redis run too), every process's CPU per update grows with their",
        "number, the bare bot's as well.",
        "",
        *_table(workers, "workers"),
        "",
        "## Broadcast delivery (bot/delivery.py, each runtime's lean send path, SQLite)",
        "",
        "The emulator runs in its own process; `cpu_ms_per_delivery` is the CPU time of the",
        "Chorus process (engine, SQLite, HTTP client) divided by the deliveries.",
        "",
        *_table(delivery),
        "",
        f"## Cost as the coalition grows (SQLite, CPU ms, median of {bench_scale.REPEATS})",
        "",
        "Volunteers seeded in bulk; the handlers run through the neutral dispatcher (no network).",
        "The existing RSVPs are Maybe answers of that many volunteers. The last row is the wall",
        "time of one volunteer's press sent while a coordinator's `/newaction` audience count",
        "runs in the same process.",
        "",
        *_table(scale, "operation"),
        "",
        "## Reading: issue 17's targets in this run",
        "",
        *reading(storm, delivery, scale, workers),
        "",
    ]
    DOC.write_text("\n".join(lines), encoding="utf-8")
    print(f"written {DOC}", flush=True)


async def main() -> None:
    """Runs the benchmarks one after the other; the page is rewritten after each."""
    pending = {"not run": {"error": "the run was stopped before this benchmark"}}
    load = _load()
    storm = await _guarded("RSVP storm", bench_storm.main)
    write(storm, pending, pending, load, pending)
    workers = await _guarded("workers", bench_workers.main)
    write(storm, pending, pending, load, workers)
    scale = await _guarded("scale", bench_scale.main)
    write(storm, pending, scale, load, workers)
    delivery = await _guarded("delivery", bench_delivery.main)
    write(storm, delivery, scale, load, workers)


if __name__ == "__main__":
    asyncio.run(main())

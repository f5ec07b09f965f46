"""`chorus run` as a real process at LOG_LEVEL=DEBUG, on both runtimes: its whole output (every
logger, every level, tracebacks included) never shows the bot token or the token's secret half.
Faults make the HTTP clients fail, so that error paths (which quote URLs) are logged too.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from botapi_emulator.client import SandboxClient
from botapi_emulator.emulator import RunningEmulator, start_emulator

ROOT = Path(__file__).resolve().parents[2]
WAIT = 60.0

pytestmark = pytest.mark.e2e


@pytest.fixture
async def emulator() -> AsyncIterator[RunningEmulator]:
    """An emulator of its own, without rate limits (nothing here is about pacing)."""
    running = await start_emulator()
    try:
        yield running
    finally:
        await running.stop()


async def _run_chorus(emulator: RunningEmulator, work: Path, talk: object, **settings: str) -> str:
    """Runs `python -m bot run` while `talk()` talks to it; returns everything it printed."""
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("BOT_", "DATABASE", "TELEGRAM", "ADMIN", "LOG_"))
        },
        "PYTHONPATH": str(ROOT),
        "BOT_TOKEN": emulator.token,
        "TELEGRAM_API_URL": emulator.url,
        "DATABASE_URL": f"sqlite+aiosqlite:///{work / 'chorus.sqlite3'}",
        **settings,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=work,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    reading = asyncio.create_task(process.stdout.read())
    try:
        await talk()  # type: ignore[operator]
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()
    return (await reading).decode(errors="replace")


@pytest.mark.parametrize("runtime", ["aiogram", "ptb"])
async def test_no_log_line_at_any_level_shows_the_token(
    runtime: str, emulator: RunningEmulator, tmp_path: Path
) -> None:
    _, _, secret = emulator.token.partition(":")

    async def talk() -> None:
        async with SandboxClient(emulator.url) as sandbox:
            nadia = await sandbox.create_user("Nadia", language_code="en")
            await nadia.send("/start")
            await nadia.wait_for_message(lambda m: "Welcome to" in m.text, timeout=WAIT)
            # A dropped connection and a server error: the clients log (and raise) with URLs.
            await sandbox.add_fault("sendMessage", action="drop", count=1)
            await sandbox.add_fault("getUpdates", error_code=500, count=1)
            await nadia.send("/help")
            await nadia.send("/help")
            await nadia.wait_for_message(lambda m: "/profile" in m.text, timeout=WAIT)

    output = await _run_chorus(
        emulator, tmp_path, talk, BOT_RUNTIME=runtime, LOG_LEVEL="DEBUG", LOG_FORMAT="text"
    )
    assert "DEBUG" in output and "update " in output, output[-3000:]
    assert emulator.token not in output
    assert secret not in output
    # Both faults were logged (so the search above looked at the lines that carry URLs).
    assert "Internal Server Error" in output and "Server disconnected" in output, output[-3000:]


async def test_json_lines_one_per_update_and_an_honest_start_line(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    async def talk() -> None:
        async with SandboxClient(emulator.url) as sandbox:
            ines = await sandbox.create_user("Inesita", language_code="en")
            await ines.send("/start")
            await ines.wait_for_message(lambda m: "Welcome to" in m.text, timeout=WAIT)
            await ines.send("my confidential words")
            await ines.wait_for_message(timeout=WAIT)

    output = await _run_chorus(emulator, tmp_path, talk, LOG_FORMAT="json")
    entries = [json.loads(line) for line in output.splitlines() if line.strip()]
    updates = [e for e in entries if "outcome" in e]
    assert [(e["kind"], e["outcome"]) for e in updates][:2] == [
        ("message", "handled"),
        ("message", "handled"),
    ]
    assert all({"update_id", "duration_ms"} <= set(e) for e in updates)
    started = next(e["message"] for e in entries if "polling" in e["message"])
    host = emulator.url.removeprefix("http://")
    assert started == (
        f"Chorus is polling for updates as @{emulator.state.bot.username}"
        f" through the Bot API at {host} (aiogram runtime)"
    )
    assert "confidential" not in output and "Inesita" not in output

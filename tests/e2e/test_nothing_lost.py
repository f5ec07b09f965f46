"""Nothing lost across kill -9: the real bot as a process, SIGKILLed at the worst moment.

The worst moment for long polling is the getUpdates that confirms an update: Telegram forgets
the update then, whether or not the bot handled it. The emulator calls a hook just before it
confirms (`on_confirm`), and the hook SIGKILLs the bot there — while its handler may still be
running. After a restart the update must have had its effect exactly once, and its reply must
have arrived exactly once (docs/delivery.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import open_storage
from botapi_emulator.client import Person, SandboxClient
from botapi_emulator.emulator import RunningEmulator
from storage.models import DialogState

ROOT = Path(__file__).resolve().parents[2]
# A fresh interpreter importing a framework can take many seconds on a busy machine: the waits
# are generous, and a passing run never waits them out.
STARTUP = 120.0
PATIENCE = 60.0


class BotProcess:
    """`python -m bot run` against the test's emulator; killed with SIGKILL when an armed update
    is about to be confirmed."""

    def __init__(self, emulator: RunningEmulator, work: Path, runtime: str, admin: int) -> None:
        self.emulator = emulator
        self.env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("BOT_", "DATABASE", "TELEGRAM", "ADMIN", "LOG_"))
            },
            "PYTHONPATH": str(ROOT),
            "BOT_TOKEN": emulator.token,
            "TELEGRAM_API_URL": emulator.url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{work / 'chorus.sqlite3'}",
            "BOT_RUNTIME": runtime,
            "ADMIN_IDS": str(admin),
        }
        self.database_url = self.env["DATABASE_URL"]
        self.work = work
        self.process: asyncio.subprocess.Process | None = None
        self.output: list[str] = []
        self._reader: asyncio.Task[None] | None = None
        self.armed = False
        self.kills = 0
        self.killed_updates: list[dict[str, Any]] = []
        emulator.state.on_confirm = self._on_confirm

    def _on_confirm(self, updates: list[dict[str, Any]]) -> None:
        """The emulator is about to confirm `updates`: kill the bot first, if armed."""
        if not self.armed or self.process is None or self.process.returncode is not None:
            return
        self.armed = False
        self.kills += 1
        self.killed_updates += updates
        os.kill(self.process.pid, signal.SIGKILL)

    async def start(self) -> None:
        """Starts the bot and waits until it polls."""
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=self.work,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        polling = asyncio.Event()
        self._reader = asyncio.create_task(self._read(polling))
        try:
            async with asyncio.timeout(STARTUP):
                await polling.wait()
        except TimeoutError:
            pytest.fail("the bot did not start:\n" + "".join(self.output[-50:]))

    async def _read(self, polling: asyncio.Event) -> None:
        assert self.process is not None and self.process.stdout is not None
        async for line in self.process.stdout:
            text = line.decode(errors="replace")
            self.output.append(text)
            if re.search("is polling for updates", text):
                polling.set()

    async def killed(self) -> None:
        """Waits for the armed kill to have happened."""
        assert self.process is not None
        try:
            code = await asyncio.wait_for(self.process.wait(), PATIENCE)
        except TimeoutError:
            pytest.fail("the armed kill never came:\n" + "".join(self.output[-50:]))
        assert code == -signal.SIGKILL, "".join(self.output[-50:])
        if self._reader is not None:
            await self._reader

    async def stop(self) -> None:
        """Stops the bot (Ctrl+C), or kills it if it does not stop."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await self._reader


@pytest.fixture(params=["aiogram", "ptb"])
async def bot(
    request: pytest.FixtureRequest,
    emulator: RunningEmulator,
    sandbox: SandboxClient,
    tmp_path: Path,
) -> AsyncIterator[BotProcess]:
    """The bot as a process of its own, polling the emulator."""
    coordinator = await sandbox.create_user("Coral", language_code="en")
    running = BotProcess(emulator, tmp_path, request.param, coordinator.id)
    await running.start()
    try:
        yield running
    finally:
        emulator.state.on_confirm = None
        await running.stop()
        print("".join(running.output))  # shown when the test fails


async def _texts(person: Person) -> list[str]:
    return [m.text or "" for m in await person.chat_messages()]


async def _says_once(person: Person, fragment: str) -> None:
    """Waits until the bot said `fragment` to the person, then checks it said it only once."""
    await person.wait_for_message(lambda m: fragment in (m.text or ""), timeout=PATIENCE)
    await asyncio.sleep(0.3)  # a duplicate would come right behind
    said = [text for text in await _texts(person) if fragment in text]
    assert len(said) == 1, said


async def _kill_on(bot: BotProcess, act: Any) -> None:
    """Arms the kill, does `act` (the update), waits for the kill, and restarts the bot."""
    bot.armed = True
    await act
    await bot.killed()
    await bot.start()


async def _dialog(bot: BotProcess, user_id: int) -> DialogState | None:
    storage = await open_storage(bot.database_url)
    try:
        async with storage.sessionmaker() as session:
            return await session.scalar(select(DialogState).where(DialogState.user_id == user_id))
    finally:
        await storage.engine.dispose()


@pytest.mark.timeout(4 * STARTUP + 120)
async def test_a_kill_as_getupdates_confirms_loses_no_command_press_or_answer(
    bot: BotProcess, sandbox: SandboxClient
) -> None:
    amira = await sandbox.create_user("Amira", language_code="en")
    # A command.
    await _kill_on(bot, amira.send("/start"))
    await _says_once(amira, "Welcome to")
    await _says_once(amira, "Which language do you prefer?")
    # A button press.
    await _kill_on(bot, amira.press("English"))
    await _says_once(amira, "Are you joining as an individual")
    await amira.press("An individual")
    await _says_once(amira, "What name should coordinators use")
    # A typed dialog answer.
    await _kill_on(bot, amira.send("Amira Haddad"))
    await _says_once(amira, "Which country are you based in?")
    dialog = await _dialog(bot, amira.id)
    assert dialog is not None and dialog.data.get("display_name") == "Amira Haddad", dialog
    assert bot.kills == 3
    assert [u["update_id"] for u in bot.killed_updates] == sorted(
        {u["update_id"] for u in bot.killed_updates}
    )

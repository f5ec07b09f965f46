"""The installed artefact: the wheel, in a fresh virtualenv, runs `chorus run` against the emulator.

An operator installs Chorus with pip, not from the working tree. This builds the wheel from a copy
of the tree, installs it into a new virtualenv without extras, and checks that `chorus run` starts,
speaks from the shipped catalogues and refuses what needs a missing extra in one clear line; then
adds the `ptb` extra (BOT_RUNTIME=ptb) and the `charts` extra (/stats draws its picture).

Slow (a virtualenv and several installs; pip's cache makes it about a minute), so it runs where
CHORUS_TEST_WHEEL=1 is set, as `.ci/run` does, and skips with that reason elsewhere. The only
network it needs is the package registry (through pip's cache when warm).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from botapi_emulator.client import Person, SandboxClient
from botapi_emulator.client_models import SandboxMessage
from botapi_emulator.emulator import RunningEmulator, start_emulator

ROOT = Path(__file__).resolve().parents[2]
INSTALL_TIMEOUT = 600
ANSWER_TIMEOUT = 60.0
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "*_cache", "*.sqlite3*"
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(INSTALL_TIMEOUT + 120),
    pytest.mark.skipif(
        os.environ.get("CHORUS_TEST_WHEEL") != "1",
        reason="builds and installs the wheel (a minute or two): CHORUS_TEST_WHEEL=1 (CI sets it)",
    ),
]


@dataclass(frozen=True)
class Installed:
    """A fresh virtualenv with the Chorus wheel in it."""

    venv: Path
    wheel: Path

    def pip_install(self, requirement: str) -> None:
        """Installs into this virtualenv (the registry through pip's cache)."""
        subprocess.run(
            [str(self.venv / "bin" / "python"), "-m", "pip", "install", "--quiet", requirement],
            check=True,
            timeout=INSTALL_TIMEOUT,
        )

    def has(self, module: str) -> bool:
        """Whether `module` can be imported in this virtualenv."""
        probe = (
            f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
        )
        return subprocess.run([str(self.venv / "bin" / "python"), "-c", probe]).returncode == 0


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Builds the wheel from a clean copy of the tree and installs it, without extras."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=NOT_COPIED)
    wheels = work / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), "."],
        cwd=source,
        check=True,
        timeout=INSTALL_TIMEOUT,
    )
    (wheel,) = wheels.glob("chorus-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    result = Installed(venv, wheel)
    result.pip_install(str(wheel))
    return result


def _environment(token: str, api_url: str, work: Path, **settings: str) -> dict[str, str]:
    kept = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BOT_", "DATABASE", "TELEGRAM", "ADMIN", "LOG_", "PYTHON", "CHORUS"))
    }
    return {
        **kept,
        "BOT_TOKEN": token,
        "TELEGRAM_API_URL": api_url,
        "DATABASE_URL": f"sqlite+aiosqlite:///{work / 'chorus.sqlite3'}",
        **settings,
    }


class InstalledBot:
    """`chorus run` from the fresh virtualenv, against an emulator of its own."""

    def __init__(self, installed: Installed, work: Path) -> None:
        self.installed = installed
        self.work = work
        self.output: list[str] = []
        self.process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._emulator: RunningEmulator | None = None
        self._client: SandboxClient | None = None

    async def start(self, language_code: str = "fr", **settings: str) -> Person:
        """Starts the emulator and the installed bot; returns a person the bot knows as owner."""
        self._emulator = await start_emulator()
        self._client = SandboxClient(self._emulator.url)
        person = await self._client.create_user("Camille", language_code=language_code)
        env = _environment(
            self._emulator.token,
            self._emulator.url,
            self.work,
            ADMIN_IDS=str(person.id),
            **settings,
        )
        self.process = await asyncio.create_subprocess_exec(
            str(self.installed.venv / "bin" / "chorus"),
            "run",
            cwd=self.work,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self._reader = asyncio.create_task(self._read())
        return person

    async def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        async for line in self.process.stdout:
            self.output.append(line.decode(errors="replace"))

    async def exit_code(self) -> int:
        """Waits for the bot to exit by itself."""
        assert self.process is not None
        code = await asyncio.wait_for(self.process.wait(), ANSWER_TIMEOUT)
        if self._reader is not None:
            await self._reader
        return code

    async def stop(self) -> None:
        """Stops the bot as Ctrl+C does, then the emulator."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        if self._reader is not None:
            await self._reader
            self._reader = None
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._emulator is not None:
            await self._emulator.stop()
            self._emulator = None

    async def says(self, person: Person, words: str) -> SandboxMessage:
        """Waits for the bot to show `words` to the person; fails with the bot's output."""
        try:
            return await person.wait_for_message(
                lambda m: words in (m.text or "") or words in (m.caption or ""),
                timeout=ANSWER_TIMEOUT,
            )
        except TimeoutError:
            pytest.fail(f"the bot never said {words!r}; its output:\n{''.join(self.output)}")


@pytest.fixture
async def bots(installed: Installed, tmp_path: Path) -> AsyncIterator[Callable[[], InstalledBot]]:
    """Makes installed bots (each with its own emulator and database); stops them at the end."""
    made: list[InstalledBot] = []

    def make() -> InstalledBot:
        bot = InstalledBot(installed, tmp_path / str(len(made)))
        bot.work.mkdir()
        made.append(bot)
        return bot

    yield make
    for bot in made:
        await bot.stop()


async def test_without_extras_it_starts_speaks_and_names_the_missing_extras(
    installed: Installed, bots: Callable[[], InstalledBot]
) -> None:
    assert not installed.has("matplotlib") and not installed.has("telegram")
    chorus = bots()
    camille = await chorus.start()
    await camille.send("/start")
    await chorus.says(camille, "Bienvenue dans")  # the French catalogue shipped in the wheel
    await camille.send("/stats")
    await chorus.says(camille, "pip install 'chorus[charts]'")
    await chorus.stop()

    ptb = bots()
    await ptb.start(BOT_RUNTIME="ptb")
    assert await ptb.exit_code() == 2
    assert "BOT_RUNTIME=ptb needs python-telegram-bot" in "".join(ptb.output)
    assert "Traceback" not in "".join(ptb.output)


async def test_with_the_ptb_extra_it_runs_on_python_telegram_bot(
    installed: Installed, bots: Callable[[], InstalledBot]
) -> None:
    installed.pip_install(f"{installed.wheel}[ptb]")
    chorus = bots()
    camille = await chorus.start(BOT_RUNTIME="ptb")
    await camille.send("/start")
    await chorus.says(camille, "Bienvenue dans")


async def test_with_the_charts_extra_stats_draws_its_picture(
    installed: Installed, bots: Callable[[], InstalledBot]
) -> None:
    installed.pip_install(f"{installed.wheel}[charts]")
    chorus = bots()
    camille = await chorus.start(language_code="en")
    await camille.send("/start")
    await chorus.says(camille, "Welcome to")
    await camille.send("/stats")
    message = await camille.wait_for_message(lambda m: m.photo is not None, timeout=ANSWER_TIMEOUT)
    assert message.caption and "Members over time" in message.caption

"""End-to-end: the Bot API emulator and the real bot, over HTTP on loopback.

`chorus` starts the emulator and runs Chorus (the unmodified aiogram client, long polling) as a
task in the test process, sharing one movable clock. It can be stopped, restarted and killed.
Every request the bot sent, and every object the emulator returned, is checked against the
official Bot API description when the test ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import io
import logging
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

# Both runtimes are imported here, once, rather than by the first bot a test starts: building
# aiogram's and PTB's models takes seconds of CPU, which a loaded machine stretched past
# READY_TIMEOUT ("Chorus did not start"), a budget meant for starting, not importing.
import bot.aiogram_runtime
import bot.ptb_runtime  # noqa: F401
from bot.app import Running, start_bot
from bot.config import Settings
from botapi_emulator.client import Person, SandboxClient
from botapi_emulator.emulator import RunningEmulator, start_emulator
from handlers.kernel.ports import ShiftedClock
from tests.support import bot_api_spec

log = logging.getLogger(__name__)
READY_TIMEOUT = 60.0  # a start or a stop on a busy machine; never waited out when green
# How long a person waits for the bot by default: generous, since a busy machine (CI, several
# suites at once) can take seconds for what usually takes milliseconds; a passing test never
# waits it out, so it costs nothing.
PATIENCE = 30.0


@dataclass
class ChorusUnderTest:
    """The emulator, the bot, and the people who talk to it."""

    emulator: RunningEmulator
    sandbox: SandboxClient
    clock: ShiftedClock
    database_url: str
    coordinator: Person
    runtime: str = "aiogram"
    metrics_port: int = 0  # /healthz and /metrics off unless a test asks for them
    webhook_url: str | None = None  # webhook mode (the emulator posts to it) instead of polling
    webhook_port: int | None = None  # where it listens, when not the URL's port (behind a proxy)
    redis_url: str | None = None  # several workers: limits and pace shared on Redis
    running: Running | None = None
    _task: asyncio.Task[None] | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    def settings(self) -> Settings:
        """The bot's settings for this test."""
        return Settings(
            admin_ids=frozenset({self.coordinator.id}),
            bot_runtime=self.runtime,  # type: ignore[arg-type]
            metrics_port=self.metrics_port,
            webhook_url=self.webhook_url,
            webhook_port=self.webhook_port
            or (urlsplit(self.webhook_url).port or 0 if self.webhook_url else 0),
            redis_url=self.redis_url,
            _env_file=None,  # type: ignore[call-arg]
        )

    async def start(self) -> None:
        """Starts the bot and waits until it polls."""
        self._stop = asyncio.Event()

        self._task, self.running = await start_bot(
            self.settings(),
            token=self.emulator.token,
            api_url=self.emulator.url,
            database_url=self.database_url,
            stop=self._stop,
            clock=self.clock,
            ready_within=READY_TIMEOUT,
        )

    async def stop(self) -> None:
        """Stops the bot gracefully."""
        if self._task is None:
            return
        self._stop.set()
        await _ended(self._task, "a stop")
        self._task = None
        self.running = None

    async def kill(self) -> None:
        """Stops the bot abruptly, in the middle of whatever it was doing."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await _ended(self._task, "a kill")
        self._task = None
        self.running = None
        # A killed process's SQLite connections die with it; in one process, a connection whose
        # call was cancelled halfway lingers until collected, holding its lock. Collect it as the
        # crash would, without the warning an unclosed connection normally (rightly) raises.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()

    async def restart(self) -> None:
        """Stops the bot and starts it again on the same database."""
        await self.stop()
        await self.start()

    async def advance(self, delta: timedelta) -> None:
        """Moves time forward for the bot and the emulator; due timers fire, due rows go."""
        self.clock.advance(delta)
        if self.running is not None:
            await self.running.scheduler.sync()
            if self.running.delivery is not None:
                self.running.delivery.wake()  # rows held until now (quiet hours) are due

    async def person(self, first_name: str, language_code: str | None = "en") -> Person:
        """A new Telegram user."""
        return await self.sandbox.create_user(first_name, language_code=language_code)


async def _ended(task: asyncio.Task[None], what: str) -> None:
    """Waits for the bot's task to end after `what`; if it does not within READY_TIMEOUT,
    logs what every task is waiting for (the chain of awaits) and raises TimeoutError."""
    done, _ = await asyncio.wait({task}, timeout=READY_TIMEOUT)
    if done:
        task.result()
        return
    out = io.StringIO()
    for other in asyncio.all_tasks():
        out.write(f"{other!r}\n")
        awaited: Any = other.get_coro()
        while awaited is not None:
            frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "ag_frame", None)
            if frame is not None:
                out.write(f"  {frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}\n")
            awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "ag_await", None)
    log.error("Chorus did not end after %s; the tasks:\n%s", what, out.getvalue())
    raise TimeoutError(f"Chorus did not end within {READY_TIMEOUT} s of {what}")


@pytest.fixture(autouse=True)
def _collect_leaks() -> Iterator[None]:
    """Collects garbage after each test, so that an unclosed connection fails its own test."""
    yield
    gc.collect()


@pytest.fixture
async def emulator(clock: ShiftedClock) -> AsyncIterator[RunningEmulator]:
    """The Bot API emulator with Telegram's limits, on the shared clock."""
    running = await start_emulator(now=lambda: clock.now().timestamp())
    try:
        yield running
        spec = bot_api_spec.load_spec()
        if spec is not None:
            problems = spec.check_log(list(running.state.request_log))
            assert problems == [], "requests or answers differ from the Bot API:\n" + "\n".join(
                problems[:20]
            )
    finally:
        await running.stop()


@pytest.fixture
async def sandbox(emulator: RunningEmulator) -> AsyncIterator[SandboxClient]:
    """A client of the emulator's control API."""
    async with SandboxClient(emulator.url, timeout=PATIENCE) as client:
        yield client


@pytest.fixture(params=["aiogram", "ptb"])
async def chorus(
    request: pytest.FixtureRequest,
    emulator: RunningEmulator,
    sandbox: SandboxClient,
    clock: ShiftedClock,
    tmp_path: Path,
) -> AsyncIterator[ChorusUnderTest]:
    """Chorus running against the emulator, with a coordinator from ADMIN_IDS."""
    coordinator = await sandbox.create_user("Coral", language_code="en")
    under_test = ChorusUnderTest(
        emulator=emulator,
        sandbox=sandbox,
        clock=clock,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'e2e.sqlite3'}",
        coordinator=coordinator,
        runtime=request.param,
    )
    await under_test.start()
    try:
        yield under_test
    finally:
        await under_test.kill()

"""`chorus sandbox`: the Bot API emulator, its people, the sandbox page and Chorus, no token.

The sandbox's world (people, chats, messages, polls, files, and how far its clock was moved) is
saved beside the sandbox database, so both survive a restart; `--reset` deletes both.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from datetime import timedelta
from pathlib import Path

from bot.app import Running, open_storage, start_bot
from bot.config import ConfigError, Settings, sqlite_path
from bot.sandbox_people import (
    COALITION_GROUP,
    COORDINATOR_ID,
    PEOPLE,
    SeedVolunteer,
    add_to_world,
    demo_volunteers,
    labels,
    populate,
    ready_volunteers,
    register,
)
from botapi_emulator.emulator import RunningEmulator, fake_token, start_emulator
from botapi_emulator.models import Chat, JsonDict
from botapi_emulator.page import SandboxPage
from botapi_emulator.snapshot import SnapshotError, WorldKeeper, load
from handlers.kernel.ports import ShiftedClock
from storage import timers

log = logging.getLogger(__name__)

SANDBOX_BOT_ID = 700_000_001
READY_TIMEOUT = 60.0
MAX_STEPS = 10_000  # timers fired one moment at a time by one `advance`, at most


def world_path(database_url: str) -> Path:
    """Where the emulator's world is kept: beside the SQLite file (`x.sqlite3` → `x.world.json`)."""
    path = sqlite_path(database_url)
    if path is None:
        return Path("sandbox.world.json")
    return path.with_name(path.stem + ".world.json")


def reset_files(database_url: str) -> None:
    """Deletes the sandbox database and the saved world."""
    path = sqlite_path(database_url)
    if path is None:
        raise ConfigError("SANDBOX_DATABASE_URL: --reset works with an SQLite file only")
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    world_path(database_url).unlink(missing_ok=True)


class Sandbox:
    """The emulator, its saved world, the page and Chorus, started and stopped together."""

    def __init__(
        self,
        settings: Settings,
        *,
        port: int | None = None,
        demo: bool = False,
        clock: ShiftedClock | None = None,
    ) -> None:
        self.settings = settings
        self.port = settings.sandbox_port if port is None else port
        self.demo = demo
        self.clock = clock or ShiftedClock()
        self.database_url = settings.sandbox_database_url
        self.world_file = world_path(self.database_url)
        self.admin_ids = settings.admin_ids | {COORDINATOR_ID}
        self.page = SandboxPage(
            roles={
                **{p.user_id: p.role for p in PEOPLE},
                **dict.fromkeys(sorted(self.admin_ids), "coordinator"),
            },
            advance_clock=self.advance,
            current_roles=self.labels,
        )
        self.running: Running | None = None
        self._emulator: RunningEmulator | None = None
        self._keeper: WorldKeeper | None = None
        self._bot: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    @property
    def emulator(self) -> RunningEmulator:
        """The running emulator."""
        if self._emulator is None:
            raise RuntimeError("the sandbox is not started")
        return self._emulator

    @property
    def url(self) -> str:
        """The page's (and the emulator's) address."""
        return self.emulator.url

    async def start(self) -> None:
        """Starts the emulator, restores or creates its world, and starts Chorus."""
        try:
            self._emulator = await start_emulator(
                port=self.port,
                token=fake_token(SANDBOX_BOT_ID),
                now=lambda: self.clock.now().timestamp(),
                bot_username="chorus_sandbox_bot",
                sandbox_page=self.page,
            )
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"SANDBOX_PORT: port {self.port} is in use (set SANDBOX_PORT or pass --port)"
                ) from None
            raise
        try:
            await self._prepare_world()
            self._keeper = WorldKeeper(self.emulator.state, self.world_file, self._extra)
            self._keeper.save()
            self._keeper.start()
            await self._start_bot()
        except BaseException:
            await self.stop()
            raise

    async def _prepare_world(self) -> None:
        state = self.emulator.state
        group: Chat | None = None
        if self.world_file.exists():
            try:
                extra = load(state, self.world_file.read_bytes())
                self.clock.offset = timedelta(seconds=float(extra.get("clock_offset", 0)))
            except (OSError, SnapshotError) as exc:
                broken = self.world_file.with_name(self.world_file.name + ".broken")
                log.warning(
                    "starting a new sandbox world (%s kept as %s): %s",
                    self.world_file.name,
                    broken.name,
                    exc,
                )
                self.world_file.replace(broken)
        fresh = not state.chats
        if fresh:
            group = populate(state)
        else:
            group = next(
                (
                    c
                    for c in state.chats.values()
                    if c.title == COALITION_GROUP and not c.migrated_to
                ),
                None,
            )
        seeds = ready_volunteers() if fresh else []
        if self.demo:
            demo = demo_volunteers()
            add_to_world(state, demo, group)
            seeds += demo
        if seeds:
            await self._register(seeds, group if fresh or self.demo else None)

    async def _register(self, seeds: list[SeedVolunteer], group: Chat | None) -> None:
        storage = await open_storage(self.database_url)
        try:
            async with storage.sessionmaker() as session, session.begin():
                added = await register(session, seeds, group, self.clock.now())
        finally:
            await storage.engine.dispose()
        log.info("registered %d sandbox volunteers", added)

    def _extra(self) -> JsonDict:
        return {"clock_offset": self.clock.offset.total_seconds()}

    async def _start_bot(self) -> None:
        self._stop = asyncio.Event()
        self._bot, self.running = await start_bot(
            self.settings.model_copy(update={"admin_ids": self.admin_ids}),
            token=self.emulator.token,
            api_url=self.emulator.url,
            database_url=self.database_url,
            stop=self._stop,
            clock=self.clock,
            ready_within=READY_TIMEOUT,
        )

    async def advance(self, seconds: float) -> None:
        """Moves the sandbox's time forward as that time would pass: each timer due meanwhile
        fires at its own moment, in order (a sandbox finding: jumped to the end of a day, they
        all came hours late at once, and those whose grace had passed were dropped: "Still
        coming?" was never asked); then paced sends resume."""
        goal = self.clock.offset + timedelta(seconds=seconds)  # exactly that much later
        target = self.clock.now() + timedelta(seconds=seconds)
        running = self.running
        if running is not None:
            dispatcher = running.dispatcher
            for _ in range(MAX_STEPS):
                async with dispatcher.services.sessionmaker() as session:
                    due = await timers.next_due(session)
                if due is None or due > target:
                    break
                step = min(due - self.clock.now(), goal - self.clock.offset)
                self.clock.advance(max(step, timedelta(0)))
                if not await dispatcher.run_due_timers():
                    break  # none could fire (taken meanwhile, or failing): on to the end
        self.clock.advance(goal - self.clock.offset)
        if running is not None:
            await running.scheduler.sync()
            if running.delivery is not None:
                running.delivery.wake()

    async def labels(self) -> dict[int, str]:
        """What the page says each person is, read from the bot's database now (what the
        ready-made people start as while Chorus is not running)."""
        running = self.running
        if running is None or self._emulator is None:
            return dict(self.page.roles)
        people = [user.id for user in self._emulator.state.users.values() if not user.is_bot]
        async with running.dispatcher.services.sessionmaker() as session:
            return await labels(session, people, self.admin_ids)

    async def wait(self) -> None:
        """Waits until Chorus stops (after `stop()`, or when it fails)."""
        if self._bot is not None:
            await self._bot

    async def stop(self) -> None:
        """Stops Chorus, saves the world and stops the emulator."""
        self._stop.set()
        try:
            if self._bot is not None and not self._bot.done():
                await self._bot
        finally:
            self._bot = None
            self.running = None
            if self._keeper is not None:
                await self._keeper.stop()
                self._keeper = None
            if self._emulator is not None:
                await self._emulator.stop()
                self._emulator = None


def banner(sandbox: Sandbox, roles: dict[int, str]) -> str:
    """What to print so that a newcomer knows where to go (`roles`: what each person is)."""
    url = sandbox.url
    people = "\n".join(
        f"    {p.first_name:<7} id {p.user_id}  "
        f"({roles.get(p.user_id, p.role)}, Telegram language {p.language_code})"
        for p in PEOPLE
    )
    demo = (
        "  Demo: a few hundred registered volunteers are in the group too.\n"
        if sandbox.demo
        else ""
    )
    return (
        "Chorus sandbox is running (no Telegram token needed).\n"
        f"  Open the sandbox page:  {url}/\n"
        f"  Control API:            {url}/control/   (see botapi_emulator/README.md)\n"
        f"  Bot API emulator:       {url}/bot<token>/<method>\n"
        f"  Ready-made people:\n{people}\n"
        f"  Group chat: {COALITION_GROUP!r}, with all of them.\n"
        f"{demo}"
        f"  Data is kept in {sandbox.world_file} and the sandbox database between runs\n"
        "  (chorus sandbox --reset starts afresh). Stop with Ctrl+C."
    )


async def run_sandbox(
    settings: Settings, *, port: int | None, reset: bool, stop: asyncio.Event, demo: bool = False
) -> None:
    """Runs the sandbox until `stop` is set."""
    if reset:
        reset_files(settings.sandbox_database_url)
    sandbox = Sandbox(settings, port=port, demo=demo)
    await sandbox.start()
    try:
        print(banner(sandbox, await sandbox.labels()), flush=True)
        stopping = asyncio.create_task(stop.wait())
        bot = asyncio.create_task(sandbox.wait())
        await asyncio.wait({stopping, bot}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if bot.done():
            bot.result()
    finally:
        await sandbox.stop()

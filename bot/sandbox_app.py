"""`chorus sandbox`: the Bot API emulator, ready-made people, and Chorus, with no token."""

from __future__ import annotations

import asyncio
import errno
import logging
from dataclasses import dataclass

from bot.app import Running, run_bot
from bot.config import ConfigError, Settings, sqlite_path
from bot.sandbox.emulator import RunningEmulator, fake_token, start_emulator
from handlers.ports import ShiftedClock

log = logging.getLogger(__name__)

SANDBOX_BOT_ID = 700_000_001
COORDINATOR_ID = 100_001


@dataclass(frozen=True, slots=True)
class ReadyPerson:
    """A simulated person who exists from the first start."""

    user_id: int
    first_name: str
    language_code: str
    role: str


PEOPLE = (
    ReadyPerson(COORDINATOR_ID, "Coral", "en", "coordinator"),
    ReadyPerson(100_002, "Amira", "ar", "volunteer"),
    ReadyPerson(100_003, "Marie", "fr", "volunteer"),
    ReadyPerson(100_004, "Lucía", "es", "volunteer"),
    ReadyPerson(100_005, "Sam", "en", "organisation representative"),
)
COALITION_GROUP = "Coalition"


def populate(emulator: RunningEmulator) -> None:
    """Creates the ready-made people and the coalition group (the same ids on every start)."""
    state = emulator.state
    for person in PEOPLE:
        state.create_user(
            person.first_name, language_code=person.language_code, user_id=person.user_id
        )
    state.create_group(
        COALITION_GROUP,
        [person.user_id for person in PEOPLE],
        creator_id=COORDINATOR_ID,
        bot_status="administrator",
    )


def _reset_database(url: str) -> None:
    path = sqlite_path(url)
    if path is None:
        raise ConfigError("SANDBOX_DATABASE_URL: --reset works with an SQLite file only")
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def banner(emulator: RunningEmulator) -> str:
    """What to print so that a newcomer knows where to go."""
    people = "\n".join(
        f"    {p.first_name:<7} id {p.user_id}  ({p.role}, Telegram language {p.language_code})"
        for p in PEOPLE
    )
    return (
        "Chorus sandbox is running (no Telegram token needed).\n"
        f"  Sandbox page and control API: {emulator.url}/   and   {emulator.url}/control/\n"
        f"  Bot API emulator:             {emulator.url}/bot<token>/<method>\n"
        f"  Ready-made people:\n{people}\n"
        f"  Group chat: {COALITION_GROUP!r}, with all of them.\n"
        "  Try it from a shell:\n"
        f"    curl -s -X POST {emulator.url}/control/messages -H 'content-type: application/json'"
        f' -d \'{{"user_id": {PEOPLE[1].user_id}, "text": "/start"}}\'\n'
        f"    curl -s {emulator.url}/control/chats/{PEOPLE[1].user_id}\n"
        "  Stop with Ctrl+C. Data is kept between runs (chorus sandbox --reset starts afresh)."
    )


async def run_sandbox(
    settings: Settings, *, port: int | None, reset: bool, stop: asyncio.Event
) -> None:
    """Runs the emulator and Chorus together until `stop` is set."""
    if reset:
        _reset_database(settings.sandbox_database_url)
    clock = ShiftedClock()
    try:
        emulator = await start_emulator(
            port=settings.sandbox_port if port is None else port,
            token=fake_token(SANDBOX_BOT_ID),
            now=lambda: clock.now().timestamp(),
            bot_username="chorus_sandbox_bot",
        )
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"SANDBOX_PORT: port {port or settings.sandbox_port} is in use "
                "(set SANDBOX_PORT or pass --port)"
            ) from None
        raise
    try:
        populate(emulator)
        ready = asyncio.Event()

        def on_ready(_: Running) -> None:
            ready.set()

        admins = settings.admin_ids | {COORDINATOR_ID}
        bot_task = asyncio.create_task(
            run_bot(
                settings.model_copy(update={"admin_ids": admins}),
                token=emulator.token,
                api_url=emulator.url,
                database_url=settings.sandbox_database_url,
                stop=stop,
                clock=clock,
                on_ready=on_ready,
            )
        )
        ready_task = asyncio.create_task(ready.wait())
        await asyncio.wait({bot_task, ready_task}, return_when=asyncio.FIRST_COMPLETED)
        if ready.is_set():
            print(banner(emulator), flush=True)
        else:
            ready_task.cancel()
        await bot_task
    finally:
        await emulator.stop()

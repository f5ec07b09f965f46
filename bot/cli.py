"""The `chorus` command: run, sandbox, db upgrade/downgrade/backup/restore."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import sys
from collections.abc import Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any

from bot import logs
from bot.config import ConfigError, Settings, load_settings
from storage import create_engine, migrate

log = logging.getLogger("chorus")


def _run_async(main: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    with runner:
        runner.run(main)


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


async def _run(settings: Settings) -> None:
    from bot.app import freeze_startup_heap, run_bot

    if settings.bot_token is None:
        raise ConfigError("BOT_TOKEN is not set (to try Chorus without a token: chorus sandbox)")
    stop = asyncio.Event()
    _stop_on_signals(stop)
    await run_bot(
        settings,
        token=settings.bot_token.get_secret_value(),
        api_url=settings.telegram_api_url,
        database_url=settings.database_url,
        stop=stop,
        on_ready=freeze_startup_heap,
    )


@contextlib.contextmanager
def _only_sandbox_on(world_file: Path, port: int) -> Iterator[None]:
    """Holds `<world file>.lock` while a sandbox runs, or raises ConfigError: two sandboxes on
    one database and world file would overwrite each other's world."""
    lock_path = world_file.with_name(world_file.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "another sandbox"
            raise ConfigError(
                f"SANDBOX_DATABASE_URL: {holder} already uses {world_file.name} and its database;"
                " give this one its own (SANDBOX_DATABASE_URL=sqlite+aiosqlite:///other.sqlite3)"
            ) from None
        lock.truncate(0)
        lock.write(f"the sandbox on port {port} (process {os.getpid()})\n")
        lock.flush()
        try:
            yield
        finally:
            lock.truncate(0)


async def _sandbox(settings: Settings, args: argparse.Namespace) -> None:
    from bot.sandbox_app import run_sandbox, world_path

    port = settings.sandbox_port if args.port is None else args.port
    with _only_sandbox_on(world_path(settings.sandbox_database_url), port):
        stop = asyncio.Event()
        _stop_on_signals(stop)
        await run_sandbox(settings, port=args.port, reset=args.reset, demo=args.demo, stop=stop)


async def _db_upgrade(settings: Settings) -> None:
    from bot.app import open_storage

    storage = await open_storage(settings.database_url)
    await storage.engine.dispose()
    print("The database schema is up to date.")


async def _db_downgrade(settings: Settings, revision: str) -> None:
    engine = create_engine(settings.database_url)
    try:
        await migrate.downgrade(engine, revision)
    finally:
        await engine.dispose()


def _db_copy(settings: Settings, args: argparse.Namespace) -> int:
    """`chorus db backup PATH` and `chorus db restore PATH [--yes]`."""
    from bot.ops.backup import BackupError, backup, restore

    try:
        if args.db_command == "backup":
            done = backup(settings.database_url, Path(args.path))
            print(f"Backed up to {done.path} (revision {', '.join(sorted(done.revisions))}).")
        else:
            done = restore(settings.database_url, Path(args.path), confirmed=args.yes)
            later = "" if done.at_head else "; the next start upgrades its schema"
            print(f"Restored {done.path}{later}.")
    except BackupError as exc:
        print(f"chorus: {exc}", file=sys.stderr)
        return 1
    return 0


def parser() -> argparse.ArgumentParser:
    """The command line."""
    top = argparse.ArgumentParser(prog="chorus", description="Chorus, the coalition's bot.")
    commands = top.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the bot with BOT_TOKEN (long polling)")
    run.add_argument(
        "--or-sandbox",
        action="store_true",
        help="without BOT_TOKEN (unset, empty or blank), run the sandbox instead (make run)",
    )
    sandbox = commands.add_parser("sandbox", help="the embedded emulator and the bot, no token")
    sandbox.add_argument("--port", type=int, default=None, help="port of the emulator and page")
    sandbox.add_argument("--reset", action="store_true", help="start with an empty sandbox")
    sandbox.add_argument(
        "--demo", action="store_true", help="add a few hundred registered demo volunteers"
    )
    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="bring the schema to the latest revision")
    down = db_commands.add_parser("downgrade", help="go back to a revision")
    down.add_argument("revision")
    backup = db_commands.add_parser("backup", help="copy the database to PATH (bot may run)")
    backup.add_argument("path")
    restore = db_commands.add_parser("restore", help="replace the database with the backup PATH")
    restore.add_argument("path")
    restore.add_argument("--yes", action="store_true", help="really replace the database")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"chorus: configuration error: {exc}", file=sys.stderr)
        return 2
    token = settings.bot_token.get_secret_value() if settings.bot_token else ""
    secrets = [token]
    if settings.webhook_url is not None:
        secrets.append(settings.webhook_secret_token(token))
    logs.configure(settings.log_level, settings.log_format, secrets=secrets)
    if args.command == "run" and args.or_sandbox and not token:
        args = parser().parse_args(["sandbox"])
    try:
        if args.command == "run":
            _run_async(_run(settings))
        elif args.command == "sandbox":
            _run_async(_sandbox(settings, args))
        elif args.db_command in ("backup", "restore"):
            return _db_copy(settings, args)
        elif args.db_command == "upgrade":
            _run_async(_db_upgrade(settings))
        else:
            _run_async(_db_downgrade(settings, args.revision))
    except ConfigError as exc:
        print(f"chorus: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception:
        # Through the log (not Python's own print), so the traceback is masked like every line.
        log.critical("chorus %s stopped on an unexpected error", args.command, exc_info=True)
        return 1
    return 0

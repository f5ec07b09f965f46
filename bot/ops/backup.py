"""Backups and restores of the database (`chorus db backup PATH`, `chorus db restore PATH`).

SQLite: SQLite's online backup API (`sqlite3.Connection.backup`) copies a consistent snapshot
while the bot keeps running (WAL: readers do not block writers); the copy is checked and moved
into place only when complete. A restore uses the same API in the other direction, so a stale
WAL file of the replaced database can never be replayed over the restored one.

What a backup holds about the outbox: rows sent are 'sent'; rows in flight are 'sending' and go
back to pending when a bot starts on the restored file, like after a crash (docs/delivery.md).
So a restore re-sends at most the rows in flight at the moment of the backup (the delivery
window) plus every message sent after it — restoring an old backup re-sends what was sent since.

PostgreSQL: pg_dump and pg_restore do this job well; Chorus prints the exact command.

A running bot holds a shared lock on `<database>.lock` (flock: released by the kernel when the
process dies); a restore takes it exclusively, so it refuses while any bot runs on the file.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from bot.config import sqlite_path
from storage.migrate import alembic_config

try:
    import fcntl
except ImportError:  # Windows: a running bot cannot be detected; --yes still protects
    fcntl = None  # type: ignore[assignment]

SQLITE_MAGIC = b"SQLite format 3\x00"
LOCK_TIMEOUT = 30.0  # seconds SQLite waits for a writer's lock before giving up
CHORUS_TABLES = frozenset({"alembic_version", "volunteers", "outbox", "timers"})


class BackupError(Exception):
    """The backup or restore cannot be done; the message is one line a person can act on."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A checked Chorus database file."""

    path: Path
    revisions: frozenset[str]
    at_head: bool
    outbox: dict[str, int]  # rows by state


def _libpq_url(database_url: str) -> str:
    """DATABASE_URL as libpq takes it: no SQLAlchemy driver, no password."""
    url = make_url(database_url)._replace(drivername="postgresql", password=None)
    return url.render_as_string(hide_password=False)


def pg_dump_command(database_url: str, path: str) -> str:
    """The pg_dump command that backs up DATABASE_URL's database to `path` (no password: it
    comes from PGPASSWORD or ~/.pgpass)."""
    target = _libpq_url(database_url)
    return f"pg_dump --format=custom --file={shlex.quote(path)} {shlex.quote(target)}"


def pg_restore_command(database_url: str, path: str) -> str:
    """The pg_restore command that restores `path` into DATABASE_URL's database."""
    target = _libpq_url(database_url)
    return (
        f"pg_restore --clean --if-exists --no-owner --dbname={shlex.quote(target)} "
        f"{shlex.quote(path)}"
    )


def _postgres(database_url: str, what: str, command: str) -> BackupError:
    note = " (password: PGPASSWORD or ~/.pgpass)" if make_url(database_url).password else ""
    return BackupError(f"DATABASE_URL is PostgreSQL: {what} with {command}{note}")


def _read_only(path: Path) -> str:
    """An SQLite URI opening `path` read-only (any character in the name is escaped)."""
    return f"{path.resolve().as_uri()}?mode=ro"


def _database_file(database_url: str) -> Path:
    path = sqlite_path(database_url)
    if path is None:
        raise BackupError("DATABASE_URL: an in-memory database cannot be backed up or restored")
    return path


def inspect(path: Path) -> Snapshot:
    """Checks that `path` is a sound Chorus database at a revision this Chorus knows; raises
    BackupError saying what is wrong."""
    try:
        with path.open("rb") as file:
            magic = file.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise BackupError(f"{path}: {exc.strerror}") from None
    if magic != SQLITE_MAGIC:
        raise BackupError(f"{path} is not an SQLite database")
    with contextlib.closing(sqlite3.connect(_read_only(path), uri=True)) as db:
        try:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
            if not tables >= CHORUS_TABLES:
                raise BackupError(f"{path} is not a Chorus database (tables are missing)")
            if db.execute("PRAGMA quick_check").fetchone() != ("ok",):
                raise BackupError(f"{path} is damaged (PRAGMA quick_check failed)")
            revisions = frozenset(
                row[0] for row in db.execute("SELECT version_num FROM alembic_version")
            )
            outbox = dict(
                db.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall()
            )
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{path}: {exc}") from None
    scripts = ScriptDirectory.from_config(alembic_config())
    known = {script.revision for script in scripts.walk_revisions()}
    unknown = revisions - known
    if unknown or not revisions:
        raise BackupError(
            f"{path} is at revision {', '.join(sorted(unknown)) or 'none'}, which this version "
            "of Chorus does not know (made by a newer Chorus?)"
        )
    return Snapshot(path, revisions, revisions == set(scripts.get_heads()), outbox)


def backup(database_url: str, target: Path) -> Snapshot:
    """Copies the database to `target` (replaced only once the copy is complete and checked),
    safely while the bot runs; raises BackupError."""
    if sqlite_path(database_url) is None and database_url.startswith("postgresql"):
        raise _postgres(database_url, "back it up", pg_dump_command(database_url, str(target)))
    source = _database_file(database_url)
    if not source.exists():
        raise BackupError(f"{source} does not exist (check DATABASE_URL)")
    if target.resolve() == source.resolve():
        raise BackupError(f"{target} is the database itself: back up to another file")
    partial = target.with_name(f".{target.name}.partial")
    try:
        with (
            contextlib.closing(sqlite3.connect(source, timeout=LOCK_TIMEOUT)) as db,
            contextlib.closing(sqlite3.connect(partial)) as copy,
        ):
            db.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        snapshot = inspect(partial)
        with partial.open("rb") as file:
            os.fsync(file.fileno())
        os.replace(partial, target)
    except (sqlite3.Error, OSError) as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"backup to {target} failed: {exc}") from None
    except BackupError:
        partial.unlink(missing_ok=True)
        raise
    return Snapshot(target, snapshot.revisions, snapshot.at_head, snapshot.outbox)


def restore(database_url: str, source: Path, *, confirmed: bool) -> Snapshot:
    """Replaces the database with the backup `source`: refuses while a bot runs on it, and
    without `confirmed` (--yes); raises BackupError."""
    if sqlite_path(database_url) is None and database_url.startswith("postgresql"):
        raise _postgres(database_url, "restore", pg_restore_command(database_url, str(source)))
    target = _database_file(database_url)
    snapshot = inspect(source)
    if source.resolve() == target.resolve():
        raise BackupError(f"{source} is the database itself")
    with exclusive(target):
        if not confirmed:
            raise BackupError(f"this replaces {target} with {source}: add --yes to go ahead")
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with (
                contextlib.closing(sqlite3.connect(_read_only(source), uri=True)) as backup_db,
                contextlib.closing(sqlite3.connect(target, timeout=LOCK_TIMEOUT)) as db,
            ):
                backup_db.backup(db)
        except sqlite3.Error as exc:
            raise BackupError(f"restore into {target} failed: {exc}") from None
    return snapshot


def _lock_path(database: Path) -> Path:
    return database.with_name(f"{database.name}.lock")


class RunningLock:
    """The shared lock a running bot holds on its SQLite database's lock file."""

    def __init__(self, file: IO[bytes] | None) -> None:
        self._file = file

    def release(self) -> None:
        """Lets a restore go ahead (the bot has stopped)."""
        if self._file is not None:
            self._file.close()
            self._file = None


def hold_running(database_url: str) -> RunningLock:
    """Marks the bot as running on its SQLite database (nothing for other databases); raises
    BackupError while a restore is replacing the file."""
    path = sqlite_path(database_url)
    if path is None or fcntl is None:
        return RunningLock(None)
    file = _lock_path(path).open("ab")
    try:
        fcntl.flock(file, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        file.close()
        raise BackupError(f"{path} is being restored: start the bot once it is done") from None
    return RunningLock(file)


@contextlib.contextmanager
def exclusive(database: Path) -> Iterator[None]:
    """Holds the lock file exclusively, or raises BackupError when a bot runs on `database`."""
    if fcntl is None:
        yield
        return
    database.parent.mkdir(parents=True, exist_ok=True)
    with _lock_path(database).open("ab") as file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(
                f"a bot is running on {database}: stop it first (e.g. systemctl stop chorus)"
            ) from None
        yield

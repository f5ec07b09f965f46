"""SQLAlchemy's aiosqlite driver, one thread hop a statement instead of three or four.

aiosqlite runs every call on its connection's thread, and SQLAlchemy's adapter makes a call of
each DBAPI step: open a cursor, execute, fetch the rows, close the cursor — each a trip through
a queue to that thread and a wake-up of the event loop back. A press of the RSVP storm made
about 35 of them (issue 17: the driver and its hops were a fifth of the CPU). Here a statement
is one function run on that thread — cursor, execute, every row, close — and the adapter keeps
what the cursor said (description, rowcount, lastrowid) for SQLAlchemy to read afterwards.
Results are read whole, as the default (buffered) adapter cursor reads them already.

A transaction's BEGIN (storage/db.py: BEGIN IMMEDIATE) is not a call of its own either: the
connection keeps it (`defer_begin`) and runs it on that thread just before the transaction's
first statement, in the same call: one hop fewer a transaction. It still runs before anything
is read or written, and a statement whose BEGIN failed (the lock not had within the busy
timeout) raises as a failed BEGIN did; the next statement tries the BEGIN again.

It builds on SQLAlchemy's adapter classes (not a public API; written against SQLAlchemy 2.1 and
aiosqlite 0.22): where they are not as expected, `dbapi()` returns None and the engine uses
SQLAlchemy's own aiosqlite driver — slower, never wrong.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any, cast

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT

try:  # SQLAlchemy 2.1's name; 2.0 had await_only and other adapter internals
    from sqlalchemy.util.concurrency import await_
except ImportError:  # pragma: no cover - depends on the installed SQLAlchemy
    await_ = None  # type: ignore[assignment]

Ran = tuple[Any, list[Any] | None, int, int | None]


def _begin(connection: sqlite3.Connection, begin: list[str | None]) -> None:
    """On the connection's thread: the transaction's deferred BEGIN, if one waits; marked done
    (None) only once it succeeded, so that a BEGIN that failed (the lock not had within the
    busy timeout) is tried again before the next statement, never skipped."""
    statement = begin[0]
    if statement is not None:
        connection.execute(statement).close()
        begin[0] = None


def _run(
    connection: sqlite3.Connection,
    operation: str,
    parameters: Any,
    many: bool,
    begin: list[str | None],
) -> Ran:
    """On the connection's thread: the deferred BEGIN, if any, then the statement, its rows,
    and what its cursor said."""
    _begin(connection, begin)
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else None
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """The adapter's cursor, with no aiosqlite cursor behind it: each statement is one call."""

    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: Any) -> None:  # no cursor opened: no hop
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        """Ignored: the rows are all read at once."""

    async def _run(self, operation: Any, parameters: Any, many: bool) -> None:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        adapted = cast(OneHopConnection, self._adapt_connection)
        async with adapted._execute_mutex:
            ran: Ran = await connection._execute(  # type: ignore[no-untyped-call]
                _run, connection._conn, operation, parameters, many, adapted._begin
            )
        self._description, rows, self._rowcount, self._lastrowid = ran
        self._rows = collections.deque(rows or ())

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        await self._run(operation, parameters, False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        await self._run(operation, seq_of_parameters, True)

    async def _async_soft_close(self) -> None:
        """Nothing to close: the cursor was closed on the connection's thread."""

    def close(self) -> None:
        self._rows.clear()


_NO_BEGIN: list[str | None] = [None]  # shared, never written: nothing to begin


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    """aiosqlite's adapted connection, making `OneHopCursor`s (server-side cursors as before),
    with the transaction's BEGIN deferred to its first statement (`defer_begin`), and no call
    for a commit or rollback that has nothing to end (`_ended`)."""

    __slots__ = ("_begin", "_ended")
    _cursor_cls = OneHopCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self._begin = _NO_BEGIN
        # True once a commit or rollback came back and no cursor was made since: SQLite is then
        # outside any transaction (autocommit mode: isolation_level None; only a statement,
        # BEGIN or SAVEPOINT, opens one), so a commit or rollback would do nothing. The pool's
        # rollback when a connection comes back after a commit was a call a transaction.
        self._ended = False

    def defer_begin(self, statement: str) -> None:
        """Runs `statement` (the transaction's BEGIN) with the next statement, in its call."""
        self._begin = [statement]

    def cursor(self, server_side: bool = False) -> Any:
        self._ended = False  # before any call: a statement whose caller was cancelled counts
        if server_side and self._begin[0] is not None:  # not one call: its BEGIN goes first
            await_(self._connection._execute(_begin, self._connection._conn, self._begin))
        return super().cursor(server_side)

    # The connection's thread runs the calls in order: a commit or rollback comes after any
    # statement still on its way (one whose caller was cancelled), whose BEGIN it ends too.
    def commit(self) -> None:
        self._end(super().commit)

    def rollback(self) -> None:
        self._end(super().rollback)

    def _end(self, call: Any) -> None:
        if self._ended:  # nothing begun since the last end (a deferred BEGIN never ran)
            self._begin = _NO_BEGIN
            return
        call()
        self._begin = _NO_BEGIN
        self._ended = True


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module handed to create_async_engine (`module=`)."""

    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        connection = self.aiosqlite.connect(*arg, **kw)
        connection._thread.daemon = True  # as SQLAlchemy does: a thread must not hold the exit
        return OneHopConnection(self, await_(connection))


def dbapi() -> OneHopDBAPI | None:
    """The module for create_async_engine's `module` argument; None when the installed
    SQLAlchemy or aiosqlite lacks what the one-hop cursor relies on (then the engine keeps
    SQLAlchemy's own driver)."""
    relies_on = (
        await_ is not None
        and hasattr(aiosqlite.Connection, "_execute")
        and hasattr(AsyncAdapt_aiosqlite_connection, "_cursor_cls")
        and hasattr(AsyncAdapt_aiosqlite_cursor, "_execute_async")
    )
    return OneHopDBAPI(aiosqlite, sqlite3) if relies_on else None

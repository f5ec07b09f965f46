"""A hot statement run as its compiled text on the transaction's connection (issue 17).

An RSVP press runs two statements of its own (`action_store.for_answer` and the INSERT of a
first answer). Through `AsyncSession.execute` each cost about 0.26 ms of CPU on a 2-core
machine, a quarter of the whole press, most of it SQLAlchemy's per-call work: the ORM session's
execute path, looking the statement up in the compiled cache and building an execution
context from the compiled form. The same text sent with `AsyncConnection.exec_driver_sql`
(SQLAlchemy's public API for a statement in the driver's own form) cost 0.16 ms; the driver
alone (asyncpg, prepared) 0.08 ms. Measured with the statement of `_for_next_answer`, 2,000
runs in one transaction.

`execute` keeps everything else SQLAlchemy does for a statement: the transaction's BEGIN, the
engine's events (`before_cursor_execute`: the benchmark's and the tests' statement counts see
these), errors wrapped as `sqlalchemy.exc.DBAPIError` with `connection_invalidated` set when
the connection was lost (`handlers.kernel.dispatch.connection_lost`). What it skips is type
processing of the result: the rows hold what the driver returns, so it serves statements
whose result columns need none (integers, strings, booleans, a driver's own datetimes).
Parameters are bound through their types (`TypeEngine.bind_processor`), as SQLAlchemy binds
them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy.engine import CursorResult, Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

_CONNECTION = "chorus_direct_connection"


@dataclass(frozen=True, slots=True)
class CompiledText:
    """A statement compiled once for a dialect: its text, the names of its parameters in the
    order the text takes them (or None for a dialect of named parameters), the values built into
    the statement (literals bound as parameters) and each parameter's bind processor."""

    statement: ClauseElement  # held, so that its id is not reused while this is cached
    text: str
    order: tuple[str, ...] | None
    fixed: Mapping[str, Any]
    processors: Mapping[str, Callable[[Any], Any]]

    def arguments(self, parameters: Mapping[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        """The parameters as the driver takes them: a tuple (positional dialects) or a dict.
        Raises KeyError for a parameter the statement needs and was not given."""
        values = {**self.fixed, **parameters}
        for name, process in self.processors.items():
            if name in values:
                values[name] = process(values[name])
        if self.order is None:
            return values
        return tuple(values[name] for name in self.order)


_compiled: dict[tuple[int, str, str], CompiledText] = {}  # kept for good: statements built once


def compiled(statement: ClauseElement, dialect: Dialect) -> CompiledText:
    """`statement` compiled for `dialect`, once. For statements built once (`functools.cache`):
    each one given is kept for good, by its id, its dialect and its driver.
    Raises ValueError for a statement whose text depends on its parameters (an expanding IN
    or another post-compile parameter): it has no one text to keep."""
    key = (id(statement), dialect.name, dialect.driver)
    found = _compiled.get(key)
    if found is not None and found.statement is statement:
        return found
    form = cast(SQLCompiler, statement.compile(dialect=dialect))
    if any(bind.expanding or bind.literal_execute for bind in form.binds.values()):
        raise ValueError("a statement with a post-compile parameter has no one text")
    if form.escaped_bind_names:
        raise ValueError("a statement whose parameter names the dialect escapes")
    fixed = {name: bind.effective_value for name, bind in form.binds.items() if not bind.required}
    processors = {}
    for name, bind in form.binds.items():
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors[name] = process
    order = tuple(form.positiontup) if form.positional and form.positiontup else None
    found = CompiledText(statement, form.string, order, fixed, processors)
    _compiled[key] = found
    return found


async def _connection(session: AsyncSession) -> AsyncConnection:
    """The connection of the session's transaction, begun if none is (as `execute` begins it),
    kept for the rest of that transaction."""
    transaction = session.sync_session.get_transaction()
    if transaction is not None and transaction.is_active:
        held = session.info.get(_CONNECTION)
        if held is not None and held[0] is transaction:
            return held[1]  # type: ignore[no-any-return]
    # (A transaction a failed flush rolled back is no longer active: this raises, as
    # `AsyncSession.execute` does, rather than begin another on the connection; a cold
    # review's finding.)
    connection = await session.connection()
    session.info[_CONNECTION] = (session.sync_session.get_transaction(), connection)
    return connection


async def execute(
    session: AsyncSession, statement: ClauseElement, parameters: Mapping[str, Any]
) -> CursorResult[Any]:
    """Runs a statement built once (see the module's docstring) in the session's transaction
    with `parameters` by name; its rows hold the driver's values, not type-processed.
    Raises what `AsyncSession.execute` raises (`sqlalchemy.exc.DBAPIError` and its kinds).
    Pending changes of the session's objects are flushed first, as `execute` autoflushes."""
    sync = session.sync_session
    if sync.autoflush and (sync.new or sync.deleted or sync.dirty):
        await session.flush()
    connection = await _connection(session)
    form = compiled(statement, connection.dialect)
    return await connection.exec_driver_sql(form.text, form.arguments(parameters))


async def first(
    session: AsyncSession, statement: ClauseElement, parameters: Mapping[str, Any]
) -> Sequence[Any] | None:
    """`execute`'s first row, or None."""
    return (await execute(session, statement, parameters)).first()

"""Engine and session factory: SQLite tuned for concurrent async writers, or PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    Select,
    String,
    bindparam,
    event,
    func,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage import sqlite_driver

try:  # SQLAlchemy 2.1's name (see storage/sqlite_driver.py)
    from sqlalchemy.util.concurrency import await_
except ImportError:  # pragma: no cover - depends on the installed SQLAlchemy
    await_ = None  # type: ignore[assignment]

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Writers wait their turn in SQLAlchemy's pool (first come, first served) rather than in
# SQLite's busy handler, which is not fair: under load an unlucky writer could wait past the
# busy timeout ("database is locked") while others kept taking the lock.
SQLITE_POOL_SIZE = 5
BEGIN = "BEGIN IMMEDIATE"
READ_BEGIN = "BEGIN"  # deferred: a reader takes no write lock; WAL lets it run beside the writer
READ_ONLY = "chorus_read_only"  # the execution option of `create_read_sessionmaker`'s engine


def is_sqlite(url: str) -> bool:
    """Tells whether a database URL points at SQLite."""
    return make_url(url).get_backend_name() == "sqlite"


def _key(connection: Any) -> int:
    """A DBAPI connection's identity, whether given bare or as the pool's proxy of it."""
    return id(getattr(connection, "dbapi_connection", connection))


async def _acquire(lock: asyncio.Lock, seconds: float) -> None:
    """Takes `lock` within `seconds` (else TimeoutError), without the task that
    asyncio.wait_for makes of it (a transaction's gate: 12.5 -> 4.5 µs of CPU uncontended)."""
    async with asyncio.timeout(seconds):
        await lock.acquire()


class WriteGate:
    """One SQLite writer at a time, handed over in this process the moment the last one ends.

    A writer that found the write lock taken used to wait in SQLite's busy handler, which polls
    with growing sleeps (… 25, 25, 50, 50, 100 ms): a volunteer's press behind a coordinator's
    80 ms audience count waited on until its next poll, 110–150 ms in all (issue 17, `make
    bench`'s scale table). Here a writer waits for the lock on an asyncio lock taken before
    BEGIN IMMEDIATE and released once its COMMIT or ROLLBACK is done (`wrap`): the next one
    starts at once, first come first served. A writer that waits longer than the busy timeout
    (a task that opened a second write transaction inside its own, say) goes on to SQLite's
    busy handler as before: never worse than without the gate. Other processes on the file
    are still kept out by SQLite's lock alone.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._holders: dict[int, asyncio.Lock] = {}  # id(DBAPI connection) -> its lock

    def enter(self, dbapi_connection: Any) -> None:
        """Waits for the gate (in the engine's greenlet); then this connection holds it."""
        if await_ is None:  # pragma: no cover - depends on SQLAlchemy
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not under asyncio: nothing to share the gate with
            return
        lock = self._locks.setdefault(loop, asyncio.Lock())
        try:
            await_(_acquire(lock, self.timeout))
        except TimeoutError:
            return  # SQLite's busy handler decides, as without the gate
        self._holders[_key(dbapi_connection)] = lock

    def leave(self, dbapi_connection: Any) -> None:
        """This connection's transaction has ended: the next writer may start."""
        lock = self._holders.pop(_key(dbapi_connection), None)
        if lock is not None:
            lock.release()

    def wrap(self, dialect: Any) -> None:
        """Leaves the gate after the dialect's COMMIT and ROLLBACK (the pool's reset of a
        connection returned mid-transaction too), once SQLite has released its lock."""
        commit, rollback = dialect.do_commit, dialect.do_rollback

        def do_commit(dbapi_connection: Any) -> None:
            try:
                commit(dbapi_connection)
            finally:
                self.leave(dbapi_connection)

        def do_rollback(dbapi_connection: Any) -> None:
            try:
                rollback(dbapi_connection)
            finally:
                self.leave(dbapi_connection)

        dialect.do_commit, dialect.do_rollback = do_commit, do_rollback


PING_AFTER_IDLE = 10.0  # seconds a pooled PostgreSQL connection may rest and go unchecked
idle_clock = time.monotonic  # seconds; replaced by tests


def ping_when_idle(engine: AsyncEngine) -> None:
    """SQLAlchemy's `pool_pre_ping` (pessimistic disconnect handling), for the connections that
    rested PING_AFTER_IDLE seconds or more: a connection checked in less than that ago is used
    without a ping. On asyncpg a ping is three round trips (BEGIN, an empty statement,
    ROLLBACK) before every transaction: issue 17 measured it at 6 % of a webhook worker's
    CPU in a storm, more the more workers share the storm. A connection the server closed
    meanwhile fails its first statement instead; SQLAlchemy then invalidates the pool, and the
    callers try again (the inbox write, a chunk's updates each alone, the outbox's next
    round, a timer). A checkout handler raising DisconnectionError makes the pool take another
    connection (PoolEvents.checkout); InvalidatePoolError, as `pool_pre_ping` raises it, also
    replaces every other connection checked in before (the server that closed one has closed
    them all). The pool hands out the connection used last (`pool_use_lifo`), so that under
    light traffic one stays warm and the others rest (and are pinged when next needed)."""
    pool = engine.sync_engine.pool
    dialect = engine.sync_engine.dialect

    @event.listens_for(pool, "checkin")
    def rested(dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["idle_since"] = idle_clock()

    @event.listens_for(pool, "checkout")
    def pinged(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or idle_clock() - since < PING_AFTER_IDLE:
            return  # new, or used a moment ago
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise InvalidatePoolError("the connection did not answer a ping") from exc
        if not alive:
            raise InvalidatePoolError("the connection did not answer a ping")


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """Builds the async engine; on SQLite: WAL, a busy timeout and BEGIN IMMEDIATE writes."""
    if not is_sqlite(url):
        engine = create_async_engine(url, echo=echo, pool_use_lifo=True)
        ping_when_idle(engine)
        return engine
    one_hop = sqlite_driver.dbapi()  # one thread hop a statement (issue 17), where it fits
    engine = create_async_engine(
        url,
        echo=echo,
        **({"module": one_hop} if one_hop is not None else {}),
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        pool_size=SQLITE_POOL_SIZE,
        max_overflow=0,
        pool_timeout=60,
    )
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (pysqlite's implicit transactions defer locking).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    gate = WriteGate(SQLITE_BUSY_TIMEOUT_MS / 1000)
    gate.wrap(sync_engine.dialect)

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Take the write lock up front: no "database is locked" on a lock upgrade mid-transaction.
        # The one-hop driver sends it with the transaction's first statement (one call fewer).
        # First the gate: one writer at a time, the next at once when one ends (`WriteGate`).
        # A read-only transaction (`create_read_sessionmaker`) takes neither: a plain BEGIN,
        # on a connection SQLite itself keeps from writing (PRAGMA query_only, set and unset
        # only when a connection changes hands between readers and writers).
        proxied = conn.connection
        read_only = bool(conn.get_execution_options().get(READ_ONLY, False))
        if proxied.info.get(READ_ONLY, False) != read_only:
            conn.exec_driver_sql(f"PRAGMA query_only={'ON' if read_only else 'OFF'}")
            proxied.info[READ_ONLY] = read_only
        if not read_only:
            gate.enter(proxied)
        try:
            begin = READ_BEGIN if read_only else BEGIN
            dbapi_connection = proxied.dbapi_connection
            if isinstance(dbapi_connection, sqlite_driver.OneHopConnection):
                dbapi_connection.defer_begin(begin)
            else:
                conn.exec_driver_sql(begin)
        except BaseException:
            gate.leave(proxied)
            raise

    @event.listens_for(sync_engine, "close")
    def _on_close(dbapi_connection: Any, _record: Any) -> None:
        gate.leave(dbapi_connection)  # closed mid-transaction: SQLite has let its lock go

    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """One factory per process; one session per update."""
    return async_sessionmaker(engine, expire_on_commit=False)


def create_read_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for work that only reads (counts, reports, pages), kept from blocking writers.

    On SQLite a read-only session's transaction is a plain (deferred) BEGIN, outside the
    writers' gate: in WAL mode it reads its snapshot while a writer commits beside it, where a
    session of `create_sessionmaker` would hold the write lock for all its reading (issue 17).
    SQLite refuses any write in it (PRAGMA query_only: "attempt to write a readonly database").
    On PostgreSQL its transactions are READ ONLY. Both share the engine's pool."""
    options: dict[str, Any] = {READ_ONLY: True}
    if engine.dialect.name == "postgresql":
        options["postgresql_readonly"] = True
    return async_sessionmaker(engine.execution_options(**options), expire_on_commit=False)


@cache
def id_rows(names: tuple[str, str], dialect: str) -> Select[int, int]:
    """A SELECT of rows of two big-integer columns named `names`, the rows given as parameters
    (`id_rows_values`): a batch's ids to join against in one statement (issue 17). Built once
    per dialect, so that SQLAlchemy compiles it once: PostgreSQL unnests two BIGINT arrays,
    SQLite reads a JSON array of pairs (json_each)."""
    first, second = names
    if dialect == "postgresql":
        listed = func.unnest(
            bindparam(f"{first}_list", type_=ARRAY(BigInteger)),
            bindparam(f"{second}_list", type_=ARRAY(BigInteger)),
        )
        rows = listed.table_valued(first, second).render_derived(name=f"{first}_rows")
        return select(
            type_coerce(rows.c[first], BigInteger).label(first),
            type_coerce(rows.c[second], BigInteger).label(second),
        )
    pairs = func.json_each(bindparam(f"{first}_{second}_json", type_=String)).table_valued("value")
    return select(
        type_coerce(func.json_extract(pairs.c.value, "$[0]"), BigInteger).label(first),
        type_coerce(func.json_extract(pairs.c.value, "$[1]"), BigInteger).label(second),
    )


def id_rows_values(
    names: tuple[str, str], dialect: str, rows: Sequence[tuple[int, int]]
) -> dict[str, Any]:
    """The parameters of `id_rows(names, dialect)` for these rows."""
    first, second = names
    if dialect == "postgresql":
        return {
            f"{first}_list": [int(a) for a, _ in rows],
            f"{second}_list": [int(b) for _, b in rows],
        }
    return {f"{first}_{second}_json": json.dumps([[int(a), int(b)] for a, b in rows])}

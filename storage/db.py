"""Engine and session factory: SQLite tuned for concurrent async writers, or PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage import sqlite_driver

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Writers wait their turn in SQLAlchemy's pool (first come, first served) rather than in
# SQLite's busy handler, which is not fair: under load an unlucky writer could wait past the
# busy timeout ("database is locked") while others kept taking the lock.
SQLITE_POOL_SIZE = 5
BEGIN = "BEGIN IMMEDIATE"


def is_sqlite(url: str) -> bool:
    """Tells whether a database URL points at SQLite."""
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """Builds the async engine; on SQLite: WAL, a busy timeout and BEGIN IMMEDIATE writes."""
    if not is_sqlite(url):
        return create_async_engine(url, echo=echo, pool_pre_ping=True)
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

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Take the write lock up front: no "database is locked" on a lock upgrade mid-transaction.
        # The one-hop driver sends it with the transaction's first statement (one call fewer).
        dbapi_connection = conn.connection.dbapi_connection
        if isinstance(dbapi_connection, sqlite_driver.OneHopConnection):
            dbapi_connection.defer_begin(BEGIN)
        else:
            conn.exec_driver_sql(BEGIN)

    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """One factory per process; one session per update."""
    return async_sessionmaker(engine, expire_on_commit=False)

"""Alembic: every revision upgrades and downgrades cleanly, and the models match the migrations."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import create_engine, migrate
from storage.schema import Base


def _revisions() -> list[tuple[str, str]]:
    """(revision, the revision just below it) for every revision, oldest first."""
    script = ScriptDirectory.from_config(migrate.alembic_config())
    steps = []
    for rev in reversed(list(script.walk_revisions())):
        below = rev.down_revision
        assert not isinstance(below, tuple), "merge revisions: step down to each parent"
        steps.append((rev.revision, below or "base"))
    return steps


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": False})
    return list(compare_metadata(context, Base.metadata))


async def _reset_postgres(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))


@pytest.fixture(params=["sqlite", "postgres"])
async def engine(request: pytest.FixtureRequest, database_url: str) -> AsyncIterator[AsyncEngine]:
    """An empty database of each kind."""
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        engine = create_engine(url)
        await _reset_postgres(engine)
    else:
        engine = create_engine(database_url)
    yield engine
    if request.param == "postgres":
        await _reset_postgres(engine)
    await engine.dispose()


async def test_stairway_upgrade_downgrade_upgrade_every_revision(engine: AsyncEngine) -> None:
    revisions = _revisions()
    assert revisions[0] == ("0001", "base")
    for revision, below in revisions:
        await migrate.upgrade(engine, revision)
        await migrate.downgrade(engine, below)
        await migrate.upgrade(engine, revision)
    await migrate.upgrade(engine, "heads")
    await migrate.downgrade(engine, "base")
    async with engine.connect() as connection:
        assert await connection.run_sync(_tables) == set()


async def test_models_match_the_migrations(engine: AsyncEngine) -> None:
    await migrate.upgrade(engine)
    async with engine.connect() as connection:
        assert await connection.run_sync(_tables) == set(Base.metadata.tables)
        assert await connection.run_sync(_diff) == []

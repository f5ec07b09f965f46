"""Migration 0015 counts the answers already given onto their actions (issue 17)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import create_engine, migrate


async def _reset_postgres(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))


@pytest.fixture(params=["sqlite", "postgres"])
async def engine(request: pytest.FixtureRequest, database_url: str) -> AsyncIterator[AsyncEngine]:
    """An empty database of each kind."""
    if request.param == "postgres":
        engine = create_engine(request.getfixturevalue("postgres_url"))
        await _reset_postgres(engine)
    else:
        engine = create_engine(database_url)
    yield engine
    if request.param == "postgres":
        await _reset_postgres(engine)
    await engine.dispose()


async def test_existing_answers_are_counted_on_their_actions(engine: AsyncEngine) -> None:
    await migrate.upgrade(engine, "0014_action_slots")
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    answers = {1: ["going"] * 3 + ["waitlist"] * 2 + ["maybe", "cant"], 2: ["done"] * 4, 3: []}
    async with engine.begin() as connection:
        for action_id, statuses in answers.items():
            await connection.execute(
                text(
                    "INSERT INTO actions (id, code, kind, title, description, timezone, online,"
                    " audience, group_ids, reminder_minutes, status, created_by, created_at,"
                    " updated_at) VALUES (:id, :code, 'meeting', 't', 'd', 'UTC', false, '{}',"
                    " '[]', '[]', 'open', 1, :now, :now)"
                ),
                {"id": action_id, "code": f"c{action_id}", "now": now},
            )
            for user_id, status in enumerate(statuses, start=1):
                await connection.execute(
                    text(
                        "INSERT INTO rsvps (action_id, user_id, status, answered_at)"
                        " VALUES (:action, :user, :status, :now)"
                    ),
                    {"action": action_id, "user": user_id, "status": status, "now": now},
                )
    await migrate.upgrade(engine)
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                text(
                    "SELECT id, going_count, waitlist_count, maybe_count, cant_count, done_count"
                    " FROM actions ORDER BY id"
                )
            )
        ).all()
    assert [tuple(row) for row in rows] == [
        (1, 3, 2, 1, 1, 0),
        (2, 0, 0, 0, 0, 4),
        (3, 0, 0, 0, 0, 0),
    ]

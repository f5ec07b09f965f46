"""`json_has_any` (storage/json_lists.py): on SQLite a substring test rules rows out before the
JSON is taken apart (issue 17); the answer must stay the JSON's, item for item."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select

from bot.app import Storage
from storage.json_lists import dialect_of, json_has_any
from storage.models import Volunteer

MOMENT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

MUTED: dict[int, Any] = {
    1: None,
    2: [],
    3: ["action:meeting"],
    4: ["action:meetings"],  # the text holds "action:meeting", no item is it
    5: ["x", "action:meeting"],
    6: ["action:réunion"],  # not plain ASCII: the JSON alone decides
    7: ['say "action:meeting"'],
}


def _volunteer(user_id: int, muted: Any) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "kind": "individual",
        "display_name": f"V{user_id}",
        "country": "LB",
        "language": "en",
        "timezone": "Asia/Beirut",
        "skills": [],
        "resources": [],
        "interests": [],
        "muted": muted,
        "pledge_accepted_at": MOMENT,
        "consent_given_at": MOMENT,
        "status": "active",
        "registered_at": MOMENT,
        "updated_at": MOMENT,
    }


async def test_a_list_holds_a_value_only_as_an_item(storage: Storage) -> None:
    await _holds_only_items(storage)


async def test_a_list_holds_a_value_only_as_an_item_on_postgresql(pg_storage: Storage) -> None:
    await _holds_only_items(pg_storage)


async def _holds_only_items(storage: Storage) -> None:
    async with storage.engine.begin() as connection:
        await connection.execute(
            insert(Volunteer), [_volunteer(u, muted) for u, muted in MUTED.items()]
        )
    async with storage.sessionmaker() as session:
        dialect = dialect_of(session)

        async def holding(*values: str) -> list[int]:
            found = await session.scalars(
                select(Volunteer.user_id)
                .where(json_has_any(dialect, Volunteer.muted, list(values)))
                .order_by(Volunteer.user_id)
            )
            return list(found)

        assert await holding("action:meeting") == [3, 5]
        assert await holding("action:réunion") == [6]
        assert await holding("action:meetings", "x") == [4, 5]
        assert await holding('say "action:meeting"') == [7]
        assert await holding("action:vigil") == []

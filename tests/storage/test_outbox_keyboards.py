"""The outbox keeps neutral button rows; rows written before 0007_botapi stay readable."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from bot.app import Storage
from handlers.kernel.ports import Button
from storage import create_engine, migrate, outbox
from storage.db import create_sessionmaker
from storage.outbox import Outgoing

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
OLD_SHAPE = [
    [{"text": "Going", "callback_data": "rv:1:going"}, {"text": "Site", "url": "https://x.org"}]
]
BUTTONS = ((Button("Going", "rv:1:going"), Button("Site", url="https://x.org")),)


async def test_a_keyboard_round_trips_as_neutral_buttons(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        sessions = create_sessionmaker(engine)
        async with sessions() as session, session.begin():
            rows = [Outgoing(1, "a", [list(BUTTONS[0])]), Outgoing(2, "b")]
            await outbox.enqueue(session, rows, purpose="notice", ref=None, now=NOW)
        async with engine.connect() as connection:
            stored = (await connection.execute(text("SELECT keyboard FROM outbox"))).scalars()
            first, second = list(stored)
        assert json.loads(first) == [
            [{"label": "Going", "data": "rv:1:going"}, {"label": "Site", "url": "https://x.org"}]
        ]
        assert second in (None, "null")  # no buttons: JSON null
        async with sessions() as session, session.begin():
            claimed = await outbox.claim(session, 10, NOW)
        assert [item.keyboard for item in claimed] == [BUTTONS, None]
    finally:
        await engine.dispose()


async def test_rows_of_the_old_shape_are_converted_both_ways(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine, "0004")
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO outbox (purpose, chat_id, text, keyboard, state, attempts,"
                    " created_at) VALUES ('broadcast', 7, 'hi', :kb, 'pending', 0, :now)"
                ),
                {"kb": json.dumps(OLD_SHAPE), "now": NOW.isoformat()},
            )
        await migrate.upgrade(engine)
        async with create_sessionmaker(engine)() as session, session.begin():
            (item,) = await outbox.claim(session, 10, NOW)
        assert item.keyboard == BUTTONS
        await migrate.downgrade(engine, "0004")
        async with engine.connect() as connection:
            stored = await connection.scalar(text("SELECT keyboard FROM outbox"))
        assert json.loads(stored) == OLD_SHAPE
    finally:
        await engine.dispose()


async def _claimed_twice(sessions: Any) -> list[Any]:
    async with sessions() as session, session.begin():
        rows = [Outgoing(chat, "a", [list(BUTTONS[0])]) for chat in (1, 2)] + [Outgoing(3, "b")]
        await outbox.enqueue(session, rows, purpose="broadcast", ref="b1", now=NOW)
    async with sessions() as session, session.begin():
        return await outbox.claim(session, 10, NOW)


async def test_a_broadcasts_rows_share_one_keyboard_decoded_once(database_url: str) -> None:
    """Every row of a broadcast stores the same keyboard: a claim decodes it once (its rows
    share one, immutable), on SQLite and on PostgreSQL (below)."""
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        claimed = await _claimed_twice(create_sessionmaker(engine))
    finally:
        await engine.dispose()
    assert [item.keyboard for item in claimed] == [BUTTONS, BUTTONS, None]
    assert claimed[0].keyboard is claimed[1].keyboard


async def test_claimed_keyboards_on_postgresql(pg_storage: Storage) -> None:
    claimed = await _claimed_twice(pg_storage.sessionmaker)
    assert [item.keyboard for item in claimed] == [BUTTONS, BUTTONS, None]
    assert claimed[0].keyboard is claimed[1].keyboard


async def test_replies_recorded_together_each_get_their_own_row(database_url: str) -> None:
    """A batch's replies are one INSERT (issue 17), whose RETURNING promises no order: each
    reply must still get the id of the row that holds it, twins and all."""
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        sessions = create_sessionmaker(engine)
        messages = [
            Outgoing(7, "b", [list(BUTTONS[0])]),
            Outgoing(5, "a"),
            Outgoing(7, "b"),  # the same text, without buttons
            Outgoing(5, "a"),  # a twin of the second
            Outgoing(5, "a", edit_of=3),
            Outgoing(9, "", [list(BUTTONS[0])], edit_of=4, keyboard_only=True),
        ]
        async with sessions() as session, session.begin():
            claimed = await outbox.add_replies(session, messages, NOW)
        assert [c.text for c in claimed] == [m.text for m in messages]
        async with engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT id, chat_id, text, keyboard, edit_of, purpose FROM outbox")
            )
            stored = {row[0]: row[1:] for row in rows}
        assert sorted(c.id for c in claimed) == sorted(stored)
        for reply, message in zip(claimed, messages, strict=True):
            chat_id, body, keyboard, edit_of, purpose = stored[reply.id]
            assert (chat_id, body, edit_of) == (message.chat_id, message.text, message.edit_of)
            assert (keyboard not in (None, "null")) == (message.keyboard is not None)
            assert (purpose == outbox.REPLY_KEYBOARD) == message.keyboard_only
        twins = [
            c.id
            for c, m in zip(claimed, messages, strict=True)
            if (m.chat_id, m.text) == (5, "a") and m.edit_of is None
        ]
        assert twins == sorted(twins)  # twins in the order they were given
    finally:
        await engine.dispose()

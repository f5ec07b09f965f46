"""A press whose first answer is written in its own read (a batch's later presses: SQLite's
INSERT … RETURNING, PostgreSQL's WITH clause) reads what any other press reads: announced,
noticed and pressed_stripped, in a mixed outbox (a cold review's check)."""

from __future__ import annotations

import pytest

from bot.app import Storage
from handlers.kernel.context import Services
from storage.actions import action_store
from storage.actions.action_models import Broadcast
from storage.models import OutboxMessage
from tests.handlers.test_batch import _held_event
from tests.handlers.test_rsvp_cost import any_storage

__all__ = ["any_storage"]

BUTTONS = [[{"text": "Going", "callback_data": "r"}]]


@pytest.mark.parametrize("pressed", [None, 100, 101, 102, 103, 104, 105, 106, 107])
async def test_the_returning_read_equals_the_select_read(
    any_storage: Storage, services: Services, pressed: int | None
) -> None:
    now = services.clock.now()
    async with any_storage.sessionmaker() as session:
        action_id = await _held_event(session, services, 5)
        announce = Broadcast(action_id=action_id, purpose="announce", created_at=now)
        update = Broadcast(action_id=action_id, purpose="update", created_at=now)
        other_action = Broadcast(action_id=action_id + 1000, purpose="update", created_at=now)
        session.add_all([announce, update, other_action])
        await session.flush()

        def row(chat: int, ref: str, mid: int | None, keyboard=BUTTONS, edit_of=None, **kw):
            session.add(
                OutboxMessage(
                    purpose=kw.get("purpose", "broadcast"),
                    ref=ref,
                    state=kw.get("state", "sent"),
                    message_id=mid,
                    keyboard=keyboard,
                    edit_of=edit_of,
                    chat_id=chat,
                    text="x",
                    attempts=1,
                    created_at=now,
                )
            )

        p = f"p{action_id}"
        row(8, f"b{announce.id}", 100)  # announcement
        row(8, f"b{update.id}", 101)  # other broadcast, buttons
        row(8, f"b{update.id}", 102)  # other broadcast, outdated below
        row(8, f"e{action_id}", None, None, edit_of=102, purpose="action_edit")
        row(8, p, 103)  # promoted notice
        row(8, p, 104)  # promoted notice stripped (keyboard [])
        row(8, "reply", None, [], edit_of=104, purpose="reply_keyboard")
        row(8, p, 105, keyboard=None)  # sent without buttons
        row(8, f"b{other_action.id}", 106)  # another action's broadcast
        row(9, f"b{update.id}", 107)  # another chat's copy
        row(9, f"e{action_id}", None, None, edit_of=101, purpose="action_edit")  # 101 in 9
        row(8, f"b{update.id}", 107, state="pending")  # not delivered
        row(-5, f"b{announce.id}", 100)  # group post, same id
        await session.flush()
        plain = await action_store.for_answer(session, action_id, 8, p, pressed)
        assert plain is not None and plain.previous is None
        first = action_store.FirstAnswer(action_store.GOING, now)
        found = await action_store.for_answer(session, action_id, 8, p, pressed, first=first)
        assert found is not None and found.first_written
        got = (found.announced, found.noticed, found.pressed_stripped)
        assert got == (plain.announced, plain.noticed, plain.pressed_stripped)
        assert plain.announced == (100,) and plain.noticed == (101, 103)
        await session.rollback()

"""A call to action sent to a whole coalition is queued by the database (issue 17): the same
messages, digests and timers as when each volunteer was handled one by one, for a number of
statements that does not grow with the coalition and no volunteer loaded."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import Storage
from handlers.actions import broadcasts as sending
from handlers.kernel.context import Context
from handlers.kernel.ports import ShiftedClock
from storage.actions import action_store, broadcast_store
from storage.actions.action_models import Action, Broadcast, DigestItem
from storage.models import OutboxMessage, Timer
from tests.conftest import COORDINATOR_ID
from tests.handlers.test_actions import create_meeting
from tests.support.crowd import Cost, counting, seed
from tests.support.recording import Conversation, Someone


@pytest.fixture
def coordinator(conversation: Conversation) -> Someone:
    """The coordinator (in ADMIN_IDS)."""
    return conversation.person("Coral", user_id=COORDINATOR_ID)


async def _snapshot(session: AsyncSession, broadcast: Broadcast) -> dict[str, Any]:
    rows = await session.execute(
        select(
            OutboxMessage.chat_id,
            OutboxMessage.text,
            OutboxMessage.keyboard,
            OutboxMessage.not_before,
            OutboxMessage.purpose,
            OutboxMessage.state,
        )
        .where(OutboxMessage.ref == broadcast_store.ref(broadcast.id))
        .order_by(OutboxMessage.chat_id)
    )
    digests = await session.execute(
        select(DigestItem.user_id, DigestItem.action_id).order_by(DigestItem.user_id)
    )
    timers = await session.execute(
        select(Timer.key, Timer.due_at, Timer.chat_id, Timer.payload, Timer.status)
        .where(Timer.kind == sending.DIGEST_TIMER)
        .order_by(Timer.key)
    )
    return {
        "outbox": [tuple(r) for r in rows],
        "digests": [tuple(r) for r in digests],
        "timers": [tuple(r) for r in timers],
        "total": broadcast.total,
    }


async def _send_to_everyone(
    coordinator: Someone,
    clock: ShiftedClock,
    storage: Storage,
    monkeypatch: pytest.MonkeyPatch,
    skills: list[str] | None = None,
    answering: int = 0,
) -> list[tuple[dict[str, Any], dict[str, Any], Cost]]:
    """Publishes a meeting; each announcement is queued the old way (one by one), recorded and
    undone, then the new way, recorded with its cost; `answering` people of the audience have
    answered before it goes out (as through a scheduled call's deep link)."""
    compared: list[tuple[dict[str, Any], dict[str, Any], Cost]] = []
    announce = sending.announce

    async def both(
        ctx: Context,
        action: Action,
        *,
        group_ids: Iterable[int] = (),
        report: bool = False,
        **more: Any,
    ) -> Broadcast:
        people = await action_store.audience(ctx.session, action.audience, action.kind)
        for person in people[:answering]:
            await action_store.set_answer(
                ctx.session, action.id, person.user_id, action_store.GOING, ctx.now()
            )
        old = await sending.send_about(ctx, action, people, "announce", group_ids=group_ids)
        before = await _snapshot(ctx.session, old)
        await ctx.session.execute(delete(DigestItem))
        await ctx.session.execute(delete(Timer).where(Timer.kind == sending.DIGEST_TIMER))
        with counting(storage.engine) as cost:
            new = await announce(ctx, action, group_ids=group_ids, report=report, **more)
        compared.append((before, await _snapshot(ctx.session, new), cost))
        return new

    monkeypatch.setattr(sending, "announce", both)
    await create_meeting(coordinator, clock, skills=skills)
    await coordinator.press("✅ Send it")
    assert "is on its way" in coordinator.messages[-2].text
    assert len(compared) == 1
    return compared


@pytest.mark.parametrize("skills", [None, ["Media", "Legal"]])
async def test_a_call_to_everyone_is_queued_as_one_by_one_for_a_bounded_cost(
    coordinator: Someone,
    clock: ShiftedClock,
    storage: Storage,
    monkeypatch: pytest.MonkeyPatch,
    skills: list[str] | None,
) -> None:
    await seed(storage, 400, clock.now())
    [(before, after, cost)] = await _send_to_everyone(
        coordinator, clock, storage, monkeypatch, skills
    )
    assert after == before
    assert len(after["outbox"]) > 50 and after["digests"] and after["timers"]
    assert any(row[3] is not None for row in after["outbox"])  # someone's quiet hours
    assert cost.volunteers_loaded == 0
    assert cost.statements <= 10  # whatever the size of the coalition


async def test_those_who_answered_before_the_call_went_out_see_their_answer(
    coordinator: Someone,
    clock: ShiftedClock,
    storage: Storage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await seed(storage, 60, clock.now())
    [(before, after, _)] = await _send_to_everyone(
        coordinator, clock, storage, monkeypatch, answering=5
    )
    assert after == before
    assert sum("✅" in str(row[2]) for row in after["outbox"]) >= 1  # their own view

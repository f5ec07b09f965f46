"""Check-ins: asked after N months, inactive after no answer (left out of broadcasts), then back."""

from __future__ import annotations

from datetime import timedelta

from bot.app import Storage
from handlers.kernel.ports import ShiftedClock
from storage.actions import action_store
from storage.models import Volunteer
from tests.handlers.test_registration import register_individual
from tests.support.actions import engine_for
from tests.support.recording import Conversation


async def _status(storage: Storage, user_id: int) -> str:
    async with storage.sessionmaker() as session:
        volunteer = await session.get(Volunteer, user_id)
        assert volunteer is not None
        return volunteer.status


async def _audience(storage: Storage) -> list[int]:
    async with storage.sessionmaker() as session:
        return [r.user_id for r in await action_store.audience(session, {})]


async def test_an_unanswered_check_in_makes_inactive_and_an_answer_brings_back(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    amira = conversation.person("Amira")
    await register_individual(amira)
    dispatcher = conversation.dispatcher
    deliver = engine_for(dispatcher.services).drain
    clock.advance(timedelta(days=100))
    await dispatcher.run_due_timers()
    await deliver()
    assert not any("It has been" in m.text for m in amira.messages)
    clock.advance(timedelta(days=90))
    await dispatcher.run_due_timers()
    await deliver()
    assert "It has been 6 months" in amira.last.text
    assert "within 14 days" in amira.last.text
    clock.advance(timedelta(days=7))
    await dispatcher.run_due_timers()
    assert await _status(storage, amira.person.id) == "active"
    clock.advance(timedelta(days=8))
    await dispatcher.run_due_timers()
    await deliver()
    assert await _status(storage, amira.person.id) == "inactive"
    assert "marked <b>inactive</b>" in amira.last.text
    assert amira.person.id not in await _audience(storage)
    await amira.press("✅ Still right")
    assert "Welcome back" in amira.last.text
    assert await _status(storage, amira.person.id) == "active"
    assert amira.person.id in await _audience(storage)
    clock.advance(timedelta(days=30))
    await dispatcher.run_due_timers()
    assert await _status(storage, amira.person.id) == "active"


async def test_update_my_profile_confirms_and_opens_the_profile(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    amira = conversation.person("Amira")
    await register_individual(amira)
    clock.advance(timedelta(days=190))
    await conversation.dispatcher.run_due_timers()
    await engine_for(conversation.dispatcher.services).drain()
    await amira.press("✏️ Update my profile")
    assert "Your profile is confirmed" in amira.last.text
    assert "Skills" in " ".join(amira.last.labels)
    clock.advance(timedelta(days=20))
    await conversation.dispatcher.run_due_timers()
    assert await _status(storage, amira.person.id) == "active"

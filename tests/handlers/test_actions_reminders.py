"""Reminders: at the right moment, once, to the right people; moved, dropped, or missed."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.app import Storage
from handlers import build_router
from handlers.kernel.context import Services
from handlers.kernel.dispatch import Dispatcher
from handlers.kernel.ports import ShiftedClock
from storage.actions.action_models import Action
from storage.models import Timer
from tests.conftest import COORDINATOR_ID
from tests.handlers.test_actions import create_meeting, in_days
from tests.support.actions import engine_for, make_volunteer
from tests.support.recording import Conversation, Shown, Someone


@pytest.fixture
def coordinator(conversation: Conversation) -> Someone:
    """The coordinator (in ADMIN_IDS)."""
    return conversation.person("Coral", user_id=COORDINATOR_ID)


async def _deliver(conversation: Conversation) -> int:
    return await engine_for(conversation.dispatcher.services).drain()


async def _move_to_before_start(storage: Storage, clock: ShiftedClock, before: timedelta) -> None:
    """Moves the clock to `before` the start (or deadline) of the only action."""
    async with storage.sessionmaker() as session:
        at = await session.scalar(select(Action.at))
    assert at is not None
    clock.advance(at - before - clock.now())


async def _timers(storage: Storage) -> list[tuple[str, str]]:
    async with storage.sessionmaker() as session:
        rows = await session.execute(
            select(Timer.key, Timer.status)
            .where(Timer.kind == "action_reminder")
            .order_by(Timer.key)
        )
        return [(key, status) for key, status in rows]


async def test_event_reminders_fire_once_at_the_right_moment_for_going_and_maybe(
    conversation: Conversation, coordinator: Someone, storage: Storage, clock: ShiftedClock
) -> None:
    now = clock.now()
    people = {}
    for user_id in (61, 62, 63):
        await make_volunteer(storage, user_id, now=now, name=f"P{user_id}")
        people[user_id] = conversation.person(f"P{user_id}", user_id=user_id)
    await create_meeting(coordinator, clock)
    await coordinator.press("✅ Send it")
    await _deliver(conversation)
    for user_id, answer in ((61, "Going"), (62, "Maybe"), (63, "Can't")):
        await people[user_id].press(answer)
    assert await conversation.dispatcher.run_due_timers() == 0
    await _move_to_before_start(storage, clock, timedelta(hours=23))
    assert await conversation.dispatcher.run_due_timers() == 2  # and "Still coming?" (Going)
    assert await conversation.dispatcher.run_due_timers() == 0
    await _deliver(conversation)

    def reminder(user_id: int) -> Shown:
        (found,) = [m for m in people[user_id].messages if "Reminder" in m.text]
        return found

    assert "starts in" in reminder(61).text
    assert reminder(61).labels[:3] == ["✅ Going", "Maybe", "Can't"]  # their answer, shown
    assert reminder(62).labels[:3] == ["Going", "✅ Maybe", "Can't"]
    assert not any("Reminder" in m.text for m in people[63].messages)
    restarted = Dispatcher(build_router(), conversation.dispatcher.services)
    assert await restarted.run_due_timers() == 0
    assert await _deliver(conversation) == 0


async def test_moving_the_action_moves_its_reminders_and_cancelling_drops_them(
    conversation: Conversation, coordinator: Someone, storage: Storage, clock: ShiftedClock
) -> None:
    await create_meeting(coordinator, clock)
    await coordinator.press("✅ Send it")
    assert [s for _, s in await _timers(storage)] == ["pending", "pending"]
    await coordinator.send("/actions")
    await coordinator.press("#1 Vigil for survivors")
    await coordinator.press("✏️ Edit")
    await coordinator.press("Reminders")
    await coordinator.send("48h, 30m")
    timers = await _timers(storage)
    assert ("a1:2880", "pending") in timers and ("a1:30", "pending") in timers
    assert ("a1:60", "cancelled") in timers
    await coordinator.press("✏️ Edit")
    await coordinator.press("Date and time")
    await coordinator.send(in_days(clock, 10))
    async with storage.sessionmaker() as session:
        due = await session.scalar(select(Timer.due_at).where(Timer.key == "a1:30"))
    assert due is not None and due > clock.now() + timedelta(days=9)
    await coordinator.press("🚫 Cancel the action")
    await coordinator.press("Yes, cancel it")
    assert {s for _, s in await _timers(storage)} == {"cancelled"}


async def test_late_reminders_still_useful_go_once_and_useless_ones_are_dropped(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The late-timer policy (issue 12, kind 10): after downtime both reminders of the
    meeting (a day and an hour before) are overdue; the person gets one, not two, and not
    dropped for being more than a few minutes late: the meeting has not started."""
    await make_volunteer(storage, 71, now=clock.now(), name="Late")
    late = conversation.person("Late", user_id=71)
    await create_meeting(coordinator, clock)
    await coordinator.press("✅ Send it")
    await _deliver(conversation)
    await late.press("Going")
    await _move_to_before_start(storage, clock, timedelta(minutes=30))  # 23.5 h and 30 min late
    await conversation.dispatcher.run_due_timers()
    await _deliver(conversation)
    reminders = [m.text for m in late.messages if "Reminder" in m.text]
    assert len(reminders) == 1 and "starts in 30 minutes" in reminders[0]
    assert {status for _, status in await _timers(storage)} == {"done"}


async def test_a_reminder_due_before_a_start_that_has_passed_is_dropped(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await make_volunteer(storage, 71, now=clock.now(), name="Late")
    late = conversation.person("Late", user_id=71)
    await create_meeting(coordinator, clock)
    await coordinator.press("✅ Send it")
    await _deliver(conversation)
    await late.press("Going")
    await _move_to_before_start(storage, clock, -timedelta(minutes=5))  # it started
    with caplog.at_level(logging.WARNING):
        await conversation.dispatcher.run_due_timers()
    assert "skipped" in caplog.text
    await _deliver(conversation)
    assert not any("Reminder" in m.text for m in late.messages)
    assert {status for _, status in await _timers(storage)} == {"missed"}


async def test_petition_reminder_goes_to_those_who_have_not_signed(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
    services: Services,
) -> None:
    for user_id in (81, 82):  # no quiet hours: the reminder is due at 01:59 in Beirut
        await make_volunteer(
            storage, user_id, now=clock.now(), name=f"S{user_id}", quiet_hours="off"
        )
    signer, other = (conversation.person("s", user_id=u) for u in (81, 82))
    await coordinator.send("/newaction")
    await coordinator.press("Petition")
    await coordinator.send("Ban cluster munitions")
    await coordinator.send("Sign the petition.")
    await coordinator.send("https://example.org/sign")
    await coordinator.send((clock.now() + timedelta(days=5)).strftime("%Y-%m-%d"))
    await coordinator.press("UTC")
    await coordinator.press("Done ✔")
    assert "Reminders: 1 day before." in coordinator.last.text
    await coordinator.press("✅ Send it")
    await _deliver(conversation)
    assert signer.last.labels == ["✍️ I signed", "🔕 Less like this"]
    await signer.press("✍️ I signed")
    await _move_to_before_start(storage, clock, timedelta(hours=20))
    assert await conversation.dispatcher.run_due_timers() == 1
    await _deliver(conversation)
    assert "deadline is in" in other.last.text
    assert "Reminder" not in signer.last.text

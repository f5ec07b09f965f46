"""The "Still coming?" question once its event is over (newcomer trial): its buttons go at the
end, and a press on an old copy answers that it is past and changes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from bot.app import Storage
from handlers.actions.attendance import ConfirmButton
from handlers.actions.rsvp import SlotButton
from handlers.kernel.ports import ShiftedClock
from storage.actions.action_models import Action, ActionSlot, Rsvp
from tests.conftest import COORDINATOR_ID
from tests.handlers.test_action_life import _deliver, meeting, people
from tests.support.recording import Conversation


async def _a_day_before(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> datetime:
    """Moves to a minute past a day before the event's start and fires what is due then (the
    "Still coming?" question, the day-before reminder); returns the start."""
    async with storage.sessionmaker() as session:
        at = await session.scalar(select(Action.at))
    assert at is not None
    clock.advance(at - timedelta(days=1) + timedelta(minutes=1) - clock.now())
    await conversation.dispatcher.run_due_timers()
    return at


async def _after_the_end(conversation: Conversation, clock: ShiftedClock, at: datetime) -> None:
    """Moves past the event's end (three hours after its start) and fires what is due."""
    clock.advance(at + timedelta(hours=3) - clock.now())
    await conversation.dispatcher.run_due_timers()


async def test_still_coming_is_marked_past_at_the_end_and_a_late_press_changes_nothing(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    coordinator = conversation.person("Coral", user_id=COORDINATOR_ID)
    (coming,) = await people(storage, conversation, 1)
    await meeting(coordinator, storage, clock, group=False)
    await _deliver(conversation)
    await coming.press("Going")
    at = await _a_day_before(conversation, storage, clock)
    await _deliver(conversation)
    asking = coming.last
    assert "Still coming" in asking.text and asking.labels
    await _after_the_end(conversation, clock, at)
    await _deliver(conversation)
    assert asking.text.startswith("⏹ <b>This action is over</b>")
    assert "Still coming" in asking.text and asking.labels == []
    # a copy still showing its buttons (an edit that failed, another device): pressed late
    for answer in ("no", "yes"):
        text, alert = await coming.press_data(asking.message_id, ConfirmButton(1, answer).pack())
        assert alert and text == (
            "“Vigil for survivors” is over: this question no longer needs an answer."
            " Nothing was changed."
        )
    async with storage.sessionmaker() as session:
        row = (await session.execute(select(Rsvp.status, Rsvp.confirmed_at))).one()
    assert tuple(row) == ("going", None)
    assert asking.text.startswith("⏹ <b>This action is over</b>") and asking.labels == []


async def test_still_coming_is_not_asked_any_more_once_they_answered_otherwise(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    """Going, asked "Still coming?", then Maybe on the call (a sandbox finding): the question
    kept its buttons, and its Yes only said they were not going. Its buttons go with their
    Going; a question not sent yet when they answer otherwise is not sent at all."""
    coordinator = conversation.person("Coral", user_id=COORDINATOR_ID)
    coming, later = await people(storage, conversation, 1, 2)
    await meeting(coordinator, storage, clock, group=False)
    await _deliver(conversation)
    await coming.press("Going")
    await later.press("Going")
    await _a_day_before(conversation, storage, clock)  # both questions queued
    await later.press("Can't")  # before theirs was sent
    await _deliver(conversation)
    assert not any("Still coming" in shown.text for shown in later.messages)
    asking = coming.last
    assert "Still coming" in asking.text and asking.labels
    await coming.press("Maybe")  # on the call
    await _deliver(conversation)
    assert "Still coming" in asking.text and asking.labels == []
    assert "✅ Maybe" in coming.messages[0].labels


async def test_still_coming_loses_its_buttons_when_a_role_change_puts_them_on_a_waitlist(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    """A cold review's finding: from Going in one role to a full one (its waitlist: not Going
    any more), the "Still coming?" question kept its buttons, as Maybe left it before."""
    coordinator = conversation.person("Coral", user_id=COORDINATOR_ID)
    coming, other = await people(storage, conversation, 1, 2)
    await meeting(coordinator, storage, clock, group=False)
    await _deliver(conversation)
    async with storage.sessionmaker() as session, session.begin():
        action_id = await session.scalar(select(Action.id))
        assert action_id is not None
        open_role = ActionSlot(action_id=action_id, position=1, name="Steward", capacity=5)
        full_role = ActionSlot(action_id=action_id, position=2, name="Medic", capacity=1)
        session.add_all([open_role, full_role])
        await session.flush()
        open_id, full_id = open_role.id, full_role.id
    call = coming.messages[0].message_id
    await other.press_data(other.messages[0].message_id, SlotButton(action_id, full_id).pack())
    await coming.press_data(call, SlotButton(action_id, open_id).pack())
    async with storage.sessionmaker() as session:
        going = dict((await session.execute(select(Rsvp.user_id, Rsvp.status))).all())
    assert going == {1: "going", 2: "going"}, going
    await _a_day_before(conversation, storage, clock)
    await _deliver(conversation)
    asking = coming.last
    assert "Still coming" in asking.text and asking.labels
    await coming.press_data(call, SlotButton(action_id, full_id).pack())  # full: waitlisted
    await _deliver(conversation)
    async with storage.sessionmaker() as session:
        status = await session.scalar(select(Rsvp.status).where(Rsvp.user_id == 1))
    assert status == "waitlist"
    assert asking.labels == [], f"not Going any more, still asked: {asking.labels}"


async def test_no_to_still_coming_frees_the_place_for_everyone_to_see(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    """A sandbox finding: "No, I can't any more" on a full event changed only the presser's
    own copy (everyone else's still said Full), their reminder kept ✅ Going, and the toast
    promised the place to a waitlist nobody was on. Now, as a press on the call: everyone's
    places line, their other copies' buttons, and words that fit an empty waitlist."""
    coordinator = conversation.person("Coral", user_id=COORDINATOR_ID)
    one, two = await people(storage, conversation, 1, 2)
    await meeting(coordinator, storage, clock, group=False, capacity="2")
    await _deliver(conversation)
    await one.press("Going")
    await two.press("Going")
    await _deliver(conversation)
    assert "Full (2 places)" in two.messages[0].text
    await _a_day_before(conversation, storage, clock)
    await _deliver(conversation)
    asking = one.last
    assert "your place will be free for someone else" in asking.text  # nobody waiting
    reminder = next(shown for shown in one.messages if "Reminder" in shown.text)
    assert "✅ Going" in reminder.labels
    toast, _ = await one.press("No, I can't any more")
    assert toast == "Thank you for saying so: your place is free again for someone else."
    await _deliver(conversation)
    assert "1 of 2 places left" in two.messages[0].text  # everyone's copy, not only theirs
    assert "✅ Can't" in reminder.labels and "✅ Going" not in reminder.labels


async def test_a_reminder_once_the_event_is_over_says_no_more_when_it_starts(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    """A sandbox finding: a reminder marked over read "This action is over" then "⏰ Reminder:
    this starts in 10 hours"."""
    coordinator = conversation.person("Coral", user_id=COORDINATOR_ID)
    (coming,) = await people(storage, conversation, 1)
    await meeting(coordinator, storage, clock, group=False)
    await _deliver(conversation)
    await coming.press("Going")
    at = await _a_day_before(conversation, storage, clock)
    await _deliver(conversation)
    reminder = next(shown for shown in coming.messages if "Reminder" in shown.text)
    await _after_the_end(conversation, clock, at)
    await _deliver(conversation)
    assert reminder.text.startswith("⏹ <b>This action is over</b>")
    assert "Reminder" not in reminder.text and "Vigil for survivors" in reminder.text

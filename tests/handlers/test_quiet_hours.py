"""Quiet hours (issue 16): what can wait is held until the person's morning, what is urgent
is not, and a person in their night does not hold the broadcast back for anyone else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.app import Storage
from handlers.kernel import quiet_hours
from handlers.kernel.invalid_input import InvalidInput
from handlers.kernel.ports import ShiftedClock
from storage.models import OutboxMessage, Volunteer
from tests.conftest import COORDINATOR_ID
from tests.handlers.test_actions import create_meeting
from tests.handlers.test_registration import register_individual
from tests.support.actions import engine_for, make_volunteer
from tests.support.recording import Conversation, RecordingMessenger, Someone

BEIRUT = ZoneInfo("Asia/Beirut")


def set_local_time(clock: ShiftedClock, zone: ZoneInfo, hour: int, days: int = 0) -> None:
    """Moves the clock forward to the next `hour`:00 in `zone` (`days` more days later)."""
    local = clock.now().astimezone(zone)
    target = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if target <= local:
        target += timedelta(days=1)
    target += timedelta(days=days)
    clock.advance(target - local)


@pytest.fixture
def coordinator(conversation: Conversation) -> Someone:
    """The coordinator (in ADMIN_IDS)."""
    return conversation.person("Coral", user_id=COORDINATOR_ID)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_the_night_ends_at_the_end_of_the_quiet_hours_in_the_persons_zone() -> None:
    # 23:00 in Beirut (UTC+2 in winter): held until 08:00 Beirut, 06:00 UTC the next day.
    assert quiet_hours.held_until(None, "Asia/Beirut", at("2026-12-01T21:00")) == at(
        "2026-12-02T06:00"
    )
    # 03:00 in Beirut: the same night, the same morning.
    assert quiet_hours.held_until(None, "Asia/Beirut", at("2026-12-02T01:00")) == at(
        "2026-12-02T06:00"
    )
    # 16:00 in New York: not quiet.
    assert quiet_hours.held_until(None, "America/New_York", at("2026-12-01T21:00")) is None
    # Exactly 08:00: the night is over; exactly 22:00: it has begun.
    assert quiet_hours.held_until(None, "UTC", at("2026-12-01T08:00")) is None
    assert quiet_hours.held_until(None, "UTC", at("2026-12-01T22:00")) == at("2026-12-02T08:00")
    # A range that does not cross midnight, and quiet hours turned off.
    assert quiet_hours.held_until("13:00-15:30", "UTC", at("2026-12-01T14:00")) == at(
        "2026-12-01T15:30"
    )
    assert quiet_hours.held_until("13:00-15:30", "UTC", at("2026-12-01T16:00")) is None
    assert quiet_hours.held_until("off", "UTC", at("2026-12-01T23:00")) is None
    # A daylight-saving change in the night: the morning is still 08:00 local time.
    assert quiet_hours.held_until(None, "Europe/Paris", at("2026-03-28T23:00")) == at(
        "2026-03-29T06:00"
    )


def test_typed_quiet_hours_are_read_or_explained() -> None:
    assert quiet_hours.parse("22:00-07:30") == "22:00-07:30"
    assert quiet_hours.parse(" 21h30 – 7h ") == "21:30-07:00"
    assert quiet_hours.parse("23-6") == "23:00-06:00"
    assert quiet_hours.parse("OFF") == "off"
    for bad in ("tonight", "25:00-07:00", "22:00-22:00", "22:61-07:00", ""):
        with pytest.raises(InvalidInput):
            quiet_hours.parse(bad)


async def test_a_broadcast_reaches_one_at_once_and_holds_another_until_her_morning(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
    messenger: RecordingMessenger,
) -> None:
    set_local_time(clock, BEIRUT, 23)  # 23:00 in Beirut, 16:00 in New York
    now = clock.now()
    await make_volunteer(storage, 1, now=now, name="Amira", timezone="Asia/Beirut")
    await make_volunteer(storage, 2, now=now, name="Dana", timezone="America/New_York")
    await create_meeting(coordinator, clock)
    assert "It will go to <b>2</b> volunteers." in coordinator.last.text
    await coordinator.press("✅ Send it")
    engine = engine_for(conversation.dispatcher.services)
    assert await engine.drain() == 1
    assert "Vigil for survivors" in messenger.chats[2][-1].text
    assert 1 not in messenger.chats
    report = coordinator.messages[-1].text
    assert "1 message held until its recipient's morning" in report
    # Held is not done: counted as remaining (a tester read "Remaining: 0" above the held line
    # as finished); only held ones left, no estimate (nothing would edit it until morning).
    assert "Remaining: 1" in report
    assert "Done " not in report
    set_local_time(clock, BEIRUT, 7, days=0)
    clock.advance(timedelta(minutes=59))  # 07:59: still night
    assert await engine.drain() == 0
    clock.advance(timedelta(minutes=1))  # 08:00 in Beirut
    assert await engine.drain() == 1
    assert "Vigil for survivors" in messenger.chats[1][-1].text
    report = coordinator.messages[-1].text
    assert "Sending finished" in report and "Delivered: 2 messages" in report


async def test_a_change_to_an_event_within_a_day_goes_through_the_night(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
    messenger: RecordingMessenger,
) -> None:
    set_local_time(clock, BEIRUT, 12)
    await make_volunteer(storage, 1, now=clock.now(), name="Amira", timezone="Asia/Beirut")
    amira = conversation.person("Amira", user_id=1)
    await create_meeting(coordinator, clock)  # in three days, 18:30 Beirut
    await coordinator.press("✅ Send it")
    engine = engine_for(conversation.dispatcher.services)
    assert await engine.drain() == 1
    await amira.press("Going")
    # Two days later at 23:00 a change three days off would wait; tonight the event is 19.5 h
    # away, so the change and the cancellation reach Amira at once.
    set_local_time(clock, BEIRUT, 23, days=2)
    await coordinator.send("/actions")
    await coordinator.press("#1 Vigil for survivors")
    await coordinator.press("✏️ Edit")
    await coordinator.press("Place")
    await coordinator.send("Parliament gate")
    assert await engine.drain() == 2  # the notice, and the (silent) edit of her original
    assert "Parliament gate" in amira.last.text
    await coordinator.press("🚫 Cancel the action")
    await coordinator.press("Yes, cancel it")
    assert await engine.drain() == 3  # the notice; the original and the last notice marked
    assert "Cancelled" in amira.last.text


async def test_a_change_to_an_event_days_away_waits_for_the_morning(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
) -> None:
    set_local_time(clock, BEIRUT, 12)
    await make_volunteer(storage, 1, now=clock.now(), name="Amira", timezone="Asia/Beirut")
    amira = conversation.person("Amira", user_id=1)
    await create_meeting(coordinator, clock)
    await coordinator.press("✅ Send it")
    engine = engine_for(conversation.dispatcher.services)
    assert await engine.drain() == 1
    await amira.press("Going")
    set_local_time(clock, BEIRUT, 23)
    await coordinator.send("/actions")
    await coordinator.press("#1 Vigil for survivors")
    await coordinator.press("✏️ Edit")
    await coordinator.press("Place")
    await coordinator.send("Parliament gate")
    assert await engine.drain() == 1  # only the silent edit of her original
    assert "Parliament gate" in amira.messages[0].text
    set_local_time(clock, BEIRUT, 8)
    assert await engine.drain() == 1
    assert "Parliament gate" in amira.last.text


async def test_quiet_hours_are_changed_in_the_profile_and_then_honoured(
    conversation: Conversation,
    storage: Storage,
    clock: ShiftedClock,
    coordinator: Someone,
) -> None:
    await make_volunteer(storage, 1, now=clock.now(), name="Amira", timezone="Asia/Beirut")
    amira = conversation.person("Amira", user_id=1)
    await amira.send("/profile")
    assert "<b>Quiet hours</b>: 22:00–08:00" in amira.last.text
    await amira.press("Quiet hours")
    assert "quiet hours" in amira.last.text
    await amira.send("at night")
    assert "two times of day" in amira.messages[-2].text
    await amira.send("21:30-06:00")
    assert "<b>Quiet hours</b>: 21:30–06:00" in amira.last.text
    async with storage.sessionmaker() as session:
        assert (await session.get(Volunteer, 1)).quiet_hours == "21:30-06:00"  # type: ignore[union-attr]
    await amira.send("/profile")
    await amira.press("Quiet hours")
    await amira.press("Off")
    assert "<b>Quiet hours</b>: Off" in amira.last.text
    set_local_time(clock, BEIRUT, 3)
    await create_meeting(coordinator, clock)
    await coordinator.press("✅ Send it")
    assert await engine_for(conversation.dispatcher.services).drain() == 1
    async with storage.sessionmaker() as session:
        rows = (await session.scalars(select(OutboxMessage.not_before))).all()
    assert rows == [None]


async def test_a_check_in_asked_at_midnight_waits_for_the_morning_in_beirut(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    amira = conversation.person("Amira")
    await register_individual(amira)  # Lebanon: Asia/Beirut
    dispatcher = conversation.dispatcher
    deliver = engine_for(dispatcher.services).drain
    clock.advance(timedelta(days=190))
    set_local_time(clock, ZoneInfo("UTC"), 0)  # the daily sweep's time: 02:00 in Beirut
    await dispatcher.run_due_timers()
    assert await deliver() == 0
    assert not any("It has been" in m.text for m in amira.messages)
    set_local_time(clock, BEIRUT, 8)
    assert await deliver() == 1
    assert "It has been 6 months" in amira.last.text


async def test_less_like_this_mutes_a_kind_of_action_and_the_preview_count_agrees(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
    messenger: RecordingMessenger,
) -> None:
    for user_id, name in ((1, "Amira"), (2, "Dana")):
        await make_volunteer(storage, user_id, now=clock.now(), name=name)
    amira = conversation.person("Amira", user_id=1)
    await create_meeting(coordinator, clock)
    assert "It will go to <b>2</b> volunteers." in coordinator.last.text
    await coordinator.press("✅ Send it")
    engine = engine_for(conversation.dispatcher.services)
    assert await engine.drain() == 2
    await amira.press("🔕 Less like this")
    assert "no longer get calls to action of this kind: <b>Meeting</b>" in amira.last.text
    async with storage.sessionmaker() as session:
        assert (await session.get(Volunteer, 1)).muted == ["action:meeting"]  # type: ignore[union-attr]
    await create_meeting(coordinator, clock, title="Second vigil")
    assert "It will go to <b>1</b> volunteer." in coordinator.last.text
    await coordinator.press("✅ Send it")
    assert await engine.drain() == 1
    assert "Second vigil" in messenger.chats[2][-1].text
    assert all("Second vigil" not in m.text for m in messenger.chats[1])
    text, _ = await amira.press("🔔 Undo")
    assert "reach you again" in (text or "")
    await create_meeting(coordinator, clock, title="Third vigil")
    assert "It will go to <b>2</b> volunteers." in coordinator.last.text


async def test_the_profile_screen_mutes_nudges_check_ins_and_a_kind_of_action(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
) -> None:
    amira = conversation.person("Amira")
    await register_individual(amira)
    await amira.send("/profile")
    await amira.press("🔔 What reaches me")
    assert "What reaches you" in amira.last.text
    assert "🔔 Calls to action: Fundraising" in amira.last.labels
    await amira.press("Reminders about votes")
    await amira.press("Check-ins on my skills and time")
    await amira.press("Calls to action: Meeting")
    assert "🔕 Reminders about votes" in amira.last.labels
    assert "🔕 Check-ins on my skills and time" in amira.last.labels
    assert "🔕 Calls to action: Meeting" in amira.last.labels
    assert "🔔 Calls to action: Fundraising" in amira.last.labels
    await create_meeting(coordinator, clock)
    assert "It will go to <b>0</b> volunteers." in coordinator.last.text
    # Muted check-ins: nobody asks, nobody is made inactive.
    dispatcher = conversation.dispatcher
    clock.advance(timedelta(days=220))
    await dispatcher.run_due_timers()
    assert await engine_for(dispatcher.services).drain() == 0
    async with storage.sessionmaker() as session:
        volunteer = await session.get(Volunteer, amira.person.id)
        assert volunteer is not None and volunteer.status == "active"
    await amira.send("/profile")
    await amira.press("🔔 What reaches me")
    await amira.press("Reminders about votes")
    assert "🔔 Reminders about votes" in amira.last.labels


def test_the_next_digest_comes_at_the_chosen_local_time() -> None:
    # 17:00 in Beirut on Tuesday 1 December 2026: the daily 18:00 digest is in an hour.
    tuesday = at("2026-12-01T15:00")
    assert quiet_hours.next_digest("daily 18:00", "Asia/Beirut", tuesday) == at("2026-12-01T16:00")
    assert quiet_hours.next_digest("daily 08:00", "Asia/Beirut", tuesday) == at("2026-12-02T06:00")
    # Weekly digests come on Mondays: the 7th.
    assert quiet_hours.next_digest("weekly 18:00", "Asia/Beirut", tuesday) == at("2026-12-07T16:00")
    assert quiet_hours.next_digest(None, "Asia/Beirut", tuesday) is None
    assert quiet_hours.next_digest("each", "Asia/Beirut", tuesday) is None
    assert quiet_hours.parse_digest(" Daily 7h30 ") == "daily 07:30"
    assert quiet_hours.parse_digest("weekly 19") == "weekly 19:00"
    for bad in ("monthly 08:00", "daily 25:00", "daily"):
        with pytest.raises(InvalidInput):
            quiet_hours.parse_digest(bad)


async def test_a_daily_digest_gathers_calls_to_action_in_one_message_at_the_chosen_time(
    conversation: Conversation,
    coordinator: Someone,
    storage: Storage,
    clock: ShiftedClock,
    messenger: RecordingMessenger,
) -> None:
    set_local_time(clock, BEIRUT, 12)
    await make_volunteer(storage, 1, now=clock.now(), name="Amira")
    amira = conversation.person("Amira", user_id=1)
    await make_volunteer(storage, 2, now=clock.now(), name="Dana")
    await amira.send("/profile")
    await amira.press("Calls to action")
    assert "digest" in amira.last.text
    await amira.send("every day")
    assert "daily 07:30" in amira.messages[-2].text
    await amira.press("Daily digest at 18:00")
    assert "<b>Calls to action</b>: Daily digest at 18:00" in amira.last.text
    engine = engine_for(conversation.dispatcher.services)
    for title in ("Vigil for survivors", "Letters to MPs"):
        await create_meeting(coordinator, clock, title=title)
        await coordinator.press("✅ Send it")
        assert await engine.drain() == 1  # Dana only
    assert all("Vigil" not in m.text for m in messenger.chats[1])
    set_local_time(clock, BEIRUT, 17)
    await conversation.dispatcher.run_due_timers()
    assert await engine.drain() == 0
    set_local_time(clock, BEIRUT, 18)
    await conversation.dispatcher.run_due_timers()
    assert await engine.drain() == 1
    digest = messenger.chats[1][-1]
    assert "Your digest: 2 calls to action" in digest.text
    assert "Vigil for survivors" in digest.text and "Letters to MPs" in digest.text
    assert digest.labels == ["🤝 Vigil for survivors", "🤝 Letters to MPs"]
    assert all("https://t.me/chorus_bot?start=a_" in str(row) for row in digest.keyboard)
    # Nothing new: the next evening brings no empty digest.
    set_local_time(clock, BEIRUT, 18)
    await conversation.dispatcher.run_due_timers()
    assert await engine.drain() == 0
    # Back to one by one: the next call to action comes at once.
    await amira.send("/profile")
    await amira.press("Calls to action")
    await amira.press("One by one")
    async with storage.sessionmaker() as session:
        assert (await session.get(Volunteer, 1)).digest is None  # type: ignore[union-attr]


def test_the_estimate_while_sending_reaches_the_last_held_morning() -> None:
    """A stop-24 sandbox finding: "Done in 2 minutes" while some messages waited for their
    recipients' morning, nine hours away."""
    from handlers.actions.broadcasts import Tally, _report_view
    from handlers.kernel.i18n import translator
    from storage import outbox
    from storage.actions.action_models import Broadcast

    now = at("2026-12-01T21:00")
    broadcast = Broadcast(id=7, created_at=now - timedelta(seconds=10))
    counts = {outbox.SENT: 5, outbox.PENDING: 5}
    tally = Tally(counts, 5, 2, {}, {}, now, now + timedelta(hours=9))
    text, _ = _report_view(translator("en"), broadcast, tally)
    assert "Remaining: 5" in text and "2 messages held" in text
    assert "Done in 9 hours" in text
    assert (
        "Done in 9 hours"
        not in _report_view(translator("en"), broadcast, Tally(counts, 5, 2, {}, {}, now, None))[0]
    )

"""Notification control end to end (issue 16): quiet hours hold a broadcast for one person in
their night while others get it at once, an urgent change passes through, and "Less like this"
on a message mutes that kind of call to action — on both runtimes, through the emulator."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from tests.e2e.conftest import ChorusUnderTest
from tests.e2e.test_actions import _create_meeting, _says, _volunteer

BEIRUT = ZoneInfo("Asia/Beirut")


async def _to_local_time(chorus: ChorusUnderTest, hour: int, days: int = 0) -> None:
    """Moves the clock to the next `hour`:00 in Beirut (`days` more days later)."""
    local = chorus.clock.now().astimezone(BEIRUT)
    target = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if target <= local:
        target += timedelta(days=1)
    await chorus.advance(target + timedelta(days=days) - local)


async def test_quiet_hours_hold_one_person_and_an_urgent_cancellation_goes_through(
    chorus: ChorusUnderTest,
) -> None:
    await _to_local_time(chorus, 23)  # 23:00 in Beirut, 16:00 in Bogotá
    amira = await _volunteer(chorus, "Amira")  # Asia/Beirut
    lucia = await _volunteer(chorus, "Lucía", "es", timezone="America/Bogota")
    when = (chorus.clock.now() + timedelta(days=2)).strftime("%Y-%m-%d 18:00")
    await _create_meeting(chorus.coordinator, when)
    await chorus.coordinator.press("✅ Send it")
    await _says(lucia, "Vigil & march")
    report = await _says(chorus.coordinator, "held until its recipient's morning")
    assert "1 message held" in report
    assert all("Vigil" not in (m.text or "") for m in await amira.chat_messages())
    await _to_local_time(chorus, 8)  # the morning in Beirut
    await _says(amira, "Vigil & march")
    await _says(chorus.coordinator, "Sending finished")
    await amira.press("Going")
    # The next night the meeting is less than a day away: its cancellation is urgent.
    await _to_local_time(chorus, 23)
    await chorus.coordinator.send("/actions")
    await chorus.coordinator.press("#1 Vigil & march")
    await chorus.coordinator.press("🚫 Cancel the action")
    await chorus.coordinator.press("Yes, cancel it")
    await _says(amira, "Cancelled")


async def test_less_like_this_on_a_message_mutes_that_kind_of_action(
    chorus: ChorusUnderTest,
) -> None:
    amira = await _volunteer(chorus, "Amira")
    await _volunteer(chorus, "Omar")
    when = (chorus.clock.now() + timedelta(days=3)).strftime("%Y-%m-%d 12:00")
    await _create_meeting(chorus.coordinator, when)
    await chorus.coordinator.press("✅ Send it")
    await _says(amira, "Vigil & march")
    await amira.press("🔕 Less like this")
    text = await _says(amira, "no longer get calls to action of this kind")
    assert "Meeting" in text
    await _create_meeting(chorus.coordinator, when)
    preview = await _says(chorus.coordinator, "It will go to")
    assert "It will go to 1 volunteer." in preview


async def test_a_daily_digest_brings_the_call_to_action_at_the_chosen_time(
    chorus: ChorusUnderTest,
) -> None:
    await _to_local_time(chorus, 12)
    amira = await _volunteer(chorus, "Amira", digest="daily 18:00")  # Asia/Beirut
    lucia = await _volunteer(chorus, "Lucía", "es", timezone="Europe/Madrid")  # 11:00
    when = (chorus.clock.now() + timedelta(days=3)).strftime("%Y-%m-%d 18:00")
    await _create_meeting(chorus.coordinator, when)
    await chorus.coordinator.press("✅ Send it")
    await _says(lucia, "Vigil & march")
    await _says(chorus.coordinator, "Sending finished")
    assert all("Vigil" not in (m.text or "") for m in await amira.chat_messages())
    await _to_local_time(chorus, 18)
    text = await _says(amira, "Your digest: 1 call to action")
    assert "Vigil & march" in text

"""The safety check-in after a risky event (issue 16): buddies by invitation, "Are you safe?"
at the end, alerts to the buddy and the host on silence or a call for help, the all-clear."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.app import Storage
from handlers.kernel.ports import ShiftedClock
from tests.conftest import COORDINATOR_ID
from tests.handlers.test_action_life import _deliver, meeting, people
from tests.support.actions import make_volunteer
from tests.support.recording import Conversation, Someone


@pytest.fixture
def coordinator(conversation: Conversation) -> Someone:
    """The coordinator (in ADMIN_IDS), who creates the event and so is its host."""
    return conversation.person("Coral", user_id=COORDINATOR_ID)


def _texts(someone: Someone) -> list[str]:
    return [m.text for m in someone.messages]


async def test_a_silent_participant_alerts_their_buddy_and_the_host_then_all_clear(
    conversation: Conversation, coordinator: Someone, storage: Storage, clock: ShiftedClock
) -> None:
    ana, ben = await people(storage, conversation, 1, 2)
    await make_volunteer(storage, 3, now=clock.now(), name="Bea", language="fr")
    bea = conversation.person("Bea", user_id=3)
    await meeting(coordinator, storage, clock, group=False)
    await _deliver(conversation)
    await ana.press("Going")
    await ben.press("Going")

    await coordinator.send("/safety 1")
    assert "Not marked as risky" in coordinator.last.text
    await coordinator.press("⚠️ 1 hour")
    assert "Marked as risky" in coordinator.last.text and coordinator.last.edited
    await _deliver(conversation)
    assert "is marked as risky" in ana.last.text and "🤝 Name a buddy" in ana.last.labels

    # A buddy by invitation: whoever opens the link, once.
    await ana.press("🤝 Name a buddy")
    invitation = ana.messages[-2]
    assert "P1 asks you to be their safety buddy" in invitation.text
    link = invitation.keyboard[0][0][1]
    assert link.startswith("https://t.me/") and "?start=bd_" in link
    secret = link.rsplit("start=", 1)[1]
    await ana.send(f"/start {secret}")
    assert "your own invitation" in ana.last.text
    await bea.send(f"/start {secret}")
    assert "binôme de sécurité de P1" in bea.last.text
    assert "P1" in bea.last.text and "Bea is your safety buddy" in ana.last.text
    await ben.send(f"/start {secret}")
    assert "no longer valid" in ben.last.text

    # Not going: no invitation.
    await ben.press_data(1, "sb:1")
    await ben.send("/buddy")
    assert "#1 Vigil for survivors: no buddy yet" in ben.last.text

    # At the end: everyone going is asked, urgently.
    clock.advance(timedelta(days=3, hours=4))  # past the end (18:30 UTC)
    await conversation.dispatcher.run_due_timers()
    await _deliver(conversation)
    assert "Are you safe?" in ana.last.text and "Are you safe?" in ben.last.text
    await ben.press("✅ I am safe")
    assert "glad you are safe" in ben.last.text

    # An hour of silence: Ana's buddy and the host are alerted about her, not about Ben.
    clock.advance(timedelta(hours=1, minutes=1))
    await conversation.dispatcher.run_due_timers()
    alert = bea.last.text
    assert "P1" in alert and "n’a pas répondu" in alert and "tg://user?id=1" in alert
    assert "P1</a> has not answered" in coordinator.last.text
    assert not any("P2" in text and "🆘" in text for text in _texts(coordinator))

    # She answers late: both hear that she is safe.
    await ana.press("✅ I am safe")
    assert "P1</a> indique être en sécurité" in bea.last.text
    assert "P1</a> says they are safe" in coordinator.last.text


async def test_a_call_for_help_alerts_at_once_and_forged_answers_change_nothing(
    conversation: Conversation, coordinator: Someone, storage: Storage, clock: ShiftedClock
) -> None:
    (ana,) = await people(storage, conversation, 1)
    stranger = conversation.person("Stranger", user_id=9)
    await make_volunteer(storage, 9, now=clock.now(), name="Stranger")
    await meeting(coordinator, storage, clock, group=False)
    await _deliver(conversation)
    await ana.press("Going")
    await coordinator.send("/safety 1")
    await coordinator.press("⚠️ 30 minutes")
    clock.advance(timedelta(days=3, hours=4))  # past the end (18:30 UTC)
    await conversation.dispatcher.run_due_timers()
    await _deliver(conversation)
    text, alert = await stranger.press_data(1, "sk:1:help")
    assert alert and "no longer active" in (text or "")
    await ana.press("🆘 I need help")
    assert "I have alerted the organiser" in ana.last.text
    assert "P1</a> asked for help" in coordinator.last.text
    count = len(coordinator.messages)
    clock.advance(timedelta(hours=1))
    await conversation.dispatcher.run_due_timers()
    assert len(coordinator.messages) == count  # asked for help: not "did not answer" too
    await ana.press("✅ I am safe")
    assert "P1</a> says they are safe" in coordinator.last.text


async def test_unmarking_cancels_the_check_in(
    conversation: Conversation, coordinator: Someone, storage: Storage, clock: ShiftedClock
) -> None:
    (ana,) = await people(storage, conversation, 1)
    await meeting(coordinator, storage, clock, group=False)
    await _deliver(conversation)
    await ana.press("Going")
    await coordinator.send("/safety 1")
    await coordinator.press("⚠️ 2 hours")
    await coordinator.press("✖️ Not risky after all")
    assert "Not marked as risky" in coordinator.last.text
    clock.advance(timedelta(days=4))
    await conversation.dispatcher.run_due_timers()
    await _deliver(conversation)
    assert not any("Are you safe?" in text for text in _texts(ana))

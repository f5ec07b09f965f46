"""/report — "Tell the coordinators": a report reaches the coordinators through the outbox, an
anonymous one names nobody, and the answer comes back to the reporter (people/reports.py)."""

from __future__ import annotations

from sqlalchemy import select

from bot.app import Storage
from handlers.kernel.ports import ShiftedClock
from storage.models import OutboxMessage
from storage.people.people_models import SafetyReport
from tests.conftest import COORDINATOR_ID
from tests.support.actions import engine_for
from tests.support.coalition import make_member, someone
from tests.support.recording import Conversation

NINA, SAM, OMAR = 8_100_001, 8_100_002, 8_100_003
NAME, USERNAME = "Nina Quartermaine", "nina_q_77"


async def _people(storage: Storage, clock: ShiftedClock) -> None:
    now = clock.now()
    await make_member(storage, NINA, now=now, name=NAME, username=USERNAME)
    await make_member(storage, SAM, now=now, name="Sam", language="fr", role="secretariat")
    await make_member(storage, OMAR, now=now, name="Omar")  # a member: not told
    await make_member(storage, COORDINATOR_ID, now=now, name="Coral")


async def test_an_anonymous_report_is_answered_without_naming_its_author(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    await _people(storage, clock)
    nina = someone(conversation, NINA, "Nina", username=USERNAME)
    await nina.send("/report")
    assert "Tell the coordinators" in nina.messages[-2].text
    await nina.press("A risk")
    await nina.press("🕶 Anonymously")
    await nina.send("x")
    assert "too short: at least 2 characters" in nina.messages[-2].text  # then asked again
    await nina.send("Someone photographs us at every <vigil>.")
    assert "without your name" in nina.last.text
    async with storage.sessionmaker() as session:
        queued = (await session.scalars(select(OutboxMessage))).all()
    assert sorted(m.chat_id for m in queued) == sorted([SAM, COORDINATOR_ID])
    await engine_for(conversation.dispatcher.services).drain()
    coral = someone(conversation, COORDINATOR_ID, "Coral")
    sam = someone(conversation, SAM, "Sam")
    omar = someone(conversation, OMAR, "Omar")
    assert omar.messages == []
    report = coral.last.text
    assert "Report #1" in report and "A risk" in report and "&lt;vigil&gt;" in report
    assert "Anonymous" in report
    for shown in (coral.last.text, sam.last.text):
        assert "Nina" not in shown and USERNAME not in shown and str(NINA) not in shown
    assert "Signalement nº 1" in sam.last.text and "Un risque" in sam.last.text
    await coral.press("✍️ Answer")
    assert "Type your answer to report #1" in coral.last.text
    await coral.send("Thank you. Come with a buddy; we will talk to the venue.")
    assert "Your answer to report #1 is on its way" in coral.last.text
    assert "Nina" not in coral.last.text
    await engine_for(conversation.dispatcher.services).drain()
    assert "The coordinators answered your report #1" in nina.last.text
    assert "Come with a buddy" in nina.last.text
    async with storage.sessionmaker() as session:
        stored = await session.get(SafetyReport, 1)
        assert stored is not None
        assert (stored.user_id, stored.anonymous, stored.answered_by) == (
            NINA,
            True,
            COORDINATOR_ID,
        )


async def test_a_named_report_names_its_author_to_the_coordinators(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    await _people(storage, clock)
    nina = someone(conversation, NINA, "Nina", username=USERNAME)
    await nina.send("/report")
    await nina.press("A question")
    await nina.press("With my name")
    await nina.send("Can I bring my children to the march?")
    assert "Sent to the coordinators (report #1)" in nina.last.text
    await engine_for(conversation.dispatcher.services).drain()
    coral = someone(conversation, COORDINATOR_ID, "Coral")
    assert f"From: {NAME}" in coral.last.text


async def test_only_coordinators_may_answer_and_only_registered_people_report(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    await _people(storage, clock)
    stranger = conversation.person("Stranger")
    await stranger.send("/report")
    assert "not registered" in stranger.last.text
    nina = someone(conversation, NINA, "Nina")
    await nina.send("/report")
    await nina.press("A person")
    await nina.press("With my name")
    await nina.send("A man asked for everyone's address.")
    omar = someone(conversation, OMAR, "Omar")
    text, alert = await omar.press_data(1, "ra:1")
    assert alert and text is not None and "coordinator" in text.lower()
    async with storage.sessionmaker() as session:
        stored = await session.get(SafetyReport, 1)
        assert stored is not None and stored.answer is None


async def test_forget_erases_the_reporters_reports(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    await _people(storage, clock)
    nina = someone(conversation, NINA, "Nina")
    await nina.send("/report")
    await nina.press("A risk")
    await nina.press("🕶 Anonymously")
    await nina.send("A car follows me after meetings.")
    await engine_for(conversation.dispatcher.services).drain()
    await nina.send("/forget")
    await nina.press("🗑 Yes, erase my data")
    async with storage.sessionmaker() as session:
        assert (await session.scalars(select(SafetyReport))).all() == []
    coral = someone(conversation, COORDINATOR_ID, "Coral")
    text, alert = await coral.press("✍️ Answer")
    assert alert and text is not None  # out of date: nobody to answer any more

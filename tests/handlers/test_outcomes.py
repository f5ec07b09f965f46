"""The outcome written after a decision closed: posted, kept in /decisions and the CSV, and the
hand-off to a call to action."""

from __future__ import annotations

from datetime import timedelta

import pytest

from handlers.decisions import decision_list
from handlers.kernel.ports import ShiftedClock
from tests.conftest import COORDINATOR_ID
from tests.support.csv_files import read_export
from tests.support.groups import Group, make_volunteer
from tests.support.recording import Conversation

OUTCOME = "We will hold the rally on 14 March; Marie leads."


@pytest.fixture
def group(conversation: Conversation) -> Group:
    """The coalition's supergroup."""
    return Group(conversation)


async def test_the_outcome_is_posted_kept_and_handed_to_a_call_to_action(
    conversation: Conversation, group: Group, clock: ShiftedClock
) -> None:
    coral = conversation.person("Coral", user_id=COORDINATOR_ID)
    amira = conversation.person("Amira")
    await make_volunteer(conversation, amira)
    await group.join(amira)
    await group.say(coral, "/poll Rally? | Yes | No | anonymous | in 1h")
    await group.press(amira, "Yes")
    clock.advance(timedelta(hours=1, minutes=1))
    await conversation.dispatcher.run_due_timers()
    result = group.last
    assert result.labels == ["✍ Write the outcome"]
    toast, alert = await group.press(amira, "✍ Write the outcome")
    assert alert and toast is not None and "only the person who started it" in toast
    assert await group.press(coral, "✍ Write the outcome") == (
        "I've written to you privately.",
        False,
    )
    assert "What was decided on “Rally?”" in coral.last.text
    before = len(coral.messages)
    await coral.send("x" * 1001)
    assert any("1 to 1000 characters (this one has 1001)" in t for t in coral.texts_since(before))
    await coral.send(OUTCOME)
    assert group.last.text == f"📝 <b>Outcome</b> of “Rally?”:\n{OUTCOME}"
    assert f"📝 Outcome: {OUTCOME}" in result.text and result.labels == ["✍ Write the outcome"]
    texts = [m.text for m in coral.messages[-2:]]
    assert any("is posted in the group and kept in /decisions" in t for t in texts)
    assert any("Create the call to action? Send /newaction" in t and OUTCOME in t for t in texts)
    # Prefilled: the question is the title, the outcome the description; neither asked again.
    await coral.press("📣 Create it now, the outcome filled in")
    await coral.press("Meeting")
    assert "link" in coral.last.text.lower()
    await coral.press("No link")
    await coral.send("in 3 days")
    await coral.send("Beirut")
    await coral.send("Martyrs' Square")
    await coral.press("No limit")
    await coral.press("Done ✔")  # recipients
    await coral.press("Done ✔")  # no group
    assert "It will go to <b>1</b> volunteer." in coral.last.text  # the preview
    preview = coral.messages[-2].text
    assert "Rally?" in preview and "We will hold the rally on 14 March" in preview
    await group.say(coral, "/decisions")
    assert f"📝 {OUTCOME}" in group.last.text
    await group.press(coral, "⬇ Export as CSV")
    rows = read_export(coral.last.document, "decisions", coral.person.id, decision_list.CSV_HEADER)
    assert rows[0]["outcome"] == OUTCOME


async def test_the_outcome_is_for_closed_decisions_only(
    conversation: Conversation, group: Group
) -> None:
    coral = conversation.person("Coral", user_id=COORDINATOR_ID)
    await group.say(coral, "/poll Rally? | Yes | No | anonymous | in 1h")
    shown = group.find("Rally?")
    toast, alert = await group.press_data(coral, shown.message_id, "dout:1")
    assert alert and toast == "The outcome is written once the decision is closed."


async def test_a_call_being_written_is_offered_before_one_from_a_decision_replaces_it(
    conversation: Conversation, group: Group, clock: ShiftedClock
) -> None:
    """The decision's "Create it now" replaced a call being written without a word (a cold
    review's finding, as /newaction sent again did): it offers to continue that one, or to
    start the one from the outcome."""
    coral = conversation.person("Coral", user_id=COORDINATOR_ID)
    amira = conversation.person("Amira")
    await make_volunteer(conversation, amira)
    await group.join(amira)
    await group.say(coral, "/poll Rally? | Yes | No | anonymous | in 1h")
    await group.press(amira, "Yes")
    clock.advance(timedelta(hours=1, minutes=1))
    await conversation.dispatcher.run_due_timers()
    await group.press(coral, "✍ Write the outcome")
    await coral.send(OUTCOME)
    await coral.send("/newaction")
    await coral.press("Petition")
    await coral.send("Ban cluster munitions")
    await coral.press("📣 Create it now, the outcome filled in")
    assert "Ban cluster munitions" in coral.last.text
    assert coral.last.labels == ["↩️ Continue it", "🆕 Start a new one"]
    await coral.press("Start a new one")
    await coral.press("Meeting")
    assert "link" in coral.last.text.lower()  # the title and description filled in
    await coral.press("📣 Create it now, the outcome filled in")
    await coral.press("Continue it")  # this time the one from the outcome goes on
    assert "link" in coral.last.text.lower()

"""Consensus proposals: positions, a block and its private reason, weak consensus, questions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from handlers.kernel.ports import ShiftedClock
from tests.conftest import COORDINATOR_ID
from tests.handlers.test_polls import close_all, members
from tests.support.actions import engine_for
from tests.support.groups import CountingMessenger, Group
from tests.support.recording import Conversation, Someone


@pytest.fixture
def messenger() -> CountingMessenger:
    """A messenger that also counts edits and pins."""
    return CountingMessenger()


@pytest.fixture
def group(conversation: Conversation) -> Group:
    """The coalition's supergroup."""
    return Group(conversation)


@pytest.fixture
def coral(conversation: Conversation) -> Someone:
    """A coordinator."""
    return conversation.person("Coral", user_id=COORDINATOR_ID)


async def test_a_block_asks_for_a_reason_privately_and_shows_it_with_the_outcome(
    conversation: Conversation, group: Group, coral: Someone, clock: ShiftedClock
) -> None:
    amira, bilal, chadi = await members(conversation, group, "Amira", "Bilal", "Chadi")
    await group.say(coral, "/consensus We co-sign the letter <to the ministry> | in 2d | quorum 2")
    proposal = group.find("Proposal:")
    assert "&lt;to the ministry&gt;" in proposal.text
    assert "Quorum: 2 voters" in proposal.text
    await group.press(amira, "👍 Agree")
    toast, alert = await group.press(bilal, "✋ Block")
    assert alert and toast is not None and "asked you privately" in toast
    assert "Please tell me why" in bilal.last.text
    await bilal.send("x" * 501)
    assert "1 to 500 characters (this one has 501)" in bilal.messages[-2].text
    assert "Please tell me why" in bilal.last.text  # asked again
    await bilal.send("We have not <read> it yet")
    assert "will be shown with the outcome" in bilal.last.text
    await group.press(chadi, "❓ I have a question")
    await conversation.dispatcher.services.edits.flush()
    assert "❓ 1 open question: Chadi" in proposal.text
    await close_all(conversation, clock, timedelta(days=2))
    result = group.last.text
    assert "Blocked (1): the proposal does not pass." in result
    assert "Bilal: We have not &lt;read&gt; it yet" in result


async def test_weak_consensus_when_a_third_stand_aside(
    conversation: Conversation, group: Group, coral: Someone, clock: ShiftedClock
) -> None:
    amira, bilal, chadi = await members(conversation, group, "Amira", "Bilal", "Chadi")
    await group.say(coral, "/consensus Join the national campaign")
    await group.press(amira, "👍 Agree")
    await group.press(bilal, "👍 Agree")
    await group.press(chadi, "🤚 Stand aside")
    await close_all(conversation, clock, timedelta(days=1))
    assert "Weak consensus: the proposal passes, but 1 stood aside." in group.last.text


async def test_consensus_passes_under_the_weak_share_and_block_can_be_withdrawn(
    conversation: Conversation, group: Group, coral: Someone, clock: ShiftedClock
) -> None:
    people = await members(conversation, group, "A1", "A2", "A3", "S1")
    await group.say(coral, "/consensus Adopt the charter | weak 40%")
    for someone in people[:3]:
        await group.press(someone, "👍 Agree")
    await group.press(people[3], "✋ Block")
    await group.press(people[3], "🤚 Stand aside")  # changes their mind: no reason needed
    await people[3].send("too late anyway")
    assert "Did you mean" not in people[3].last.text
    await close_all(conversation, clock, timedelta(days=1))
    assert "Consensus: the proposal passes; nobody blocked." in group.last.text


async def test_a_block_reason_after_the_close_is_not_added(
    conversation: Conversation, group: Group, coral: Someone, clock: ShiftedClock
) -> None:
    (amira,) = await members(conversation, group, "Amira")
    await group.say(coral, "/consensus Adopt the charter | in 2h")
    await group.press(amira, "✋ Block")
    await close_all(conversation, clock, timedelta(hours=2))
    assert "(no reason given)" in group.last.text
    await amira.send("Because")
    assert "already closed" in amira.last.text


async def test_vote_settings_are_refused_for_consensus(
    conversation: Conversation, group: Group, coral: Someone
) -> None:
    await group.say(coral, "/consensus Adopt the charter | majority")
    assert "is a setting for votes" in group.last.text
    await group.say(coral, "/consensus")
    assert "How to propose for consensus" in group.last.text


async def test_reasons_and_questions_are_shown_while_open_and_the_author_answers(
    conversation: Conversation, group: Group, coral: Someone, clock: ShiftedClock
) -> None:
    amira, bilal = await members(conversation, group, "Amira", "Bilal")
    (dana,) = await members(conversation, group, "Dana", discreet=True)
    await group.say(coral, "/consensus We join the <coalition> march | in 2d")
    proposal = group.find("Proposal:")
    await group.press(amira, "✋ Block")
    await amira.send("The route is <unsafe>")
    toast, _ = await group.press(bilal, "❓ I have a question")
    assert toast is not None and "type your question there" in toast
    assert "What is your question about the proposal" in bilal.last.text
    await bilal.send("Who brings the banners?")
    assert "is shown to the group under the proposal" in bilal.last.text
    await group.press(dana, "❓ I have a question")
    await dana.send("Is it filmed?")
    await conversation.dispatcher.services.edits.flush()
    assert "Reasons and questions so far:" in proposal.text
    assert "🚫 Amira: The route is &lt;unsafe&gt;" in proposal.text
    assert "❓ Bilal: Who brings the banners?" in proposal.text
    assert "❓ a member (discreet): Is it filmed?" in proposal.text and "Dana" not in proposal.text
    await engine_for(conversation.dispatcher.services).drain()
    told = [m for m in coral.messages if "asks about your proposal" in m.text]
    assert told and "Bilal asks about your proposal" in told[0].text
    assert any("a member (discreet) asks" in m.text for m in told)
    await coral.press_data(told[0].message_id, told[0].keyboard[0][0][1])
    assert "Type your answer to: Who brings the banners?" in coral.last.text
    await coral.send("Basmeh does")
    assert "Your answer is shown to the group" in coral.last.text
    await conversation.dispatcher.services.edits.flush()
    assert (
        "❓ Bilal: Who brings the banners?\n   ↳ The author answers: Basmeh does" in proposal.text
    )
    await close_all(conversation, clock, timedelta(days=2))
    assert "Amira: The route is &lt;unsafe&gt;" in group.last.text  # the reason, at the close

"""Ranked-choice votes in a group: ranking by presses, the instant-runoff rounds at the close."""

from __future__ import annotations

from datetime import timedelta

import pytest

from handlers.kernel.ports import ShiftedClock
from tests.conftest import COORDINATOR_ID
from tests.support.groups import Group, make_volunteer
from tests.support.recording import Conversation, Someone


@pytest.fixture
def group(conversation: Conversation) -> Group:
    """The coalition's supergroup."""
    return Group(conversation)


async def members(conversation: Conversation, group: Group, *names: str) -> list[Someone]:
    """Registered, active volunteers who are in the group."""
    people = [conversation.person(name) for name in names]
    for someone in people:
        await make_volunteer(conversation, someone)
    await group.join(*people)
    return people


async def rank_and_close(
    conversation: Conversation, group: Group, clock: ShiftedClock, rankings: list[list[str]]
) -> str:
    """Five members rank the options of a new ranked vote; the result once it closed."""
    coral = conversation.person("Coral", user_id=COORDINATOR_ID)
    people = await members(conversation, group, *[f"M{i}" for i in range(len(rankings))])
    await group.say(coral, "/poll Where? | Beirut | Tripoli | Saida | ranked | in 2h")
    for someone, ranking in zip(people, rankings, strict=True):
        for label in ranking:
            await group.press(someone, label)
    await conversation.dispatcher.services.edits.flush()
    live = group.find("Where?")
    assert live.labels[:3] == ["Beirut", "Tripoli", "Saida"]  # no first-choice counts
    assert f"{len(rankings)} of {len(rankings)} eligible members have voted." in live.text
    clock.advance(timedelta(hours=2, minutes=1))
    await conversation.dispatcher.run_due_timers()
    return group.last.text


async def test_a_press_adds_the_next_preference_and_a_second_press_takes_it_out(
    conversation: Conversation, group: Group
) -> None:
    coral = conversation.person("Coral", user_id=COORDINATOR_ID)
    (amira,) = await members(conversation, group, "Amira")
    await group.say(coral, "/poll Where? | Beirut | Tripoli | Saida | ranked")
    assert "Rule: ranked choice (instant runoff)" in group.find("Where?").text
    assert await group.press(amira, "Saida") == ("Your ranking: 1. Saida", False)
    assert await group.press(amira, "Beirut") == ("Your ranking: 1. Saida, 2. Beirut", False)
    assert await group.press(amira, "Saida") == ("Your ranking: 1. Beirut", False)
    assert await group.press(amira, "Beirut") == ("Your vote is withdrawn.", False)
    await group.say(coral, "/poll Where? | Beirut | Tripoli | ranked | multiple")
    assert "cannot also be <code>multiple</code>" in group.last.text


async def test_the_last_option_is_eliminated_and_its_ballots_move_on(
    conversation: Conversation, group: Group, clock: ShiftedClock
) -> None:
    # Hand count: round 1 Beirut 2, Tripoli 1, Saida 2 — nobody has over half of 5; Tripoli
    # goes, its ballot (Tripoli, Beirut) moves to Beirut: round 2 Beirut 3, Saida 2: 3 of 5.
    text = await rank_and_close(
        conversation,
        group,
        clock,
        [
            ["Beirut", "Tripoli"],
            ["Beirut", "Saida"],
            ["Tripoli", "Beirut"],
            ["Saida", "Tripoli"],
            ["Saida", "Tripoli"],
        ],
    )
    assert "Round 1: Beirut 2 · Tripoli 1 · Saida 2 — eliminated: Tripoli" in text
    assert "Round 2: Beirut 3 · Saida 2" in text
    assert (
        "Chosen by ranked choice: <b>Beirut</b> — 3 of 5 ballots still counting (60%) "
        "after 2 round(s)." in text
    )


async def test_an_exhausted_ballot_can_leave_a_tie(
    conversation: Conversation, group: Group, clock: ShiftedClock
) -> None:
    # Round 1 Beirut 2, Tripoli 1, Saida 2; Tripoli goes, and the ballot that ranked only
    # Tripoli is exhausted. Round 2: Beirut 2, Saida 2 of the 4 still counting: a tie.
    text = await rank_and_close(
        conversation,
        group,
        clock,
        [["Beirut"], ["Beirut"], ["Tripoli"], ["Saida", "Tripoli"], ["Saida"]],
    )
    assert "Round 2: Beirut 2 · Saida 2 (1 ballot exhausted)" in text
    assert "Tie between Beirut / Saida: no decision." in text

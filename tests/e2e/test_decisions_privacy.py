"""The privacy promises of group decisions end to end, on both runtimes (issue 15): an anonymous
vote replayed one ballot at a time shows nothing that depends on who chose what, and a discreet
member is never shown by name with a choice (no Telegram poll while they are in the group)."""

from __future__ import annotations

from datetime import timedelta

from botapi_emulator.client import Group
from botapi_emulator.client_models import SandboxMessage
from tests.e2e.conftest import PATIENCE, ChorusUnderTest
from tests.e2e.test_decisions import coalition, register, showing
from tests.e2e.test_decisions_more import members_known


async def shown_when(
    chorus: ChorusUnderTest, group: Group, message: SandboxMessage, fragment: str
) -> SandboxMessage:
    """The message once its (edited) text contains `fragment`."""

    def pick(messages: list[SandboxMessage]) -> SandboxMessage | None:
        return next(
            (
                m
                for m in messages
                if m.message_id == message.message_id and fragment in (m.text or "")
            ),
            None,
        )

    return await chorus.sandbox.wait_for(group.id, pick, PATIENCE, fragment)


def seen(message: SandboxMessage, question: str) -> tuple[str, list[str]]:
    """What the group sees of a results message, the question aside."""
    return message.text.replace(question, "Q"), message.labels


async def test_an_anonymous_vote_replayed_ballot_by_ballot_reveals_no_choice(
    chorus: ChorusUnderTest,
) -> None:
    coral = chorus.coordinator
    group, (amira, bilal, chadi) = await coalition(chorus, "Amira", "Bilal", "Chadi")
    await members_known(chorus, group, amira, bilal, chadi)
    await coral.send("/poll Ballot A? | Yes | No | anonymous | majority | in 4h", chat=group)
    first = await coral.wait_for_message(showing("Ballot A?"), chat=group)
    await coral.send("/poll Ballot B? | Yes | No | anonymous | majority | in 4h", chat=group)
    second = await coral.wait_for_message(showing("Ballot B?"), chat=group)
    # The same ballots (two Yes, one No), cast in the same order by different people.
    plan = [(amira, 0, 1), (bilal, 1, 0), (chadi, 0, 0)]
    for step, (person, in_a, in_b) in enumerate(plan, start=1):
        answer = await person.press_data(first, f"dv:1:{in_a}")
        assert answer is not None and "Vote recorded" in (answer.text or ""), answer
        answer = await person.press_data(second, f"dv:2:{in_b}")
        assert answer is not None and "Vote recorded" in (answer.text or ""), answer
        turnout = f"{step} of 4 eligible members ha"
        a = await shown_when(chorus, group, first, turnout)
        b = await shown_when(chorus, group, second, turnout)
        assert seen(a, "Ballot A?") == seen(b, "Ballot B?"), step
        assert "Amira" not in a.text and "Yes —" not in a.text and a.labels[:2] == ["Yes", "No"]
    await chorus.advance(timedelta(hours=4, seconds=1))
    final_a = await coral.wait_for_message(
        showing("Result: Ballot A?"), chat=group, since_last_action=False
    )
    final_b = await coral.wait_for_message(
        showing("Result: Ballot B?"), chat=group, since_last_action=False
    )
    assert final_a.text.replace("Ballot A?", "Q") == final_b.text.replace("Ballot B?", "Q")
    assert "Adopted: Yes — 2 of 3 votes (67%)." in final_a.text
    assert "Amira" not in final_a.text and "Bilal" not in final_a.text


async def test_a_discreet_member_is_never_shown_by_name_with_a_choice(
    chorus: ChorusUnderTest,
) -> None:
    coral = chorus.coordinator
    group, (amira,) = await coalition(chorus, "Amira")
    dana = await chorus.person("Dana")
    await register(chorus, dana, discreet=True)
    await group.add(dana)
    await members_known(chorus, group, amira, dana)
    await coral.send("/poll Date of the action? | Friday | Saturday | in 3h", chat=group)
    results = await coral.wait_for_message(showing("Open vote"), chat=group)
    answer = await dana.press("Friday · 0", chat=group)
    assert answer is not None and answer.text == "Vote recorded: Friday"
    await amira.press("Saturday · 0", chat=group)
    live = await shown_when(chorus, group, results, "Saturday — 1 (50%): Amira")
    assert "Friday — 1 (50%): a member (discreet)" in live.text
    await chorus.advance(timedelta(hours=3, seconds=1))
    await coral.wait_for_message(showing("Result:"), chat=group, since_last_action=False)
    assert await chorus.sandbox.requests("sendPoll") == []  # Telegram would name her
    assert all("Dana" not in (m.text or "") for m in await group.messages())


async def test_a_hidden_vote_is_a_telegram_poll_that_shows_results_at_the_close(
    chorus: ChorusUnderTest,
) -> None:
    coral = chorus.coordinator
    group, (amira, bilal) = await coalition(chorus, "Amira", "Bilal")
    await members_known(chorus, group, amira, bilal)
    await coral.send("/poll Venue? | Hall | Park | hidden | majority | in 2h", chat=group)
    message = await coral.wait_for_message(lambda m: m.poll is not None, chat=group)
    results = await coral.wait_for_message(showing("Rule: majority"), chat=group)
    assert message.poll is not None and message.poll.description is not None
    assert "Results are hidden until the close." in message.poll.description
    await amira.vote(message, [1])
    poll = await bilal.vote(message, [1])
    assert poll.results_hidden and poll.votes == {} and poll.counts == [0, 0]
    live = await shown_when(chorus, group, results, "2 of 3 eligible members have voted.")
    assert "Park —" not in live.text
    await chorus.advance(timedelta(hours=2, seconds=1))
    final = await coral.wait_for_message(showing("Result:"), chat=group, since_last_action=False)
    assert "Adopted: Park — 2 of 2 votes (100%)." in final.text
    stopped = next(m for m in await group.messages() if m.message_id == message.message_id)
    assert stopped.poll is not None and stopped.poll.is_closed
    assert stopped.poll.counts == [0, 2] and not stopped.poll.results_hidden

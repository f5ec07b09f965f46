"""The privacy promises of group decisions, each pinned as a kind (issue 15).

- An anonymous vote reveals no choice at any moment: replayed one ballot at a time, two votes
  whose ballots are the same multiset in a different order show exactly the same things.
- A discreet member is never shown by name with a choice (no native poll with them around).
- After /forget, the posts the bot can still edit are shown again without the name.
- A group has its own language and time zone; no time shows seconds; reminders use each
  person's own.
- Consensus and quorum texts say only what is true; abstentions count towards the quorum, not in
  the votes cast.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.app import Storage
from handlers.kernel.i18n import translator
from handlers.kernel.ports import ShiftedClock
from storage.coalition import audit_store
from storage.decisions.decision_models import Decision
from storage.outbox import OutboxMessage
from tests.conftest import COORDINATOR_ID
from tests.support.groups import Group, make_volunteer
from tests.support.recording import Conversation, Someone


@pytest.fixture
def group(conversation: Conversation) -> Group:
    """The coalition's supergroup."""
    return Group(conversation)


async def members(
    conversation: Conversation, group: Group, *names: str, **profile: object
) -> list[Someone]:
    """Registered, active volunteers who are in the group."""
    people = [conversation.person(name) for name in names]
    for someone in people:
        await make_volunteer(conversation, someone, **profile)  # type: ignore[arg-type]
    await group.join(*people)
    return people


def coordinator(conversation: Conversation) -> Someone:
    """Coral, a coordinator (ADMIN_IDS), in London and in English."""
    return conversation.person("Coral", user_id=COORDINATOR_ID)


def seen(group: Group, question: str) -> tuple[str, list[str]]:
    """What the group sees of a decision's results message: its text and button labels, with
    the question replaced so that two decisions can be compared."""
    shown = group.find(question)
    return shown.text.replace(question, "Q"), shown.labels


async def nudge_list(storage: Storage) -> list[tuple[int, str]]:
    """The reminders queued so far: (private chat, text)."""
    async with storage.sessionmaker() as session:
        rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
    return [(row.chat_id, row.text) for row in rows if row.purpose == "nudge"]


def privately(people: list[Someone]) -> list[list[str]]:
    """Every private message each person has received."""
    return [[m.text for m in someone.messages] for someone in people]


async def test_an_anonymous_vote_replayed_ballot_by_ballot_reveals_no_choice(
    conversation: Conversation, group: Group, clock: ShiftedClock, storage: Storage
) -> None:
    coral = coordinator(conversation)
    voters = await members(conversation, group, "Amira", "Bilal", "Chadi", "Dana")
    amira, bilal, chadi, dana = voters
    await group.say(coral, "/poll Ballot A? | Yes | No | anonymous | majority | in 4h")
    await group.say(coral, "/poll Ballot B? | Yes | No | anonymous | majority | in 4h")
    edits = conversation.dispatcher.services.edits
    # The same ballots (two Yes, one No) cast in the same order by different people.
    plan = [(amira, "Yes", "No"), (bilal, "No", "Yes"), (chadi, "Yes", "Yes")]
    before = privately([bilal, chadi, dana])
    assert seen(group, "Ballot A?") == seen(group, "Ballot B?")
    for step, (someone, in_a, in_b) in enumerate(plan):
        await group.press_data(
            someone, group.find("Ballot A?").message_id, f"dv:1:{'YN'.index(in_a[0])}"
        )
        await group.press_data(
            someone, group.find("Ballot B?").message_id, f"dv:2:{'YN'.index(in_b[0])}"
        )
        await edits.flush()
        a, b = seen(group, "Ballot A?"), seen(group, "Ballot B?")
        assert a == b, step
        assert f"{step + 1} of 4 eligible members ha" in a[0]
        assert not re.search(r"Yes — \d|No — \d|· \d|Amira|Bilal|Chadi", a[0] + str(a[1]))
        if step == 0:  # halfway: the reminders go out, to the same people, saying the same
            clock.advance(timedelta(hours=2, minutes=1))
            await conversation.dispatcher.run_due_timers()
            sent = await nudge_list(storage)
            quiet = [bilal.person.id, chadi.person.id, dana.person.id]
            assert sorted(chat for chat, _ in sent) == sorted(quiet * 2)
            to_dana = sorted(text for chat, text in sent if chat == dana.person.id)
            assert to_dana[0].replace("Ballot A?", "Q") == to_dana[1].replace("Ballot B?", "Q")
    assert privately([bilal, chadi, dana]) == before  # no private echo of others' presses
    await group.say(coral, "/decisions")
    assert "Ballot A?" not in group.last.text  # nothing of an open vote is listed
    clock.advance(timedelta(hours=2))
    await conversation.dispatcher.run_due_timers()
    final_a = group.find("Result:</b> Ballot A?").text.replace("Ballot A?", "Q")
    final_b = group.find("Result:</b> Ballot B?").text.replace("Ballot B?", "Q")
    assert final_a == final_b
    assert "Adopted: <b>Yes</b> — 2 of 3 votes" in final_a
    assert not re.search("Amira|Bilal|Chadi|a member", final_a)
    await group.say(coral, "/decisions")
    history = group.last.text
    line_a = next(line for line in history.splitlines() if "Ballot A?" in line)
    line_b = next(line for line in history.splitlines() if "Ballot B?" in line)
    assert line_a.replace("Ballot A?", "Q") == line_b.replace("Ballot B?", "Q")
    async with storage.sessionmaker() as session:
        decisions = (await session.scalars(select(Decision).order_by(Decision.id))).all()
        first, second = (dict(d.result, late_seconds=0) for d in decisions)
        assert first == second
        entries = await audit_store.everything(session)
    # The audit log records that votes were opened and closed, never a ballot.
    assert {e.action for e in entries} <= {"decision.open", "decision.close"}


async def test_a_group_with_a_discreet_member_votes_by_buttons(
    conversation: Conversation, group: Group, storage: Storage, clock: ShiftedClock
) -> None:
    coral = coordinator(conversation)
    (amira,) = await members(conversation, group, "Amira")
    (dana,) = await members(conversation, group, "Dana", discreet=True)
    await group.say(coral, "/poll Date of the action? | Friday | Saturday | in 3h")
    async with storage.sessionmaker() as session:
        decision = await session.scalar(select(Decision))
        assert decision is not None and decision.transport == "buttons"
        assert decision.poll_id is None  # no Telegram poll, which would name her
    assert not any(m.text == "Date of the action?" for m in group.messages)
    await group.press(dana, "Friday")
    await group.press(amira, "Saturday")
    await conversation.dispatcher.services.edits.flush()
    live = group.find("Date of the action?").text
    assert "<b>Friday</b> — 1 (50%): a member (discreet)" in live
    assert "<b>Saturday</b> — 1 (50%): Amira" in live
    clock.advance(timedelta(hours=3))
    await conversation.dispatcher.run_due_timers()
    assert all("Dana" not in m.text for m in group.messages)


async def test_a_discreet_member_who_joins_after_a_native_poll_is_warned(
    conversation: Conversation, group: Group, storage: Storage
) -> None:
    coral = coordinator(conversation)
    await members(conversation, group, "Amira")
    await group.say(coral, "/poll Venue? | Hall | Park")
    async with storage.sessionmaker() as session:
        decision = await session.scalar(select(Decision))
        assert decision is not None and decision.poll_id is not None
        poll_id = decision.poll_id
    (dana,) = await members(conversation, group, "Dana", discreet=True)
    await group.answer_poll(dana, poll_id, (0,))
    assert "discreet mode" in dana.last.text
    await conversation.dispatcher.services.edits.flush()
    assert "Dana" not in group.find("Open vote").text


async def test_after_forget_the_posted_results_no_longer_name_the_person(
    conversation: Conversation, group: Group, clock: ShiftedClock
) -> None:
    coral = coordinator(conversation)
    amira, bilal = await members(conversation, group, "Amira", "Bilal")
    await group.say(coral, "/poll Done? | Yes | No | in 1h")
    await group.say(coral, "/poll Still open? | Yes | No | in 5h")
    polls = {m.text: f"poll{m.message_id}" for m in group.messages if m.text.endswith("?")}
    await group.answer_poll(amira, polls["Done?"], (0,))
    await group.answer_poll(bilal, polls["Done?"], (1,))
    await group.answer_poll(amira, polls["Still open?"], (0,))
    clock.advance(timedelta(hours=1, minutes=1))
    await conversation.dispatcher.run_due_timers()
    await conversation.dispatcher.services.edits.flush()
    final = group.find("Result:</b> Done?")
    live = group.find("Still open?")
    assert "<b>Yes</b> — 1 (50%): Amira" in final.text and "Amira" in live.text
    await amira.send("/forget")
    await amira.press("🗑 Yes, erase my data")
    assert "Your data has been erased" in amira.last.text
    assert "Amira" not in final.text and "Amira" not in live.text
    assert "<b>Yes</b> — 1 (50%): a member (discreet)" in final.text
    assert "<b>No</b> — 1 (50%): Bilal" in final.text
    assert "1 of 1 eligible members has voted." in live.text  # her ballot still counts


async def test_a_group_posts_in_its_own_language_and_time_zone_without_seconds(
    conversation: Conversation, group: Group, clock: ShiftedClock, storage: Storage
) -> None:
    coral = coordinator(conversation)  # English, UTC
    await members(conversation, group, "Rima", "Samir", language="fr", timezone="Asia/Beirut")
    (lucia,) = await members(conversation, group, "Lucia", language="es", timezone="America/Bogota")
    await group.say(coral, "/poll Lieu ? | Salle | Parc | in 3h")
    posted = group.find("Lieu ?").text
    assert "Règle\u202f: pluralité" in posted and "(Asia/Beirut)" in posted
    assert not re.search(r"\d:\d\d:\d\d", posted)
    clock.advance(timedelta(hours=1, minutes=31))
    await conversation.dispatcher.run_due_timers()
    nudge = next(text for chat, text in (await nudge_list(storage)) if chat == lucia.person.id)
    async with storage.sessionmaker() as session:
        decision = await session.scalar(select(Decision))
        assert decision is not None
    own = translator("es").datetime_text(decision.closes_at, "America/Bogota")
    assert "Lieu ?" in nudge and "Falta tu voz" in nudge and own in nudge
    assert not re.search(r"\d:\d\d:\d\d", nudge)
    await group.say(coral, "/decisions timezone Africa/Nairobi")
    assert "Africa/Nairobi" in group.last.text
    await group.say(coral, "/decisions language english")  # answered in the group's French
    assert "Je ne connais pas la langue «\u202fenglish\u202f»" in group.last.text
    await group.say(coral, "/decisions timezone Mars/Olympus")
    assert "Je ne connais pas le fuseau horaire «\u202fMars/Olympus\u202f»" in group.last.text
    await group.say(coral, "/decisions language en")
    await group.say(coral, "/poll Venue? | Hall | Park | 18:00")
    posted = group.find("Venue?").text
    assert "Rule: plurality" in posted and "(Africa/Nairobi)" in posted
    assert "6:00\u202fPM" in posted  # "18:00" typed in the group is the group's 18:00
    (pablo,) = await members(conversation, group, "Pablo", language="es")
    await group.say(pablo, "/decisions timezone UTC")  # members cannot change it
    assert "Saved" not in group.last.text and "Guardado" not in group.last.text


async def test_consensus_and_quorum_texts_say_only_what_is_true(
    conversation: Conversation, group: Group, clock: ShiftedClock
) -> None:
    coral = coordinator(conversation)
    amira, *_ = await members(conversation, group, "Amira", "Bilal", "Chadi")
    await group.say(coral, "/consensus We co-sign the letter | in 2h")
    proposal = group.find("We co-sign the letter").text
    assert "quorum" not in proposal.casefold()
    await group.say(coral, "/consensus We march | quorum 3 | in 2h")
    await group.press_data(amira, group.find("We march").message_id, "dp:2:0")
    clock.advance(timedelta(hours=2, minutes=1))
    await conversation.dispatcher.run_due_timers()
    closed = group.find("Result:</b> We march").text
    assert "Quorum not reached: 1 voted, 3 needed" in closed
    assert "more voter" not in closed


async def test_abstentions_count_towards_the_quorum_not_in_the_votes_cast(
    conversation: Conversation, group: Group, clock: ShiftedClock
) -> None:
    coral = coordinator(conversation)
    people = await members(conversation, group, "A", "B", "C", "D", "E")
    await group.say(coral, "/poll Strike? | Yes | No | abstain | majority | quorum 5 | anonymous")
    posted = group.find("Strike?")
    assert posted.labels[:3] == ["Yes", "No", "Abstain"]
    assert "Abstaining counts towards the quorum, not in the votes cast." in posted.text
    for someone, choice in zip(people, ["Yes", "Yes", "No", "Abstain", "Abstain"], strict=True):
        await group.press(someone, choice)
    clock.advance(timedelta(days=1, minutes=1))
    await conversation.dispatcher.run_due_timers()
    result = group.find("Result:</b> Strike?").text
    # 5 took part (quorum 5 reached); votes cast 3; Yes 2 of 3 > half: adopted.
    assert "Adopted: <b>Yes</b> — 2 of 3 votes (67%)" in result
    assert "<b>Abstain</b> — 2 (not in the votes cast)" in result
    assert "Votes cast: 3 (abstentions: 2)." in result
    assert "Quorum reached" in result


@pytest.mark.parametrize("word", ["anonyme", "secreta", "سري"])
async def test_a_secret_ballot_asked_in_another_language_is_secret(
    conversation: Conversation, group: Group, storage: Storage, word: str
) -> None:
    """An English profile typing the French, Spanish or Arabic word (the group's language, or
    what docs/decisions.md shows) gets a secret ballot; the word used to become an option, the
    vote an open one showing who chose what."""
    coral = coordinator(conversation)
    await members(conversation, group, "Amira", "Bilal")
    await group.say(coral, f"/poll Endorse X? | Yes | No | {word}")
    text, labels = seen(group, "Endorse X?")
    assert word not in text + str(labels)
    async with storage.sessionmaker() as session:
        decision = await session.scalar(select(Decision))
    assert decision is not None and decision.anonymous and decision.options == ["Yes", "No"]


async def test_a_misspelt_secret_ballot_is_asked_about_not_started_open(
    conversation: Conversation, group: Group, storage: Storage
) -> None:
    coral = coordinator(conversation)
    await members(conversation, group, "Amira", "Bilal")
    await group.say(coral, "/poll Endorse X? | Yes | No | anonymus")
    assert "“anonymus” looks like “anonymous”" in group.messages[-1].text
    async with storage.sessionmaker() as session:
        assert await session.scalar(select(Decision)) is None

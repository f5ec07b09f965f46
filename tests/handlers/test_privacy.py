"""/mydata and /forget, checked in the database: no personal trace left in ANY table, counts kept.

The scan walks Base.metadata, so a table added later is checked too: anything that still holds
the person's user id, name or username fails the test.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.app import Storage
from handlers.kernel.ports import ShiftedClock
from storage import outbox
from storage.actions import action_store, broadcast_store, safety_store
from storage.coalition import audit_store, group_store, role_store
from storage.decisions import decision_store
from storage.models import Volunteer
from storage.outbox import Outgoing
from storage.people import shown_names
from storage.schema import Base
from tests.conftest import COORDINATOR_ID
from tests.support.coalition import make_member, someone
from tests.support.recording import Conversation

NINA = 7_700_001
NAME, USERNAME, PSEUDONYM = "Nina Quartermaine", "nina_q_77", "Kestrel Nightjar"
OTHER = 7_700_002


async def _traces(storage: Storage, needles: list[str], user_id: int) -> list[str]:
    """Every cell of every table that still points at the person."""
    token = re.compile(rf"(?<!\d){user_id}(?!\d)")
    found: list[str] = []
    async with storage.sessionmaker() as session:
        for table in Base.metadata.sorted_tables:
            for row in (await session.execute(select(table))).mappings():
                for column, value in row.items():
                    if value is None or isinstance(value, bool):
                        continue
                    if isinstance(value, int) and value == user_id:
                        found.append(f"{table.name}.{column} = {value}")
                    elif isinstance(value, str | dict | list):
                        text = value if isinstance(value, str) else json.dumps(value)
                        if token.search(text) or any(
                            n.casefold() in text.casefold() for n in needles
                        ):
                            found.append(f"{table.name}.{column} = {text[:80]!r}")
    return found


async def _world(storage: Storage, clock: ShiftedClock) -> dict[str, Any]:
    """Nina takes part in everything: an action, a vote, a group, a role, the outbox, the log."""
    now = clock.now()
    await make_member(
        storage, NINA, now=now, name=NAME, username=USERNAME, skills=["media"], pseudonym=PSEUDONYM
    )
    await make_member(storage, OTHER, now=now, name="Omar")
    async with storage.sessionmaker() as session, session.begin():
        action = await action_store.create(
            session,
            {
                "kind": "meeting",
                "title": "Town hall",
                "description": "Bring a friend",
                # Past: its answers stay counted after /forget (a live action's go back to the
                # waitlist: tests/handlers/test_action_life.py).
                "at": now - timedelta(days=2),
                "timezone": "UTC",
                "audience": {},
                "group_ids": [],
                "reminder_minutes": [],
                "created_by": NINA,
            },
            now,
        )
        await action_store.set_answer(session, action.id, NINA, action_store.GOING, now)
        await action_store.set_answer(session, action.id, OTHER, action_store.GOING, now)
        sending = await broadcast_store.create(
            session, action.id, "announce", now, report_chat_id=NINA
        )
        await outbox.enqueue(
            session,
            [Outgoing(NINA, f"Hello {NAME}!"), Outgoing(OTHER, "Hello Omar!")],
            purpose="broadcast",
            ref=broadcast_store.ref(sending.id),
            now=now,
        )
        decision = await decision_store.create(
            session,
            chat_id=-500,
            kind="consensus",
            question="Adopt the charter?",
            options=[],
            rule="consensus",
            transport="buttons",
            created_by=NINA,
            locale="en",
            timezone="UTC",
            created_at=now,
            closes_at=now + timedelta(days=1),
        )
        await decision_store.cast(
            session, decision.id, NINA, f"user:{NINA}", [2], now, reason="Too vague"
        )
        await decision_store.cast(session, decision.id, OTHER, f"user:{OTHER}", [0], now)
        await decision_store.mark_nudged(session, decision.id, [NINA], "half", now)
        await decision_store.give_proxy(session, decision.id, 1, 2, NINA, now)  # her proxy
        await decision_store.set_nudges(session, NINA, False, now)
        closed = await decision_store.create(
            session,
            chat_id=-500,
            kind="vote",
            question="Meet on Monday?",
            options=["Yes", "No"],
            rule="majority",
            transport="native",
            created_by=OTHER,
            locale="en",
            timezone="UTC",
            created_at=now,
            closes_at=now,
        )
        result = {
            "counts": [2, 0],
            "voters": 2,
            "eligible": 2,
            "needed": 0,
            "status": "passed",
            "winners": [0],
            "names": [[NAME, "Omar"], []],
            "voted": [NAME, "Omar"],
            "reasons": [[NAME, "Because"]],
        }
        await decision_store.close(session, closed, result, now)
        # The safety check-in: Nina's own, and Nina as Omar's buddy.
        await safety_store.mark(session, action.id, 60, NINA, now)
        await safety_store.ensure(session, action.id, NINA, now)
        buddying = await safety_store.ensure(session, action.id, OTHER, now)
        buddying.buddy_id = NINA
        await group_store.joined(session, -500, "Coalition", "supergroup", now)
        await group_store.set_member(session, -500, NINA, "member", now)
        await role_store.grant(session, NINA, "treasurer", now, granted_by=COORDINATOR_ID)
        await role_store.grant(session, OTHER, "coordinator", now, granted_by=NINA)
        await audit_store.record(session, COORDINATOR_ID, "role.grant", now, target_id=NINA)
    return {"action": action.id, "decision": decision.id, "closed": closed.id}


async def test_mydata_sends_everything_stored_about_the_person(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    await _world(storage, clock)
    nina = someone(conversation, NINA, "Nina", username=USERNAME)
    await nina.send("/mydata")
    assert nina.last.document is not None
    name, content = nina.last.document
    assert name == "chorus-my-data.json"
    data = json.loads(content)
    assert data["user_id"] == NINA
    tables = data["tables"]
    assert tables["volunteers"][0]["display_name"] == NAME
    assert tables["volunteers"][0]["skills"] == ["media"]
    assert {r["role"] for r in tables["roles"]} == {"treasurer"}
    assert tables["rsvps"][0]["status"] == "going"
    assert tables["decision_ballots"][0]["reason"] == "Too vague"
    assert tables["outbox"][0]["text"] == f"Hello {NAME}!"
    assert tables["group_members"][0]["chat_id"] == -500
    assert tables["checkins"][0]["user_id"] == NINA
    assert tables["audit_log"][0]["action"] == "role.grant"
    assert all("result" not in row for row in tables.get("decisions", []))
    assert "Omar" not in content.decode()
    summary = nina.messages[-2].text
    assert "What Chorus keeps about you" in summary
    assert f"<b>Name</b>: {NAME}" in summary and "Roles: " in summary
    assert "• Answers to actions: 1" in summary and "• Votes and positions: 1" in summary


async def test_mydata_summary_is_in_the_person_s_language(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    await _world(storage, clock)
    nina = someone(conversation, NINA, "Nina", username=USERNAME)
    await nina.send("/language")
    await nina.press("العربية")
    await nina.send("/mydata")
    summary = nina.messages[-2].text
    assert "ما يحتفظ به Chorus عنك" in summary and "الردود على التحركات: 1" in summary
    assert nina.last.document is not None


async def test_forget_leaves_no_personal_trace_in_any_table_and_keeps_counts(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    ids = await _world(storage, clock)
    assert await _traces(storage, [NAME, USERNAME, PSEUDONYM], NINA)  # the scan does find her first
    nina = someone(conversation, NINA, "Nina", username=USERNAME)
    await nina.send("/forget")
    assert "Erase your data?" in nina.last.text
    await nina.press("No, keep it")
    assert nina.last.text == "Nothing was erased."
    await nina.send("/forget")
    await nina.press("🗑 Yes, erase my data")
    assert "Your data has been erased" in nina.last.text
    assert await _traces(storage, [NAME, USERNAME, PSEUDONYM], NINA) == []
    async with storage.sessionmaker() as session:
        assert await action_store.counts(session, ids["action"]) == {"going": 2}
        ballots = await decision_store.ballots(session, ids["decision"])
        assert sorted(b.choice[0] for b in ballots) == [0, 2]
        assert all(b.reason is None for b in ballots if b.choice == [2])
        closed = await decision_store.get(session, ids["closed"])
        assert closed is not None
        assert closed.result["counts"] == [2, 0] and closed.result["voters"] == 2
        assert closed.result["names"] == [[None, "Omar"], []]
        assert closed.result["status"] == "passed"
        states = await outbox.counts(session, "b1")
        assert sum(states.values()) == 2
        assert await audit_store.of_action(session, "privacy.forget")
    await nina.send("/mydata")
    assert nina.last.text == "Chorus stores nothing about you."


async def test_the_last_owner_must_hand_over_before_forgetting(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    from handlers.kernel.context import HandlerSettings

    conversation.dispatcher.services.settings = HandlerSettings(admin_ids=frozenset())
    await make_member(storage, NINA, now=clock.now(), name=NAME, role="owner")
    nina = someone(conversation, NINA, "Nina")
    await nina.send("/forget")
    await nina.press("🗑 Yes, erase my data")
    assert "last owner" in nina.last.text
    assert await _traces(storage, [NAME], NINA)


async def test_a_pseudonym_and_no_username_are_set_in_the_profile(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    await make_member(storage, NINA, now=clock.now(), name=NAME, username=USERNAME)
    nina = someone(conversation, NINA, "Nina", username=USERNAME)
    await nina.send("/profile")
    await nina.press("Pseudonym")
    assert "pseudonym" in nina.last.text and "No pseudonym" in nina.last.labels
    await nina.send("K")
    assert "2–64" in nina.last.text  # too short: asked again, nothing lost
    await nina.send("Kestrel")
    assert "<b>Pseudonym</b>: Kestrel" in nina.last.text
    assert "🎭 Other volunteers and groups see your pseudonym" in nina.last.text
    await nina.press("@username kept")
    await nina.press("No")
    async with storage.sessionmaker() as session:
        volunteer = await session.get(Volunteer, NINA)
        assert volunteer is not None
        assert (volunteer.pseudonym, volunteer.username, volunteer.keep_username) == (
            "Kestrel",
            None,
            False,
        )
        assert shown_names.for_members(volunteer) == "Kestrel"
        assert shown_names.for_coordinators(volunteer) == f"{NAME} 🎭 Kestrel"
    traces = await _traces(storage, [USERNAME], NINA)
    assert [t for t in traces if USERNAME in t] == []  # erased, not just hidden
    await nina.press("Pseudonym")
    await nina.press("No pseudonym")
    await nina.press("@username kept")
    await nina.press("Yes")
    async with storage.sessionmaker() as session:
        volunteer = await session.get(Volunteer, NINA)
        assert volunteer is not None
        assert (volunteer.pseudonym, volunteer.username) == (None, USERNAME)


async def test_vanish_removes_from_every_group_then_erases_as_forget_does(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    ids = await _world(storage, clock)
    now = clock.now()
    async with storage.sessionmaker() as session, session.begin():
        await group_store.joined(session, -600, "Media <team>", "supergroup", now)
        await group_store.joined(session, -700, "Old group", "supergroup", now)
        await group_store.left(session, -700)  # the bot is no longer there: not tried
    messenger = conversation.messenger
    messenger.not_admin.add(-600)
    nina = someone(conversation, NINA, "Nina", username=USERNAME)
    await nina.send("/vanish")
    assert "Vanish?" in nina.last.text and "administrator" in nina.last.text
    await nina.press("No, keep it")
    assert nina.last.text == "Nothing was erased." and messenger.removed == []
    await nina.send("/vanish")
    await nina.press("🚪 Yes, remove me and erase my data")
    assert messenger.removed == [(-500, NINA)]
    assert "could not remove you from these groups" in nina.last.text
    assert "• Media &lt;team&gt;" in nina.last.text and "Coalition" not in nina.last.text
    assert "Old group" not in nina.last.text
    assert await _traces(storage, [NAME, USERNAME, PSEUDONYM], NINA) == []
    async with storage.sessionmaker() as session:
        assert await action_store.counts(session, ids["action"]) == {"going": 2}


async def test_vanish_keeps_the_last_owner_and_their_groups(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    from handlers.kernel.context import HandlerSettings

    conversation.dispatcher.services.settings = HandlerSettings(admin_ids=frozenset())
    await make_member(storage, NINA, now=clock.now(), name=NAME, role="owner")
    async with storage.sessionmaker() as session, session.begin():
        await group_store.joined(session, -500, "Coalition", "supergroup", clock.now())
    nina = someone(conversation, NINA, "Nina")
    await nina.send("/vanish")
    await nina.press("🚪 Yes, remove me and erase my data")
    assert "last owner" in nina.last.text
    assert conversation.messenger.removed == []
    assert await _traces(storage, [NAME], NINA)


async def test_mydata_counts_only_the_groups_the_person_is_in(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    """A group the person left (or was only looked up in) stays in the file, not in the count
    of "Groups you are in" (newcomer trial: 2 shown for one group)."""
    await _world(storage, clock)
    async with storage.sessionmaker() as session, session.begin():
        await group_store.joined(session, -600, "Media team", "supergroup", clock.now())
        await group_store.set_member(session, -600, NINA, "left", clock.now())
    nina = someone(conversation, NINA, "Nina", username=USERNAME)
    await nina.send("/mydata")
    assert "• Groups you are in: 1" in nina.messages[-2].text
    assert nina.last.document is not None
    assert len(json.loads(nina.last.document[1])["tables"]["group_members"]) == 2


async def test_vanish_leaves_no_membership_row_when_telegram_reports_the_removal(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    """The ban and unban of /vanish come back from Telegram as member updates ('kicked', then
    'left') once the erasure is committed: they must not write the person back into the group's
    members (a row of their user id in a group they vanished from is the trace /vanish erases)."""
    from handlers.kernel.events import Chat, ChatType, Event, EventKind

    await _world(storage, clock)
    nina = someone(conversation, NINA, "Nina", username=USERNAME)
    await nina.send("/vanish")
    await nina.press("🚪 Yes, remove me and erase my data")
    assert conversation.messenger.removed == [(-500, NINA)]
    assert await _traces(storage, [NAME, USERNAME, PSEUDONYM], NINA) == []
    group = Chat(-500, ChatType.SUPERGROUP, "Coalition")
    for status in ("kicked", "left"):  # Telegram's chat_member updates of the ban and unban
        event = Event(
            conversation.next_update_id(),
            EventKind.MEMBERSHIP,
            nina.person,
            group,
            member_status=status,
        )
        await conversation.dispatcher.feed(event)
    assert await _traces(storage, [NAME, USERNAME, PSEUDONYM], NINA) == []

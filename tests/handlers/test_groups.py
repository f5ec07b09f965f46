"""A newcomer in a group gets a short welcome with a private link to register."""

from __future__ import annotations

from datetime import UTC, datetime

from storage.coalition import membership_store
from tests.support.groups import Group, make_volunteer
from tests.support.recording import Conversation


async def test_a_newcomer_gets_a_link_to_register_once(conversation: Conversation) -> None:
    group = Group(conversation)
    nadia = conversation.person("Nadia")
    await group.arrive(nadia)
    assert "Welcome, Nadia!" in group.last.text
    assert "https://t.me/chorus_bot?start=group" in group.last.text
    assert "by application" not in group.last.text
    count = len(group.messages)
    await group.arrive(nadia)  # the same arrival told twice (service message and member update)
    assert len(group.messages) == count


async def test_the_welcome_says_when_membership_is_by_application(
    conversation: Conversation,
) -> None:
    sessionmaker = conversation.dispatcher.services.sessionmaker
    async with sessionmaker() as session, session.begin():
        await membership_store.change_setting(
            session, "membership", membership_store.BY_APPLICATION, 1, datetime.now(UTC)
        )
    group = Group(conversation)
    await group.arrive(conversation.person("Omar"))
    assert "by application" in group.last.text and "?start=group" in group.last.text


async def test_members_and_rejected_applicants_get_no_invitation(
    conversation: Conversation,
) -> None:
    group = Group(conversation)
    await group.arrive(conversation.person("Nadia"))
    count = len(group.messages)
    rita = conversation.person("Rita")
    await make_volunteer(conversation, rita)
    await group.arrive(rita)
    assert len(group.messages) == count
    ravi = conversation.person("Ravi")
    await make_volunteer(conversation, ravi, status="rejected")
    await group.arrive(ravi)
    assert len(group.messages) == count


async def test_start_does_not_welcome_back_a_rejected_applicant(
    conversation: Conversation,
) -> None:
    ravi = conversation.person("Ravi")
    await make_volunteer(conversation, ravi, status="rejected")
    await ravi.send("/start")
    assert "not accepted" in ravi.last.text and "Welcome back" not in ravi.last.text
    ana = conversation.person("Ana")
    await make_volunteer(conversation, ana, status="applicant")
    await ana.send("/start")
    assert "still waiting" in ana.last.text


async def test_a_first_name_with_a_bidi_override_cannot_reverse_the_welcome(
    conversation: Conversation,
) -> None:
    """Telegram's first names are not typed text (typed_text refuses overrides there): an RLO in
    one (U+202E) reversed the rest of the group's welcome line in every client. It is taken out
    of what Chorus writes; the name itself stays readable."""
    group = Group(conversation)
    await group.arrive(conversation.person("Kim\u202eevil"))
    welcome = group.last.text
    assert "Welcome, Kimevil!" in welcome
    assert not any("\u202a" <= ch <= "\u202e" for ch in welcome)

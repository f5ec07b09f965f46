"""Real groups (issue 12): forum topics, anonymous admins, a removed bot, migrations, members
never heard from."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.app import Storage
from handlers.kernel.events import GROUP_ANONYMOUS_BOT_ID, Chat, ChatType, Event, EventKind, Person
from handlers.kernel.ports import ChatNotFound, ShiftedClock
from storage.coalition import group_store
from tests.conftest import COORDINATOR_ID
from tests.handlers.test_action_life import GROUP as ACTION_GROUP
from tests.handlers.test_action_life import meeting, people
from tests.handlers.test_polls import close_all, members
from tests.support.actions import engine_for
from tests.support.groups import CountingMessenger, Group, make_volunteer
from tests.support.recording import Conversation, Someone

TOPIC = 77


@pytest.fixture
def messenger() -> CountingMessenger:
    """A messenger that also counts edits and pins."""
    return CountingMessenger()


@pytest.fixture
def coral(conversation: Conversation) -> Someone:
    """A coordinator (from ADMIN_IDS)."""
    return conversation.person("Coral", user_id=COORDINATOR_ID)


@pytest.fixture
def group(conversation: Conversation) -> Group:
    """The coalition's supergroup (a forum)."""
    return Group(conversation)


async def test_a_vote_typed_in_a_topic_is_posted_and_closed_there(
    conversation: Conversation, group: Group, coral: Someone, clock: ShiftedClock
) -> None:
    (amira,) = await members(conversation, group, "Amira")
    await group.say(coral, "/poll", thread_id=TOPIC)
    assert group.last.thread_id == TOPIC  # the usage
    await group.say(coral, "/poll Venue? | Hall | Park | anonymous | in 1h", thread_id=TOPIC)
    live = group.find("Anonymous vote")
    assert live.thread_id == TOPIC
    await group.press(amira, "Hall")
    await close_all(conversation, clock, timedelta(hours=1, seconds=1))
    assert group.find("Result:").thread_id == TOPIC


async def test_a_native_poll_goes_to_the_topic(
    conversation: Conversation, group: Group, coral: Someone
) -> None:
    await members(conversation, group, "Amira")
    await group.say(coral, "/poll Venue? | Hall | Park | in 1h", thread_id=TOPIC)
    assert {m.thread_id for m in group.messages} == {TOPIC}


async def test_an_anonymous_admin_may_start_a_vote_but_not_what_needs_a_person(
    conversation: Conversation, group: Group, messenger: CountingMessenger
) -> None:
    hidden = conversation.person("Group", user_id=GROUP_ANONYMOUS_BOT_ID)
    hidden.person = Person(GROUP_ANONYMOUS_BOT_ID, "Group", is_bot=True)
    await group.say(hidden, "/poll Venue? | Hall | Park | in 1h", sender_chat=group.chat)
    assert group.find("Venue?")
    amira, omar = conversation.person("Amira"), conversation.person("Omar")
    messenger.members[(group.id, omar.person.id)] = "administrator"
    _, alert = await group.press(amira, "⏹ Close now")
    assert alert  # not an administrator of the group
    _, alert = await group.press(omar, "⏹ Close now")
    assert not alert and "Result:" in group.last.text
    await group.say(hidden, "/report", sender_chat=group.chat)
    assert "not by a person" in group.last.text
    await group.say(hidden, "/decisions csv", sender_chat=group.chat)
    assert "not by a person" in group.last.text


async def test_a_channel_may_not_start_a_vote(conversation: Conversation, group: Group) -> None:
    channel = Chat(-100_999, ChatType.CHANNEL, "News")
    sender = conversation.person("Channel", user_id=136817688)
    sender.person = Person(136817688, "Channel", is_bot=True)
    await group.say(sender, "/poll Venue? | Hall | Park | in 1h", sender_chat=channel)
    assert "News" in group.last.text and "not by a person" in group.last.text
    assert not [m for m in group.messages if "Venue?" in m.text and "/poll" not in m.text]


async def test_an_anonymous_admins_poll_answer_is_not_counted_and_they_are_told(
    conversation: Conversation, group: Group, coral: Someone
) -> None:
    await members(conversation, group, "Amira")
    await group.say(coral, "/poll Venue? | Hall | Park | in 1h")
    poll = next(m for m in group.messages if m.text == "Venue?")  # the native poll
    poll_id = f"poll{poll.message_id}"
    event = Event(
        conversation.next_update_id(),
        EventKind.POLL_ANSWER,
        Person(GROUP_ANONYMOUS_BOT_ID, "Group", is_bot=True),
        group.chat,
        poll_id=poll_id,
        option_ids=(0,),
        sender_chat=group.chat,
    )
    await conversation.dispatcher.feed(event)
    assert "anonymous admin" in group.last.text


async def bot_status(conversation: Conversation, group: Group, who: Someone, status: str) -> None:
    """Telegram tells the bot (my_chat_member) that `who` changed its status in the group."""
    event = Event(
        conversation.next_update_id(),
        EventKind.BOT_MEMBERSHIP,
        who.person,
        group.chat,
        member_status=status,
    )
    await conversation.dispatcher.feed(event)


async def test_removing_the_bot_pauses_votes_until_it_is_back(
    conversation: Conversation, group: Group, coral: Someone, clock: ShiftedClock
) -> None:
    (amira,) = await members(conversation, group, "Amira")
    await group.say(coral, "/poll Venue? | Hall | Park | anonymous | in 4h")
    shown = len(group.messages)
    await bot_status(conversation, group, coral, "kicked")
    assert "paused" in coral.last.text and "Venue?" in coral.last.text
    await close_all(conversation, clock, timedelta(hours=5))
    assert len(group.messages) == shown  # no result, no edit: the bot is not there
    assert not [m for m in amira.messages if "Venue?" in m.text]  # no reminder either
    await bot_status(conversation, group, coral, "administrator")
    assert "I am back" in coral.last.text
    await close_all(conversation, clock, timedelta(seconds=1))
    assert "Result:" in group.find("Venue?").text


async def test_a_migrated_groups_open_vote_is_posted_again_in_the_supergroup(
    conversation: Conversation, messenger: CountingMessenger, coral: Someone
) -> None:
    old = Group(conversation, chat_id=-4001)
    new = Group(conversation, chat_id=-100_4001)
    (amira,) = await members(conversation, old, "Amira")
    await old.say(coral, "/poll Venue? | Hall | Park | in 1h")
    await old.say(coral, "/poll Other? | A | B | anonymous | in 1h")
    migration = Event(
        conversation.next_update_id(),
        EventKind.MIGRATION,
        coral.person,
        old.chat,
        migrate_to_chat_id=new.id,
    )
    await conversation.dispatcher.feed(migration)
    assert [m.text for m in new.messages if m.text == "Venue?"]  # a new native poll
    assert new.find("Venue?").keyboard  # and its live results, buttons and all
    assert new.find("Other?").labels[:2] == ["A", "B"]
    await new.press(amira, "A")
    await conversation.dispatcher.services.edits.flush()
    assert "1 of" in new.find("Other?").text
    assert not any(m.edited for m in old.messages if "Other?" in m.text)


async def test_a_registered_member_never_seen_in_the_group_may_vote(
    conversation: Conversation, messenger: CountingMessenger, group: Group, coral: Someone
) -> None:
    amira, bilal = conversation.person("Amira"), conversation.person("Bilal")
    await make_volunteer(conversation, amira)
    await make_volunteer(conversation, bilal)
    await group.say(coral, "/poll Venue? | Hall | Park | in 1h")  # a native poll
    poll = next(m for m in group.messages if m.text == "Venue?")
    messenger.members[(group.id, amira.person.id)] = "member"  # as Telegram knows it
    messenger.members[(group.id, bilal.person.id)] = "left"
    await group.answer_poll(amira, f"poll{poll.message_id}", (0,))
    await group.answer_poll(bilal, f"poll{poll.message_id}", (1,))
    await conversation.dispatcher.services.edits.flush()
    live = group.find("Rule:")
    assert "Hall</b> — 1" in live.text and "Park</b> — 0" in live.text
    assert "not counted" in bilal.last.text


async def test_members_who_never_spoke_are_counted_as_eligible(
    conversation: Conversation, messenger: CountingMessenger, group: Group, coral: Someone
) -> None:
    people = [conversation.person(name) for name in ("Amira", "Bilal", "Chadi")]
    for someone in people:
        await make_volunteer(conversation, someone)
        messenger.members[(group.id, someone.person.id)] = "member"
    await group.say(coral, "/poll Venue? | Hall | Park | anonymous | in 1h")
    await conversation.dispatcher.services.edits.flush()
    assert "0 of 3 eligible members" in group.find("Venue?").text


async def test_an_actions_group_post_follows_a_migration_and_stops_for_a_removed_bot(
    conversation: Conversation,
    storage: Storage,
    clock: ShiftedClock,
    messenger: CountingMessenger,
) -> None:
    coordinator = conversation.person("Coral", user_id=COORDINATOR_ID)
    (going,) = await people(storage, conversation, 1)
    await meeting(coordinator, storage, clock)
    await engine_for(conversation.dispatcher.services).drain()
    old_post = messenger.chats[ACTION_GROUP][0]
    new = Group(conversation, chat_id=-100_1001)
    migration = Event(
        conversation.next_update_id(),
        EventKind.MIGRATION,
        coordinator.person,
        Chat(ACTION_GROUP, ChatType.GROUP, "Coalition"),
        migrate_to_chat_id=new.id,
    )
    await conversation.dispatcher.feed(migration)
    await engine_for(conversation.dispatcher.services).drain()
    (post,) = new.messages  # posted again in the supergroup
    assert "Vigil for survivors" in post.text
    await going.press("Going")
    await conversation.dispatcher.services.edits.flush()
    assert post.edited and not old_post.edited  # the new post follows; the old id is unused
    await bot_status(conversation, new, coordinator, "kicked")
    edits = messenger.edits[(new.id, post.message_id)]
    await going.press("Maybe")
    await conversation.dispatcher.services.edits.flush()
    await engine_for(conversation.dispatcher.services).drain()
    assert messenger.edits[(new.id, post.message_id)] == edits  # not written to any more


async def test_an_anonymous_admin_is_answered_in_the_groups_language(
    conversation: Conversation, group: Group, clock: ShiftedClock
) -> None:
    sessionmaker = conversation.dispatcher.services.sessionmaker
    async with sessionmaker() as session, session.begin():
        await group_store.joined(session, group.id, "Coalition", "supergroup", clock.now())
        await group_store.set_setting(session, group.id, "locale", "fr")
    hidden = conversation.person("Group", user_id=GROUP_ANONYMOUS_BOT_ID)
    hidden.person = Person(GROUP_ANONYMOUS_BOT_ID, "Group", is_bot=True)
    await group.say(hidden, "/report", sender_chat=group.chat)
    assert "pas par une personne" in group.last.text


async def test_a_lookup_telegram_cannot_answer_does_not_stop_the_others(
    conversation: Conversation,
    messenger: CountingMessenger,
    group: Group,
    coral: Someone,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ghost, amira = conversation.person("Ghost"), conversation.person("Amira")
    for someone in (ghost, amira):
        await make_volunteer(conversation, someone)
    messenger.members[(group.id, amira.person.id)] = "member"
    messenger.members[(group.id, 999_999)] = "member"  # someone unregistered
    asked = messenger.member_status

    async def status(chat_id: int, user_id: int) -> str:
        if user_id == ghost.person.id:
            raise ChatNotFound("Bad Request: user not found")
        return await asked(chat_id, user_id)

    monkeypatch.setattr(messenger, "member_status", status)
    await group.say(coral, "/poll Venue? | Hall | Park | anonymous | in 1h")
    await conversation.dispatcher.services.edits.flush()
    assert "0 of 1 eligible members" in group.find("Venue?").text  # Amira

"""Messages on behalf of chats (anonymous admins, channels) and non-text messages from people."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.types import ChatMemberAdministrator, ChatMemberOwner, InputPollOption
from telegram import Bot as PtbBot

from botapi_emulator import EmulatorState, RunningEmulator, SandboxClient, SandboxError
from botapi_emulator.models import CHANNEL_BOT_ID, GROUP_ANONYMOUS_BOT_ID, TELEGRAM_ID


async def test_an_anonymous_admin_writes_as_group_anonymous_bot(
    bot: Bot, sandbox: SandboxClient
) -> None:
    alice, bob = await sandbox.create_user("Alice"), await sandbox.create_user("Bob")
    group = await sandbox.create_group("Coalition", [alice, bob], type="supergroup")
    await group.make_anonymous(alice)

    shown = await alice.send("/poll Lunch?", chat=group)
    message = [u.message for u in await bot.get_updates() if u.message][-1]

    assert message.from_user is not None and message.from_user.id == GROUP_ANONYMOUS_BOT_ID
    assert message.from_user.is_bot and message.from_user.username == "GroupAnonymousBot"
    assert message.sender_chat is not None and message.sender_chat.id == group.id
    assert shown.anonymous and shown.sender_chat_id == group.id
    assert shown.from_id == GROUP_ANONYMOUS_BOT_ID
    member = await bot.get_chat_member(group.id, alice.id)
    assert member.status == "creator" and _anonymous(member)
    admins = await bot.get_chat_administrators(group.id)
    assert [(a.user.id, _anonymous(a)) for a in admins] == [(alice.id, True)]
    with pytest.raises(SandboxError, match="not an administrator"):
        await group.make_anonymous(bob)


async def test_an_anonymous_admin_votes_as_the_group(bot: Bot, sandbox: SandboxClient) -> None:
    alice, bob = await sandbox.create_user("Alice"), await sandbox.create_user("Bob")
    group = await sandbox.create_group("Coalition", [alice, bob], type="supergroup")
    await group.make_anonymous(alice)
    options: list[InputPollOption | str] = [InputPollOption(text="Yes"), InputPollOption(text="No")]
    poll = await bot.send_poll(group.id, "Lunch?", options, is_anonymous=False)
    shown = (await group.messages())[-1]
    assert shown.message_id == poll.message_id

    await alice.vote(shown, [0])
    await bob.vote(shown, [1])
    answers = [u.poll_answer for u in await bot.get_updates() if u.poll_answer]

    assert answers[0].voter_chat is not None and answers[0].voter_chat.id == group.id
    assert answers[0].user is None and answers[0].option_ids == [0]
    assert answers[1].user is not None and answers[1].user.id == bob.id
    assert answers[1].voter_chat is None


async def test_an_anonymous_administrator_and_back(
    bot: Bot, sandbox: SandboxClient, state: EmulatorState
) -> None:
    alice, bob = await sandbox.create_user("Alice"), await sandbox.create_user("Bob")
    group = await sandbox.create_group("Coalition", [alice], bot_admin=True)
    await group.add(bob, admin=True)
    await group.make_anonymous(bob)

    assert _anonymous(await bot.get_chat_member(group.id, bob.id))
    assert (await bob.send("anonymous", chat=group)).from_id == GROUP_ANONYMOUS_BOT_ID
    await group.make_anonymous(bob, anonymous=False)
    named = await bob.send("named", chat=group)
    assert named.from_id == bob.id and not named.anonymous
    assert not _anonymous(await bot.get_chat_member(group.id, bob.id))


async def test_a_linked_channel_posts_into_its_discussion_group(
    bot: Bot, sandbox: SandboxClient
) -> None:
    alice = await sandbox.create_user("Alice")
    group = await sandbox.create_group("Discussion", [alice], type="supergroup", bot_admin=True)
    channel = await sandbox.create_channel("News", alice, discussion_group=group)

    copy = await channel.post("Assembly on Friday")
    as_channel = await alice.send("Reply from the channel", chat=group, as_channel=channel)
    messages = [u.message for u in await bot.get_updates() if u.message]

    forwarded, written = messages[-2:]
    assert copy is not None and copy.sender_chat_id == channel.id
    assert forwarded.from_user is not None and forwarded.from_user.id == TELEGRAM_ID
    assert forwarded.sender_chat is not None and forwarded.sender_chat.id == channel.id
    assert forwarded.sender_chat.type == "channel"
    assert forwarded.is_automatic_forward and forwarded.text == "Assembly on Friday"
    assert forwarded.forward_origin is not None and forwarded.forward_origin.type == "channel"
    assert written.from_user is not None and written.from_user.id == CHANNEL_BOT_ID
    assert written.sender_chat is not None and written.sender_chat.id == channel.id
    assert not written.is_automatic_forward and as_channel.anonymous
    assert (await bot.get_chat(group.id)).linked_chat_id == channel.id
    await alice.send("Typed in the channel", chat=channel.id)
    copy_of_typed = [m for m in await group.messages() if m.text == "Typed in the channel"]
    assert copy_of_typed and copy_of_typed[0].raw["automatic_forward"]
    bob = await sandbox.create_user("Bob")
    await group.add(bob)
    with pytest.raises(SandboxError, match="cannot write as chat"):
        await bob.send("hi", chat=group, as_channel=channel)


async def test_people_send_every_kind_of_non_text_message(
    bot: Bot, sandbox: SandboxClient, state: EmulatorState
) -> None:
    alice, bob = await sandbox.create_user("Alice"), await sandbox.create_user("Bob")
    sent = [
        await alice.send_sticker("🎉"),
        await alice.send_photo(caption="The hall", width=2000, height=1000),
        await alice.send_location(48.8566, 2.3522),
        await alice.send_voice(7),
        await alice.send_contact("+33612345678", "Bob", user=bob),
        await alice.send_document("minutes.pdf", b"%PDF-1.4", caption="Minutes"),
    ]
    messages = [u.message for u in await bot.get_updates() if u.message]

    assert [m.media_kind for m in sent] == [
        "sticker",
        "photo",
        "location",
        "voice",
        "contact",
        "document",
    ]
    sticker, photo, location, voice, contact, document = messages
    assert sticker.sticker is not None and sticker.sticker.emoji == "🎉"
    assert sticker.sticker.type == "regular" and sticker.text is None
    assert photo.photo is not None and photo.caption == "The hall"
    assert [(p.width, p.height) for p in photo.photo] == [
        (90, 45),
        (320, 160),
        (800, 400),
        (1280, 640),
        (2000, 1000),
    ]
    assert location.location is not None
    assert (location.location.latitude, location.location.longitude) == (48.8566, 2.3522)
    assert voice.voice is not None and voice.voice.duration == 7
    assert voice.voice.mime_type == "audio/ogg"
    assert contact.contact is not None and contact.contact.user_id == bob.id
    assert contact.contact.phone_number == "+33612345678"
    assert document.document is not None and document.document.file_name == "minutes.pdf"
    assert document.document.mime_type == "application/pdf"
    file = await bot.get_file(document.document.file_id)
    assert file.file_path is not None
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None and downloaded.read() == b"%PDF-1.4"
    assert sent[1].caption == "The hall"
    assert sent[0].media == sticker.sticker.model_dump(exclude_none=True)


async def test_media_in_groups_follows_privacy_mode_and_topics(
    bot: Bot, sandbox: SandboxClient
) -> None:
    alice = await sandbox.create_user("Alice")
    group = await sandbox.create_group("Coalition", [alice])
    forum = await sandbox.create_group("Forum", [alice], forum=True, bot_admin=True)
    venue = await forum.create_topic("Venue")

    await alice.send_photo(chat=group)
    in_topic = await alice.send_location(1.5, 2.5, topic=venue)
    messages = [u.message for u in await bot.get_updates() if u.message]

    assert not any(m.photo for m in messages), "privacy mode hides plain group messages"
    assert messages[-1].location is not None and messages[-1].message_thread_id == venue.id
    assert in_topic.topic == "Venue"


async def test_bad_media_is_refused_by_the_control_api(sandbox: SandboxClient) -> None:
    alice = await sandbox.create_user("Alice")
    with pytest.raises(SandboxError, match="latitude"):
        await alice.send_location(91, 0)
    with pytest.raises(SandboxError, match="no caption"):
        await sandbox.post(
            "/control/messages", user_id=alice.id, sticker={"emoji": "x"}, caption="no"
        )
    with pytest.raises(SandboxError, match="not several"):
        await sandbox.post("/control/messages", user_id=alice.id, text="x", location={})


async def test_ptb_reads_non_text_messages_and_anonymous_senders(
    emulator: RunningEmulator, sandbox: SandboxClient
) -> None:
    alice = await sandbox.create_user("Alice")
    group = await sandbox.create_group("Coalition", [alice], type="supergroup", bot_admin=True)
    await group.make_anonymous(alice)
    await alice.send("/start", chat=group)
    await alice.send_voice(3)
    await alice.send_contact("+100", "Zed")

    async with PtbBot(emulator.token, base_url=f"{emulator.url}/bot") as ptb:
        messages = [u.message for u in await ptb.get_updates(timeout=0) if u.message]
        anonymous, voice, contact = messages[-3:]
        assert anonymous.sender_chat is not None and anonymous.sender_chat.id == group.id
        assert anonymous.from_user is not None
        assert anonymous.from_user.username == "GroupAnonymousBot"
        assert voice.voice is not None and voice.voice.file_id
        assert contact.contact is not None and contact.contact.first_name == "Zed"
        member = await ptb.get_chat_member(group.id, alice.id)
        assert member.is_anonymous  # type: ignore[attr-defined]


def _anonymous(member: object) -> bool:
    assert isinstance(member, ChatMemberOwner | ChatMemberAdministrator), member
    return member.is_anonymous

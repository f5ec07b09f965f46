"""Forum supergroups: topics, General, message_thread_id on both sides, as Telegram does."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import BufferedInputFile, InputPollOption, ReplyParameters
from telegram import Bot as PtbBot
from telegram.error import BadRequest

from botapi_emulator import EmulatorState, RunningEmulator, SandboxClient, SandboxError
from botapi_emulator.snapshot import dump, load
from tests.botapi_emulator.test_files import png


async def test_a_message_in_a_topic_carries_its_thread_and_general_has_none(
    bot: Bot, sandbox: SandboxClient
) -> None:
    alice = await sandbox.create_user("Alice")
    forum = await sandbox.create_group("Coalition", [alice], forum=True, bot_admin=True)
    venue = await forum.create_topic("Venue")

    in_topic = await alice.send("/poll Hall or Park?", topic=venue)
    in_general = await alice.send("/help", chat=forum)
    updates = [u.message for u in await bot.get_updates() if u.message]

    created, command, general = updates[-3:]
    assert created.forum_topic_created is not None and created.forum_topic_created.name == "Venue"
    assert created.message_thread_id == created.message_id == venue.id
    assert command.text == "/poll Hall or Park?" and command.chat.is_forum
    assert command.message_thread_id == venue.id and command.is_topic_message
    # Telegram shows a topic's message as a reply to the topic's first message.
    assert command.reply_to_message is not None
    assert command.reply_to_message.message_id == venue.id
    assert general.text == "/help"
    assert general.message_thread_id is None and not general.is_topic_message
    assert (in_topic.topic, in_topic.message_thread_id, in_topic.is_topic_message) == (
        "Venue",
        venue.id,
        True,
    )
    assert (in_general.topic, in_general.message_thread_id) == ("General", None)


async def test_the_bot_writes_into_a_topic_with_message_thread_id(
    bot: Bot, sandbox: SandboxClient, state: EmulatorState
) -> None:
    alice = await sandbox.create_user("Alice")
    forum = await sandbox.create_group("Coalition", [alice], forum=True, bot_admin=True)
    venue = await forum.create_topic("Venue")

    sent = await bot.send_message(forum.id, "Vote below", message_thread_id=venue.id)
    poll = await bot.send_poll(
        forum.id,
        "Where?",
        [InputPollOption(text="Hall"), InputPollOption(text="Park")],
        message_thread_id=venue.id,
    )
    document = await bot.send_document(
        forum.id,
        document=BufferedInputFile(b"a,b\n", "votes.csv"),
        message_thread_id=venue.id,
    )
    general = await bot.send_message(forum.id, "In General")

    assert sent.message_thread_id == venue.id and sent.is_topic_message
    assert poll.message_thread_id == venue.id and document.message_thread_id == venue.id
    assert general.message_thread_id is None
    shown = {m.message_id: m.topic for m in await forum.messages()}
    assert shown[sent.message_id] == shown[poll.message_id] == "Venue"
    assert shown[general.message_id] == "General"
    chat = await bot.get_chat(forum.id)
    assert chat.is_forum


async def test_a_reply_goes_to_the_replied_topic_and_general_replies_are_not_topics(
    bot: Bot, sandbox: SandboxClient
) -> None:
    alice = await sandbox.create_user("Alice")
    forum = await sandbox.create_group("Coalition", [alice], forum=True, bot_admin=True)
    venue = await forum.create_topic("Venue")
    asked = await alice.send("/poll Hall?", topic=venue)
    question = await alice.send("/help", chat=forum)

    answer = await bot.send_message(
        forum.id, "Here", reply_parameters=ReplyParameters(message_id=asked.message_id)
    )
    assert answer.message_thread_id == venue.id

    reply = await alice.send("/help again", chat=forum, reply_to=question)
    update = [u.message for u in await bot.get_updates() if u.message][-1]
    # In General a reply carries the id of its reply thread, which is no topic.
    assert reply.topic == "General"
    assert update.message_thread_id == question.message_id and not update.is_topic_message
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await bot.send_message(forum.id, "x", message_thread_id=update.message_thread_id)
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await bot.send_message(forum.id, "General is not thread 1", message_thread_id=1)


async def test_create_forum_topic_needs_a_forum_and_admin_rights(
    bot: Bot, sandbox: SandboxClient
) -> None:
    alice = await sandbox.create_user("Alice")
    forum = await sandbox.create_group("Forum", [alice], forum=True, bot_admin=True)
    plain = await sandbox.create_group("Plain", [alice], type="supergroup", bot_admin=True)
    member_only = await sandbox.create_group("Forum 2", [alice], forum=True)

    topic = await bot.create_forum_topic(forum.id, "Logistics")
    sent = await bot.send_message(forum.id, "Kick-off", message_thread_id=topic.message_thread_id)

    assert topic.name == "Logistics" and topic.icon_color == 7322096
    assert sent.is_topic_message
    assert [m.topic for m in await forum.messages()][-2:] == ["Logistics", "Logistics"]
    with pytest.raises(TelegramBadRequest, match="the chat is not a forum"):
        await bot.create_forum_topic(plain.id, "Logistics")
    with pytest.raises(TelegramBadRequest, match="not enough rights"):
        await bot.create_forum_topic(member_only.id, "Logistics")
    with pytest.raises(SandboxError, match="only a supergroup can be a forum"):
        await sandbox.post("/control/groups", title="x", member_ids=[alice.id], is_forum=True)


async def test_ptb_reads_and_writes_topics(
    emulator: RunningEmulator, sandbox: SandboxClient
) -> None:
    alice = await sandbox.create_user("Alice")
    forum = await sandbox.create_group("Coalition", [alice], forum=True, bot_admin=True)
    venue = await forum.create_topic("Venue")
    await alice.send("/poll Where?", topic=venue)

    async with PtbBot(emulator.token, base_url=f"{emulator.url}/bot") as ptb:
        updates = await ptb.get_updates(timeout=0)
        command = updates[-1].message
        assert command is not None and command.is_topic_message
        assert command.message_thread_id == venue.id
        reply = await command.reply_text("Noted")  # PTB passes the thread on by itself
        assert reply.message_thread_id == venue.id
        photo = await ptb.send_photo(forum.id, png(4, 3), message_thread_id=venue.id)
        assert photo.message_thread_id == venue.id
        with pytest.raises(BadRequest, match=r"(?i)message thread not found"):
            await ptb.send_message(forum.id, "x", message_thread_id=999)


async def test_topics_survive_a_snapshot(sandbox: SandboxClient, state: EmulatorState) -> None:
    alice = await sandbox.create_user("Alice")
    forum = await sandbox.create_group("Coalition", [alice], forum=True)
    venue = await forum.create_topic("Venue")
    await alice.send("hello", topic=venue)

    load(state, dump(state))

    assert state.chats[forum.id].topics[venue.id].name == "Venue"
    assert [m.topic for m in await forum.messages()][-1] == "Venue"

"""Telegram's harder cases: migration, a removed bot, stale buttons, UTF-16 limits, members."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramMigrateToChat
from aiogram.types import BufferedInputFile, InaccessibleMessage, InputPollOption, Message
from telegram import Bot as PtbBot
from telegram import InlineKeyboardButton as PtbButton
from telegram import InlineKeyboardMarkup as PtbMarkup
from telegram.error import BadRequest, Forbidden

from botapi_emulator import EmulatorState, RunningEmulator, SandboxClient, SandboxMessage
from botapi_emulator.models import User
from tests.botapi_emulator.test_messages import keyboard

OPTIONS: list[InputPollOption | str] = [InputPollOption(text="Hall"), InputPollOption(text="Park")]


def _later(state: EmulatorState, seconds: float) -> None:
    """Moves the emulator's clock forward."""
    base, before = state.now(), state.now
    state.now = lambda: before() + seconds
    assert state.now() >= base + seconds


# migration


async def test_migration_restarts_message_ids_and_old_ids_are_not_found(
    bot: Bot, sandbox: SandboxClient, state: EmulatorState
) -> None:
    alice = await sandbox.create_user("Alice")
    group = await sandbox.create_group("Coalition", [alice])
    await bot.send_message(group.id, "One")
    await bot.send_message(group.id, "Two")
    old_poll = await bot.send_poll(group.id, "Venue?", OPTIONS, is_anonymous=False)
    assert old_poll.message_id == 4  # after "group created" and two messages

    supergroup = await group.migrate()
    first = (await supergroup.messages())[0]
    assert first.message_id == 1 and "Upgraded from the group" in (first.service or "")
    old_chat = [m for m in await group.messages() if m.service][-1]
    assert old_chat.raw["service"]["migrate_to_chat_id"] == supergroup.id

    with pytest.raises(TelegramMigrateToChat) as caught:
        await bot.edit_message_text("Venue!", chat_id=group.id, message_id=old_poll.message_id)
    assert caught.value.migrate_to_chat_id == supergroup.id
    with pytest.raises(TelegramBadRequest, match="Bad Request: message to edit not found"):
        await bot.edit_message_text("x", chat_id=supergroup.id, message_id=old_poll.message_id)
    with pytest.raises(TelegramBadRequest, match="Bad Request: message to delete not found"):
        await bot.delete_message(supergroup.id, old_poll.message_id)
    with pytest.raises(TelegramBadRequest, match="message with poll to stop not found"):
        await bot.stop_poll(supergroup.id, old_poll.message_id)

    # Message ids are per chat: the old id now names another message of the supergroup.
    for text in ("A", "B", "C"):
        last = await bot.send_message(supergroup.id, text)
    assert last.message_id == old_poll.message_id
    with pytest.raises(TelegramBadRequest, match="Bad Request: "):
        await bot.stop_poll(supergroup.id, old_poll.message_id)

    # People still vote in the old poll: its updates name the old poll id.
    await alice.vote(await _message(sandbox, group.id, old_poll.message_id), [1])
    answers = [u.poll_answer for u in await bot.get_updates() if u.poll_answer]
    assert answers[-1].poll_id == old_poll.poll.id if old_poll.poll else False


async def _message(sandbox: SandboxClient, chat_id: int, message_id: int) -> SandboxMessage:
    view = await sandbox.chat(chat_id)
    return SandboxMessage.from_view(
        next(m for m in view["messages"] if m["message_id"] == message_id)
    )


# a removed bot


@pytest.mark.parametrize("kind", ["group", "supergroup"])
async def test_a_kicked_bot_is_told_so_and_gets_my_chat_member(
    bot: Bot, sandbox: SandboxClient, kind: str
) -> None:
    alice = await sandbox.create_user("Alice")
    group = await sandbox.create_group("Coalition", [alice], type=kind, bot_admin=True)
    await group.remove_bot(kicked=True)

    changes = [u.my_chat_member for u in await bot.get_updates() if u.my_chat_member]
    assert (changes[-1].old_chat_member.status, changes[-1].new_chat_member.status) == (
        "administrator",
        "kicked",
    )
    assert changes[-1].from_user.id == alice.id
    with pytest.raises(TelegramForbiddenError, match=f"bot was kicked from the {kind} chat"):
        await bot.send_message(group.id, "hello")
    with pytest.raises(TelegramForbiddenError, match=f"bot was kicked from the {kind} chat"):
        await bot.send_poll(group.id, "Still?", OPTIONS)

    await group.add_bot()
    changes = [u.my_chat_member for u in await bot.get_updates() if u.my_chat_member]
    assert (changes[-1].old_chat_member.status, changes[-1].new_chat_member.status) == (
        "kicked",
        "member",
    )
    assert (await bot.send_message(group.id, "back")).text == "back"


async def test_a_bot_that_left_is_not_a_member(
    bot: Bot, emulator: RunningEmulator, sandbox: SandboxClient
) -> None:
    alice = await sandbox.create_user("Alice")
    group = await sandbox.create_group("Coalition", [alice], type="supergroup")
    assert await bot.leave_chat(group.id)

    changes = [u.my_chat_member for u in await bot.get_updates() if u.my_chat_member]
    assert changes[-1].new_chat_member.status == "left"
    assert changes[-1].from_user.id == (await bot.get_me()).id
    async with PtbBot(emulator.token, base_url=f"{emulator.url}/bot") as ptb:
        with pytest.raises(Forbidden, match=r"(?i)bot is not a member of the supergroup chat"):
            await ptb.send_message(group.id, "hello")


async def test_private_chats_blocked_or_never_started(bot: Bot, sandbox: SandboxClient) -> None:
    alice, bob = await sandbox.create_user("Alice"), await sandbox.create_user("Bob")
    await alice.send("/start")
    await alice.block_bot()

    changes = [u.my_chat_member for u in await bot.get_updates() if u.my_chat_member]
    assert changes[-1].new_chat_member.status == "kicked"
    assert changes[-1].from_user.id == alice.id
    with pytest.raises(TelegramForbiddenError, match="Forbidden: bot was blocked by the user"):
        await bot.send_message(alice.id, "hello")
    with pytest.raises(
        TelegramForbiddenError, match="Forbidden: bot can't initiate conversation with a user"
    ):
        await bot.send_message(bob.id, "hello")


# stale buttons


async def test_a_press_on_a_deleted_or_old_message_carries_an_inaccessible_message(
    bot: Bot, state: EmulatorState, started_user: User
) -> None:
    user_id = started_user.id
    deleted = await bot.send_message(user_id, "Vote?", reply_markup=keyboard(("Yes", "y")))
    old = await bot.send_message(user_id, "Old", reply_markup=keyboard(("Yes", "y")))
    fresh = await bot.send_message(user_id, "New", reply_markup=keyboard(("Yes", "y")))
    await bot.delete_message(user_id, deleted.message_id)
    await bot.get_updates()

    state.press_button(user_id, user_id, deleted.message_id, data="y")
    _later(state, 48 * 3600 + 1)
    state.chats[user_id].messages[fresh.message_id].date = state.today()
    state.press_button(user_id, user_id, old.message_id, data="y")
    state.press_button(user_id, user_id, fresh.message_id, data="y")
    queries = [u.callback_query for u in await bot.get_updates(offset=-3) if u.callback_query]

    first, second, third = (q.message for q in queries)
    assert isinstance(first, InaccessibleMessage) and first.message_id == deleted.message_id
    assert isinstance(second, InaccessibleMessage) and second.date == 0
    assert isinstance(third, Message) and third.text == "New"


async def test_a_callback_query_expires(
    bot: Bot, emulator: RunningEmulator, state: EmulatorState, started_user: User
) -> None:
    user_id = started_user.id
    sent = await bot.send_message(user_id, "Vote?", reply_markup=keyboard(("Yes", "y")))
    early = state.press_button(user_id, user_id, sent.message_id, data="y")
    late = state.press_button(user_id, user_id, sent.message_id, data="y")
    await bot.get_updates()

    assert await bot.answer_callback_query(early.id, text="Counted")
    _later(state, 16)
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(late.id, text="Counted")
    async with PtbBot(emulator.token, base_url=f"{emulator.url}/bot") as ptb:
        with pytest.raises(BadRequest, match=r"(?i)query is too old"):
            await ptb.answer_callback_query(early.id)  # answered once already
        await ptb.send_message(
            user_id, "again", reply_markup=PtbMarkup([[PtbButton("Yes", callback_data="y")]])
        )


# UTF-16 limits


@pytest.mark.nonconforming
async def test_length_limits_count_utf16_units_after_parsing(
    bot: Bot, state: EmulatorState, started_user: User
) -> None:
    user_id = started_user.id
    fits = await bot.send_message(user_id, f"<b>{'😀' * 2048}</b>", parse_mode="HTML")
    assert fits.text == "😀" * 2048  # 4096 UTF-16 code units

    with pytest.raises(TelegramBadRequest, match="Bad Request: message is too long"):
        await bot.send_message(user_id, "😀" * 2048 + "x")
    photo = BufferedInputFile(_png(), "hall.png")
    sent = await bot.send_photo(user_id, photo, caption="é" * 1024)
    with pytest.raises(TelegramBadRequest, match="Bad Request: message caption is too long"):
        await bot.send_photo(
            user_id, sent.photo[-1].file_id if sent.photo else "", caption="😀" * 513
        )
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.edit_message_caption(
            chat_id=user_id, message_id=sent.message_id, caption="😀" * 512 + "x"
        )


def _png() -> bytes:
    from tests.botapi_emulator.test_files import png

    return png(2, 2)


# members


async def test_chat_member_updates_and_a_true_member_count(
    bot: Bot, sandbox: SandboxClient
) -> None:
    alice, bob, carol = [await sandbox.create_user(n) for n in ("Alice", "Bob", "Carol")]
    await bot.get_updates(allowed_updates=["message", "chat_member", "my_chat_member"])
    group = await sandbox.create_group("Coalition", [alice, bob], type="supergroup", bot_admin=True)
    assert await bot.get_chat_member_count(group.id) == 3  # Alice, Bob and the bot

    await carol.join(group)
    await bob.leave(group)
    await group.remove(carol, kicked=True)
    changes = [u.chat_member for u in await bot.get_updates() if u.chat_member]

    assert [
        (c.new_chat_member.user.id, c.old_chat_member.status, c.new_chat_member.status)
        for c in changes
    ] == [(carol.id, "left", "member"), (bob.id, "member", "left"), (carol.id, "member", "kicked")]
    assert changes[-1].from_user.id == alice.id
    assert await bot.get_chat_member_count(group.id) == 2
    assert (await bot.get_chat_member(group.id, bob.id)).status == "left"

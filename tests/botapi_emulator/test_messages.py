"""The real aiogram Bot sends, edits and deletes messages; errors come back as Telegram's."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNotFound,
    TelegramUnauthorizedError,
)
from aiogram.methods import GetMe
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from botapi_emulator import EmulatorState, RunningEmulator, fake_token
from botapi_emulator.models import User
from tests.botapi_emulator.helpers import make_bot


def keyboard(*buttons: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=label, callback_data=data)] for label, data in buttons
        ]
    )


async def test_get_me_describes_the_bot_from_the_token(bot: Bot, emulator: RunningEmulator) -> None:
    me = await bot.get_me()

    assert me.id == int(emulator.token.split(":")[0])
    assert me.is_bot and me.username == "chorus_sandbox_bot"
    assert me.can_join_groups is True and me.can_read_all_group_messages is False


async def test_send_message_with_buttons_shows_in_the_chat(
    bot: Bot, state: EmulatorState, started_user: User
) -> None:
    sent = await bot.send_message(
        started_user.id,
        "<b>Bienvenue</b>, Alice &amp; co",
        parse_mode="HTML",
        reply_markup=keyboard(("English", "lang:en"), ("Français", "lang:fr")),
    )

    assert sent.text == "Bienvenue, Alice & co"
    assert sent.entities is not None and sent.entities[0].type == "bold"
    assert sent.entities[0].offset == 0 and sent.entities[0].length == 9
    assert sent.chat.id == started_user.id and sent.from_user is not None and sent.from_user.is_bot
    stored = state.chats[started_user.id].messages[sent.message_id]
    assert stored.reply_markup == {
        "inline_keyboard": [
            [{"text": "English", "callback_data": "lang:en"}],
            [{"text": "Français", "callback_data": "lang:fr"}],
        ]
    }


async def test_entity_offsets_count_utf16_units(bot: Bot, started_user: User) -> None:
    sent = await bot.send_message(started_user.id, "👋 <i>salut</i>", parse_mode="HTML")

    assert sent.entities is not None
    assert (sent.entities[0].offset, sent.entities[0].length) == (3, 5)


@pytest.mark.parametrize(
    ("html", "description"),
    [
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<blink>x</blink>", 'Unsupported start tag "blink" at byte offset 0'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ('<span class="x">y</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("Tom & Jerry", 'Unescaped "&" at byte offset 4 (the sandbox requires &amp;)'),
    ],
)
async def test_bad_html_is_refused_like_telegram(
    bot: Bot, started_user: User, html: str, description: str
) -> None:
    with pytest.raises(TelegramBadRequest) as caught:
        await bot.send_message(started_user.id, html, parse_mode="HTML")

    assert caught.value.message == f"Bad Request: can't parse entities: {description}"


@pytest.mark.nonconforming
async def test_text_length_counts_after_entity_parsing(bot: Bot, started_user: User) -> None:
    fits = await bot.send_message(started_user.id, f"<b>{'x' * 4096}</b>", parse_mode="HTML")
    assert len(fits.text or "") == 4096

    with pytest.raises(TelegramBadRequest, match="Bad Request: message is too long"):
        await bot.send_message(started_user.id, "x" * 4097)
    with pytest.raises(TelegramBadRequest, match="Bad Request: message text is empty"):
        await bot.send_message(started_user.id, "")
    with pytest.raises(TelegramBadRequest, match="Bad Request: text must be non-empty"):
        await bot.send_message(started_user.id, "   ")


async def test_callback_data_over_64_bytes_is_refused(bot: Bot, started_user: User) -> None:
    await bot.send_message(started_user.id, "ok", reply_markup=keyboard(("A", "é" * 32)))

    with pytest.raises(TelegramBadRequest, match="Bad Request: BUTTON_DATA_INVALID"):
        await bot.send_message(started_user.id, "no", reply_markup=keyboard(("A", "é" * 32 + "x")))


async def test_url_buttons_need_a_public_http_url(bot: Bot, started_user: User) -> None:
    good = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Site", url="https://example.org/x")]]
    )
    await bot.send_message(started_user.id, "link", reply_markup=good)
    local = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Site", url="http://localhost:8080")]]
    )

    with pytest.raises(TelegramBadRequest, match="is invalid: Wrong HTTP URL"):
        await bot.send_message(started_user.id, "link", reply_markup=local)


async def test_reply_keyboards_are_kept_until_removed(
    bot: Bot, state: EmulatorState, started_user: User
) -> None:
    markup = ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text="Yes"), KeyboardButton(text="No")]])
    await bot.send_message(started_user.id, "Sure?", reply_markup=markup)
    assert state.chats[started_user.id].keyboard is not None

    await bot.send_message(started_user.id, "Thanks", reply_markup=ReplyKeyboardRemove())

    assert state.chats[started_user.id].keyboard is None


async def test_unknown_chat_and_unstarted_user(bot: Bot, state: EmulatorState) -> None:
    stranger = state.create_user("Bob")

    with pytest.raises(TelegramBadRequest, match="Bad Request: chat not found"):
        await bot.send_message(424242, "hello")
    with pytest.raises(
        TelegramForbiddenError, match="Forbidden: bot can't initiate conversation with a user"
    ):
        await bot.send_message(stranger.id, "hello")


async def test_blocked_user_answers_403(bot: Bot, state: EmulatorState, started_user: User) -> None:
    state.block_bot(started_user.id)

    with pytest.raises(TelegramForbiddenError, match="Forbidden: bot was blocked by the user"):
        await bot.send_message(started_user.id, "still there?")


async def test_migrated_group_answers_migrate_to_chat_id(bot: Bot, state: EmulatorState) -> None:
    alice = state.create_user("Alice")
    group = state.create_group("Coalition", [alice.id])
    supergroup = state.migrate(group.id)

    with pytest.raises(TelegramMigrateToChat) as caught:
        await bot.send_message(group.id, "hello")

    assert caught.value.migrate_to_chat_id == supergroup.id
    assert "group chat was upgraded to a supergroup chat" in caught.value.message
    sent = await bot.send_message(supergroup.id, "hello again")
    assert sent.chat.type == "supergroup" and str(supergroup.id).startswith("-100")


async def test_bot_removed_from_group_gets_403(bot: Bot, state: EmulatorState) -> None:
    alice = state.create_user("Alice")
    group = state.create_group("Coalition", [alice.id])
    state.remove_member(group.id, state.bot.id, kicked=True)

    with pytest.raises(TelegramForbiddenError, match="bot was kicked from the group chat"):
        await bot.send_message(group.id, "hello")


async def test_edit_text_and_markup(bot: Bot, state: EmulatorState, started_user: User) -> None:
    sent = await bot.send_message(started_user.id, "Vote?", reply_markup=keyboard(("Yes", "y")))

    edited = await bot.edit_message_text(
        "Vote? (1)",
        chat_id=started_user.id,
        message_id=sent.message_id,
        reply_markup=keyboard(("Yes", "y")),
    )
    assert not isinstance(edited, bool) and edited.edit_date is not None
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            "Vote? (1)",
            chat_id=started_user.id,
            message_id=sent.message_id,
            reply_markup=keyboard(("Yes", "y")),
        )

    await bot.edit_message_text("Closed", chat_id=started_user.id, message_id=sent.message_id)
    stored = state.chats[started_user.id].messages[sent.message_id]
    assert stored.text == "Closed" and stored.reply_markup is None
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=started_user.id, message_id=999)
    await bot.edit_message_reply_markup(
        chat_id=started_user.id, message_id=sent.message_id, reply_markup=keyboard(("Again", "a"))
    )
    assert stored.reply_markup == {"inline_keyboard": [[{"text": "Again", "callback_data": "a"}]]}


async def test_people_messages_cannot_be_edited(
    bot: Bot, state: EmulatorState, started_user: User
) -> None:
    with pytest.raises(TelegramBadRequest, match="message can't be edited"):
        await bot.edit_message_text("hacked", chat_id=started_user.id, message_id=1)


async def test_delete_message(bot: Bot, state: EmulatorState, started_user: User) -> None:
    sent = await bot.send_message(started_user.id, "oops")

    assert await bot.delete_message(started_user.id, sent.message_id) is True

    assert state.chats[started_user.id].messages[sent.message_id].deleted
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(started_user.id, sent.message_id)


async def test_commands_are_stored_per_scope_and_language(bot: Bot, state: EmulatorState) -> None:
    await bot.set_my_commands([BotCommand(command="start", description="Start")])
    await bot.set_my_commands(
        [BotCommand(command="poll", description="Sondage")],
        scope=BotCommandScopeAllGroupChats(),
        language_code="fr",
    )

    assert [c.command for c in await bot.get_my_commands()] == ["start"]
    french = await bot.get_my_commands(scope=BotCommandScopeAllGroupChats(), language_code="fr")
    assert [(c.command, c.description) for c in french] == [("poll", "Sondage")]
    assert await bot.get_my_commands(language_code="fr") == []
    await bot.delete_my_commands()
    assert await bot.get_my_commands() == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad Command", description="x")])


async def test_chat_info_members_and_pins(bot: Bot, state: EmulatorState) -> None:
    alice, bob = state.create_user("Alice"), state.create_user("Bob")
    group = state.create_group("Coalition", [alice.id, bob.id], bot_status="administrator")

    info = await bot.get_chat(group.id)
    assert info.title == "Coalition" and info.type == "group"
    assert (await bot.get_chat_member(group.id, alice.id)).status == "creator"
    assert (await bot.get_chat_member(group.id, bob.id)).status == "member"
    admins = await bot.get_chat_administrators(group.id)
    assert {a.user.id for a in admins} == {alice.id, state.bot.id}
    assert await bot.get_chat_member_count(group.id) == 3
    sent = await bot.send_message(group.id, "Agenda")
    assert await bot.pin_chat_message(group.id, sent.message_id)
    pinned = (await bot.get_chat(group.id)).pinned_message
    assert pinned is not None and pinned.message_id == sent.message_id
    assert await bot.unpin_chat_message(group.id)
    assert await bot.leave_chat(group.id)
    with pytest.raises(TelegramForbiddenError, match="bot is not a member of the group chat"):
        await bot.send_message(group.id, "bye")


async def test_wrong_token_and_unknown_method(unchecked_emulator: RunningEmulator) -> None:
    stranger = make_bot(unchecked_emulator, fake_token(987654321))
    known = make_bot(unchecked_emulator)

    class GetNothing(GetMe):
        __api_method__ = "getNothing"

    try:
        with pytest.raises(TelegramUnauthorizedError):
            await stranger.get_me()
        with pytest.raises(TelegramNotFound):
            await known(GetNothing())
    finally:
        await stranger.session.close()
        await known.session.close()

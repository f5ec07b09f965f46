"""The Bot API spec checker catches wrong requests and objects, and the emulator passes it."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiogram import Bot
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputPollOption,
)

from botapi_emulator import EmulatorState, RunningEmulator
from tests.support import bot_api_spec
from tests.support.bot_api_spec import require_spec


def test_checker_flags_wrong_requests() -> None:
    spec = require_spec()

    assert spec.check_request("sendMessage", {"chat_id": 1, "text": "hi"}) == []
    assert spec.check_request("SENDMESSAGE", {"chat_id": "@group", "text": "hi"}) == []
    assert spec.check_request("sendMesage", {}) == ["sendMesage: unknown method"]
    assert spec.check_request("sendMessage", {"chat_id": 1}) == [
        "sendMessage: missing required parameter text"
    ]
    assert spec.check_request("sendMessage", {"chat_id": 1, "text": "x", "colour": "red"}) == [
        "sendMessage: unknown parameter colour"
    ]
    assert spec.check_request("sendMessage", {"chat_id": 1, "text": 5}) == [
        "sendMessage.text: expected String, got 5"
    ]
    bad_button = {"inline_keyboard": [[{"callback_data": "x"}]]}
    problems = spec.check_request(
        "sendMessage", {"chat_id": 1, "text": "x", "reply_markup": bad_button}
    )
    assert any("inline_keyboard[0][0]: missing required field text" in p for p in problems)


def test_checker_decodes_form_strings() -> None:
    spec = require_spec()
    form = {
        "chat_id": "-1001234",
        "text": "x",
        "disable_notification": "true",
        "reply_markup": '{"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}',
    }

    assert spec.check_request("sendMessage", form) == []
    assert spec.check_request("sendMessage", {**form, "disable_notification": "yes"}) == [
        "sendMessage.disable_notification: expected Boolean, got 'yes'"
    ]
    assert (
        spec.check_request("getUpdates", {"offset": "12", "allowed_updates": '["message"]'}) == []
    )
    assert spec.check_request("getUpdates", {"offset": "twelve"}) != []


def test_checker_flags_wrong_objects() -> None:
    spec = require_spec()
    user = {"id": 1, "is_bot": False, "first_name": "Alice"}
    message = {"message_id": 1, "date": 1, "chat": {"id": 1, "type": "private"}, "from": user}

    assert spec.check_object("Message", message) == []
    assert spec.check_object("Message", {**message, "chat": {"id": 1}}) == [
        "Message.chat: missing required field type"
    ]
    assert spec.check_object("User", {**user, "nickname": "al"}) == ["User: unknown field nickname"]
    member = {"status": "owner", "user": user}
    problems = spec.check_object("ChatMember", member)
    assert problems and problems[0].startswith("ChatMember: matches no ChatMember subtype")
    assert spec.check_object("ChatMember", {"status": "left", "user": user}) == []
    inaccessible = {"chat": {"id": 1, "type": "private"}, "message_id": 1, "date": 0}
    assert spec.check_object("MaybeInaccessibleMessage", inaccessible) == []
    poll = {"id": "1", "question": "Q", "options": [{"text": "a", "voter_count": 0}]}
    problems = spec.check_object("Poll", poll)
    assert "Poll.options[0]: missing required field persistent_id" in problems
    assert "Poll: missing required field allows_revoting" in problems


def test_check_log_checks_results_against_the_return_type() -> None:
    spec = require_spec()
    log = [
        {"id": 1, "method": "getMe", "params": {}, "status": 200, "result": {"id": 1}},
        {"id": 2, "method": "sendMessage", "params": {"chat_id": 1}, "status": 400, "result": None},
    ]

    assert spec.check_log(log) == [
        "request #1 getMe result: missing required field is_bot",
        "request #1 getMe result: missing required field first_name",
        "request #2 sendMessage: missing required parameter text",
    ]


def test_a_missing_spec_skips_with_a_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(bot_api_spec.SPEC_ENV, str(tmp_path / "absent.json"))

    assert bot_api_spec.load_spec() is None
    with pytest.raises(pytest.skip.Exception, match="Bot API spec not found"):
        bot_api_spec.require_spec()


async def test_a_full_scenario_conforms(
    bot: Bot, emulator: RunningEmulator, state: EmulatorState
) -> None:
    spec = require_spec()
    alice, bob = state.create_user("Alice", language_code="fr"), state.create_user("Bob")
    state.send_text(alice.id, "/start")
    group = state.create_group("Coalition", [alice.id, bob.id], bot_status="administrator")
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Go", callback_data="go")]]
    )

    await bot.get_me()
    await bot.set_my_commands([BotCommand(command="start", description="Start")])
    await bot.get_my_commands()
    sent = await bot.send_message(alice.id, "<b>Hi</b>", parse_mode="HTML", reply_markup=markup)
    state.press_button(alice.id, alice.id, sent.message_id, label="Go")
    state.send_text(alice.id, "a reply", reply_to=sent.message_id)
    updates = await bot.get_updates(allowed_updates=[])
    query = next(u.callback_query for u in updates if u.callback_query)
    await bot.answer_callback_query(query.id, text="OK")
    await bot.edit_message_text(
        "Hi!", chat_id=alice.id, message_id=sent.message_id, reply_markup=markup
    )
    await bot.edit_message_reply_markup(chat_id=alice.id, message_id=sent.message_id)
    poll = await bot.send_poll(
        group.id,
        "Lunch?",
        [InputPollOption(text="Pizza"), InputPollOption(text="Soup")],
        is_anonymous=False,
    )
    state.vote(bob.id, [1], chat_id=group.id, message_id=poll.message_id)
    await bot.stop_poll(group.id, poll.message_id)
    document = await bot.send_document(alice.id, BufferedInputFile(b"x", filename="a.txt"))
    assert document.document is not None
    await bot.get_file(document.document.file_id)
    await bot.get_chat(group.id)
    await bot.get_chat(alice.id)
    await bot.get_chat_member(group.id, bob.id)
    await bot.get_chat_administrators(group.id)
    await bot.get_chat_member_count(group.id)
    await bot.pin_chat_message(group.id, poll.message_id)
    await bot.unpin_chat_message(group.id)
    await bot.set_chat_menu_button()
    await bot.send_chat_action(alice.id, "typing")
    await bot.delete_message(alice.id, sent.message_id)
    await bot.get_webhook_info()
    state.block_bot(alice.id)
    state.migrate(group.id)
    await bot.get_updates(offset=updates[-1].update_id + 1)

    log = list(emulator.state.request_log)
    assert spec.check_log(log) == []
    methods = {e["method"] for e in log}
    assert len(methods) >= 22 and all(e["status"] == 200 for e in log)
    kinds = {k for e in log if e["method"] == "getUpdates" for u in e["result"] for k in u}
    assert {"message", "callback_query", "poll", "poll_answer", "my_chat_member"} <= kinds

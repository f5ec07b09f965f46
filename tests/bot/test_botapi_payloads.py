"""The Bot API payloads: one keyboard serialiser, explicit parse modes, plain-text toasts."""

from __future__ import annotations

from typing import Any

from bot.botapi import BotApiMessenger, payloads
from handlers.kernel.i18n import translator
from handlers.kernel.ports import BotCommand, Button
from tests.support.bot_api_spec import check_request, require_spec


def test_neutral_rows_become_an_inline_keyboard() -> None:
    keyboard = [[Button("Yes", "x:1"), Button("Site", url="https://example.org")], [Button("?")]]
    assert payloads.reply_markup(keyboard) == {
        "inline_keyboard": [
            [
                {"text": "Yes", "callback_data": "x:1"},
                {"text": "Site", "url": "https://example.org"},
            ],
            [{"text": "?", "callback_data": ""}],
        ]
    }
    assert payloads.reply_markup([]) == {"inline_keyboard": []}
    assert payloads.reply_markup(None) is None
    assert "reply_markup" not in payloads.send_message(1, "hi").params
    assert "reply_markup" not in payloads.edit_keyboard(1, 2, None).params  # removes the buttons


def test_a_frozen_keyboard_is_converted_once_and_a_list_of_rows_each_time() -> None:
    """The outbox's keyboards (tuples, one per broadcast) share their markup; rows a handler
    built as lists may change between sends, so theirs is built afresh."""
    frozen = ((Button("Going", "rv:1:going"), Button("Maybe", "rv:1:maybe")),)
    markup = payloads.send_message(1, "hi", frozen).params["reply_markup"]
    assert payloads.send_message(2, "hi", frozen).params["reply_markup"] is markup
    rows = [[Button("A", "a")]]
    first = payloads.reply_markup(rows)
    rows[0].append(Button("B", "b"))
    assert first != payloads.reply_markup(rows)
    assert payloads.reply_markup((rows[0],)) == payloads.reply_markup(rows)


def test_texts_and_captions_are_html_and_poll_words_are_plain() -> None:
    assert payloads.send_message(1, "<b>x</b>").params["parse_mode"] == "HTML"
    assert payloads.edit_message(1, 2, "<b>x</b>", None).params["parse_mode"] == "HTML"
    document = payloads.send_document(1, "a.csv", b"x", "<b>Roster</b>")
    assert document.params == {"chat_id": 1, "caption": "<b>Roster</b>", "parse_mode": "HTML"}
    assert document.upload == payloads.Upload("document", "a.csv", b"x")
    poll = payloads.send_poll(1, "Budget under <500?", ["A & B"], False, True, None)
    assert poll.params["question"] == "Budget under <500?"
    assert poll.params["options"] == [{"text": "A & B"}]
    assert not {"parse_mode", "question_parse_mode"} & set(poll.params)
    assert "parse_mode" not in payloads.send_photo(1, "c.png", b"x", None).params


def test_a_toast_shows_the_translators_html_as_plain_text() -> None:
    toast = translator("en")("decisions.vote_recorded", option="R&D <first>")
    assert "&amp;" in toast  # the translator escapes for HTML…
    call = payloads.answer_button("q1", toast, False)
    assert call.params == {  # …the toast shows what was typed
        "callback_query_id": "q1",
        "text": "Vote recorded: R&D <first>",
        "show_alert": False,
    }
    assert payloads.plain_text("<b>Done</b> &lt;3") == "Done <3"
    assert payloads.answer_button("q2", None, False).params == {"callback_query_id": "q2"}


def test_command_menus_name_their_scope() -> None:
    commands = [BotCommand("help", "Aide")]
    private = payloads.set_commands(commands, language="fr", scope="private").params
    assert private["scope"] == {"type": "all_private_chats"} and private["language_code"] == "fr"
    one = payloads.set_commands(commands, chat_id=42).params
    assert one["scope"] == {"type": "chat", "chat_id": 42} and "language_code" not in one


def test_removing_a_member_bans_then_unbans_only_if_banned() -> None:
    ban, unban = payloads.ban_member(-100, 7), payloads.unban_member(-100, 7)
    assert (ban.method, ban.params) == ("banChatMember", {"chat_id": -100, "user_id": 7})
    assert unban.method == "unbanChatMember" and unban.params["only_if_banned"] is True
    require_spec()
    assert check_request(ban.method, ban.params) == []
    assert check_request(unban.method, unban.params) == []


async def test_the_messenger_removes_a_member_with_two_calls_in_order() -> None:
    calls: list[payloads.Call] = []

    class Recording:
        async def call(self, call: payloads.Call) -> Any:
            calls.append(call)
            return True

    await BotApiMessenger(Recording()).remove_member(-100, 7)
    assert [c.method for c in calls] == ["banChatMember", "unbanChatMember"]


def test_posts_in_a_forum_topic_name_it() -> None:
    calls = [
        payloads.send_message(-100, "hi", thread_id=7),
        payloads.send_poll(-100, "Q?", ["a", "b"], False, False, None, thread_id=7),
        payloads.send_document(-100, "x.csv", b"x", None, 7),
    ]
    assert all(call.params["message_thread_id"] == 7 for call in calls)
    assert "message_thread_id" not in payloads.send_message(-100, "hi").params
    for call in calls[:2]:
        assert check_request(call.method, call.params) == []

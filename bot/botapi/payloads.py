"""The Bot API request of each messenger port method, and the one keyboard serialiser.

A payload is plain JSON-ready data (`Call`): the runtimes post it as it is, so both send the
very same requests. Parse modes are always explicit: texts and captions are the translator's
HTML (`parse_mode` HTML), fitted to Telegram's limits (handlers/kernel/limits.py); poll
questions and options are people's own words and go with no parse mode, so `<` or `&` in
them is shown as typed; toasts are plain text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from handlers.kernel import limits
from handlers.kernel.ports import BotCommand, Keyboard

HTML = "HTML"
NO_PREVIEW = {"is_disabled": True}
MAX_POLL_DESCRIPTION = 1024  # sendPoll description, characters (Bot API 10.1)
SCOPES = {"default": "default", "private": "all_private_chats", "groups": "all_group_chats"}
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True, slots=True)
class Upload:
    """A file sent with a call, as multipart form data under `field`."""

    field: str
    filename: str
    content: bytes


@dataclass(frozen=True, slots=True)
class Call:
    """One Bot API request: the method and its JSON parameters (plus a file, if any)."""

    method: str
    params: dict[str, Any] = field(default_factory=dict)
    upload: Upload | None = None


def reply_markup(keyboard: Keyboard | None) -> dict[str, Any] | None:
    """The InlineKeyboardMarkup for neutral button rows (None: no markup at all).

    A button with a `url` is a link; any other sends its `data` (≤ 64 bytes) back. Rows of
    tuples (the outbox's keyboards: a broadcast's rows share one) are converted once and their
    markup shared: the payloads are read, never changed.
    """
    if keyboard is None:
        return None
    if type(keyboard) is tuple:
        try:
            return _frozen_markup(keyboard)
        except TypeError:  # rows that are lists: not hashable
            pass
    return _markup(keyboard)


@lru_cache(maxsize=256)
def _frozen_markup(keyboard: Keyboard) -> dict[str, Any]:
    return _markup(keyboard)


def _markup(keyboard: Keyboard) -> dict[str, Any]:
    rows = [
        [
            {"text": b.label, "url": b.url}
            if b.url is not None
            else {"text": b.label, "callback_data": b.data or ""}
            for b in row
        ]
        for row in keyboard
    ]
    return {"inline_keyboard": rows}


def plain_text(text: str) -> str:
    """The translator's HTML as plain text (for toasts): tags dropped, entities decoded."""
    return html.unescape(_TAG.sub("", text))


@lru_cache(maxsize=256)
def _fitted(text: str) -> str:
    """`text` fitted to a message (limits.shorten), once per text: a broadcast sends the same
    text to everyone, and measuring it as Telegram does (UTF-16 units of the visible text) cost
    a tenth of a broadcast message's CPU (profiled)."""
    return limits.shorten(text, limits.TEXT)


def _in_topic(params: dict[str, Any], thread_id: int | None) -> dict[str, Any]:
    """Adds message_thread_id: the forum topic to post in (None: General, or no forum)."""
    if thread_id is not None:
        params["message_thread_id"] = thread_id
    return params


def _with_markup(params: dict[str, Any], keyboard: Keyboard | None) -> dict[str, Any]:
    markup = reply_markup(keyboard)
    if markup is not None:
        params["reply_markup"] = markup
    return params


def send_message(
    chat_id: int,
    text: str,
    keyboard: Keyboard | None = None,
    *,
    paid: bool = False,
    thread_id: int | None = None,
) -> Call:
    """sendMessage: HTML text, no link preview; `paid` asks for a paid broadcast; in a forum,
    in topic `thread_id`."""
    params: dict[str, Any] = {
        "chat_id": chat_id,
        "text": _fitted(text),
        "parse_mode": HTML,
        "link_preview_options": NO_PREVIEW,
    }
    if paid:
        params["allow_paid_broadcast"] = True
    return Call("sendMessage", _with_markup(_in_topic(params, thread_id), keyboard))


def edit_message(chat_id: int, message_id: int, text: str, keyboard: Keyboard | None) -> Call:
    """editMessageText: new HTML text; the buttons become `keyboard` (None: none)."""
    params: dict[str, Any] = {
        "chat_id": chat_id,
        "message_id": message_id,
        "text": _fitted(text),
        "parse_mode": HTML,
        "link_preview_options": NO_PREVIEW,
    }
    return Call("editMessageText", _with_markup(params, keyboard))


def edit_keyboard(chat_id: int, message_id: int, keyboard: Keyboard | None) -> Call:
    """editMessageReplyMarkup: the buttons become `keyboard` (None: none)."""
    params: dict[str, Any] = {"chat_id": chat_id, "message_id": message_id}
    return Call("editMessageReplyMarkup", _with_markup(params, keyboard))


def delete_message(chat_id: int, message_id: int) -> Call:
    """deleteMessage."""
    return Call("deleteMessage", {"chat_id": chat_id, "message_id": message_id})


def answer_button(callback_id: str, text: str | None, alert: bool) -> Call:
    """answerCallbackQuery: the toast (or alert) is the plain-text rendering of `text`."""
    params: dict[str, Any] = {"callback_query_id": callback_id}
    if text:
        params["text"] = limits.cut(plain_text(text), limits.TOAST)
        params["show_alert"] = alert
    return Call("answerCallbackQuery", params)


def send_poll(
    chat_id: int,
    question: str,
    options: Sequence[str],
    anonymous: bool,
    multiple: bool,
    close: int | None,
    *,
    hide_results: bool = False,
    description: str | None = None,
    thread_id: int | None = None,
) -> Call:
    """sendPoll: question, options and description as plain text (no parse mode); `close` in
    seconds. Votes stay changeable until the close (`allows_revoting`); `hide_results` shows
    the counts (and, for a non-anonymous poll, the voters) only once the poll closes
    (`hide_results_until_closes`, Bot API 10.1); `description` is cut to 1024 characters."""
    params: dict[str, Any] = {
        "chat_id": chat_id,
        "question": question,
        "options": [{"text": option} for option in options],
        "is_anonymous": anonymous,
        "allows_multiple_answers": multiple,
        "allows_revoting": True,
    }
    if hide_results:
        params["hide_results_until_closes"] = True
    if description:
        params["description"] = limits.cut(description, MAX_POLL_DESCRIPTION)
    if close is not None:
        params["open_period"] = close
    return Call("sendPoll", _in_topic(params, thread_id))


def stop_poll(chat_id: int, message_id: int) -> Call:
    """stopPoll."""
    return Call("stopPoll", {"chat_id": chat_id, "message_id": message_id})


def _send_file(
    method: str,
    kind: str,
    chat_id: int,
    filename: str,
    content: bytes,
    caption: str | None,
    thread_id: int | None,
) -> Call:
    params: dict[str, Any] = _in_topic({"chat_id": chat_id}, thread_id)
    if caption:
        params["caption"] = limits.shorten(caption, limits.CAPTION)
        params["parse_mode"] = HTML
    return Call(method, params, Upload(kind, filename, content))


def send_document(
    chat_id: int,
    filename: str,
    content: bytes,
    caption: str | None,
    thread_id: int | None = None,
) -> Call:
    """sendDocument: the file as an upload, an HTML caption."""
    return _send_file("sendDocument", "document", chat_id, filename, content, caption, thread_id)


def send_photo(
    chat_id: int,
    filename: str,
    content: bytes,
    caption: str | None,
    thread_id: int | None = None,
) -> Call:
    """sendPhoto: the picture as an upload, an HTML caption."""
    return _send_file("sendPhoto", "photo", chat_id, filename, content, caption, thread_id)


def pin_message(chat_id: int, message_id: int) -> Call:
    """pinChatMessage, silently."""
    return Call(
        "pinChatMessage",
        {"chat_id": chat_id, "message_id": message_id, "disable_notification": True},
    )


def ban_member(chat_id: int, user_id: int) -> Call:
    """banChatMember: out of the group (their messages stay)."""
    return Call("banChatMember", {"chat_id": chat_id, "user_id": user_id})


def unban_member(chat_id: int, user_id: int) -> Call:
    """unbanChatMember, only if banned: free to join again, not added back."""
    return Call("unbanChatMember", {"chat_id": chat_id, "user_id": user_id, "only_if_banned": True})


def set_commands(
    commands: Sequence[BotCommand],
    *,
    language: str | None = None,
    chat_id: int | None = None,
    scope: str = "default",
) -> Call:
    """setMyCommands for one scope ("default", "private", "groups", or one chat) and language."""
    chosen = (
        {"type": "chat", "chat_id": chat_id} if chat_id is not None else {"type": SCOPES[scope]}
    )
    params: dict[str, Any] = {
        "commands": [{"command": c.command, "description": c.description} for c in commands],
        "scope": chosen,
    }
    if language:
        params["language_code"] = language
    return Call("setMyCommands", params)


def get_chat_member(chat_id: int, user_id: int) -> Call:
    """getChatMember."""
    return Call("getChatMember", {"chat_id": chat_id, "user_id": user_id})


def get_member_count(chat_id: int) -> Call:
    """getChatMemberCount."""
    return Call("getChatMemberCount", {"chat_id": chat_id})


def get_me() -> Call:
    """getMe."""
    return Call("getMe")

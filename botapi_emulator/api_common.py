"""Shared checks of the Bot API methods: chat resolution, write access, texts and replies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .entities import detect_entities, trim
from .errors import (
    BLOCKED,
    CANT_INITIATE,
    CHAT_NOT_FOUND,
    TEXT_EMPTY,
    TEXT_MUST_BE_NON_EMPTY,
    USER_DEACTIVATED,
    bad_request,
    forbidden,
    migrated,
)
from .formatting import HtmlError, parse_html, utf16_len
from .models import Chat, JsonDict, Message
from .params import as_bool, as_int, check_entities, parse_reply_markup
from .state import EmulatorState

Params = dict[str, Any]
Handler = Callable[[Params], Any]


class ApiBase:
    """Helpers every group of Bot API methods uses."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def handlers(self) -> dict[str, Handler]:
        """Returns the methods this class implements, by Bot API name."""
        raise NotImplementedError

    # chats

    def resolve_chat(self, value: Any) -> Chat:
        """Finds the chat a chat_id names; 400 for unknown or migrated chats."""
        if value is None or value == "":
            raise bad_request("chat_id is empty")
        chat: Chat | None = None
        if isinstance(value, bool):
            chat = None
        elif isinstance(value, int):
            chat = self.state.chats.get(value)
        elif isinstance(value, str) and value.startswith("@"):
            name = value[1:].lower()
            chat = next(
                (
                    c
                    for c in self.state.chats.values()
                    if c.type != "private" and (c.username or "").lower() == name
                ),
                None,
            )
        if chat is None:
            raise bad_request(CHAT_NOT_FOUND)
        if chat.migrated_to is not None:
            raise migrated(chat.migrated_to)
        return chat

    def check_write(self, chat: Chat) -> None:
        """Raises the 403 Telegram answers when the bot may not write in the chat."""
        state = self.state
        if chat.type == "private":
            user = state.users[chat.user_id or chat.id]
            if user.deactivated:
                raise forbidden(USER_DEACTIVATED)
            if chat.blocked:
                raise forbidden(BLOCKED)
            if not chat.started:
                raise forbidden(CANT_INITIATE)
            return
        status = state.bot_status(chat)
        if status == "kicked":
            raise forbidden(f"bot was kicked from the {chat.type} chat")
        if status == "left":
            raise forbidden(f"bot is not a member of the {chat.type} chat")

    def writable_chat(self, params: Params) -> Chat:
        """Resolves chat_id and checks that the bot may write there."""
        chat = self.resolve_chat(params.get("chat_id"))
        self.check_write(chat)
        return chat

    # texts

    def formatted(
        self,
        params: Params,
        key: str,
        *,
        mode_key: str = "parse_mode",
        entities_key: str = "entities",
        limit: int = 4096,
        too_long: str = "message is too long",
        detect: bool = True,
    ) -> tuple[str, list[JsonDict]]:
        """Parses a text parameter with its parse mode or entities, as Telegram stores it.

        The length limit counts UTF-16 code units of the text after entity parsing (markup does
        not count; an emoji outside the BMP counts 2), like the entity offsets Telegram uses.
        """
        raw = params.get(key)
        if raw is None or raw == "":
            raise bad_request(TEXT_EMPTY)
        if not isinstance(raw, str):
            raw = str(raw)
        text, entities = self._parse(raw, params.get(mode_key), params.get(entities_key))
        text, entities = trim(text, entities)
        if not text:
            raise bad_request(TEXT_MUST_BE_NON_EMPTY)
        if utf16_len(text) > limit:
            raise bad_request(too_long)
        return text, detect_entities(text, entities) if detect else entities

    def caption(self, params: Params) -> tuple[str | None, list[JsonDict]]:
        """Parses an optional caption (at most 1024 UTF-16 code units after entity parsing)."""
        raw = params.get("caption")
        if raw is None or raw == "":
            return None, []
        text, entities = self._parse(
            str(raw), params.get("parse_mode"), params.get("caption_entities")
        )
        text, entities = trim(text, entities)
        if utf16_len(text) > 1024:
            raise bad_request("message caption is too long")
        return (text, detect_entities(text, entities)) if text else (None, [])

    def _parse(self, raw: str, mode: Any, entities: Any) -> tuple[str, list[JsonDict]]:
        if mode:
            lowered = str(mode).lower()
            if lowered == "html":
                try:
                    return parse_html(raw, strict=self.state.strict_html, user_lookup=self._user)
                except HtmlError as error:
                    raise bad_request(f"can't parse entities: {error}") from None
            if lowered in ("markdown", "markdownv2"):
                return raw, []
            raise bad_request("unsupported parse_mode")
        if entities is not None:
            return raw, check_entities(entities, utf16_len(raw))
        return raw, []

    def _user(self, user_id: int) -> JsonDict | None:
        user = self.state.users.get(user_id)
        return user.to_api() if user else None

    # replies, markup and messages

    def reply_target(self, chat: Chat, params: Params) -> int | None:
        """Returns the message id the new message replies to, if any."""
        reply = params.get("reply_parameters")
        allow_missing = as_bool(params.get("allow_sending_without_reply"))
        if isinstance(reply, dict):
            if "message_id" not in reply:
                raise bad_request('can\'t find field "message_id"')
            message_id = as_int(reply["message_id"])
            allow_missing = as_bool(reply.get("allow_sending_without_reply"))
        elif params.get("reply_to_message_id") is not None:
            message_id = as_int(params["reply_to_message_id"])
        else:
            return None
        target = chat.messages.get(message_id)
        if target is None or target.deleted:
            if allow_missing:
                return None
            raise bad_request("message to be replied not found")
        return message_id

    def thread_target(self, chat: Chat, params: Params, reply_to: int | None) -> int | None:
        """Returns the forum topic a new message goes to (None: General, or not a forum).

        In a forum, message_thread_id must name a topic (General has none: 400 "message thread
        not found", tdlib/telegram-bot-api#798); without it a reply goes to the replied message's
        topic. Other chats ignore it.
        """
        if not chat.is_forum:
            return None
        if params.get("message_thread_id") is not None:
            thread_id = as_int(params["message_thread_id"])
            if thread_id not in chat.topics:
                raise bad_request("message thread not found")
            return thread_id
        if reply_to is not None:
            return chat.messages[reply_to].thread_id
        return None

    def new_bot_message(self, chat: Chat, params: Params, **fields: Any) -> Message:
        """Checks markup and reply, applies the rate limit and stores the bot's new message."""
        inline, keyboard = parse_reply_markup(params.get("reply_markup"))
        reply_to = self.reply_target(chat, params)
        thread_id = self.thread_target(chat, params, reply_to)
        self.state.limiter.acquire_send(
            chat.id, chat.type, as_bool(params.get("allow_paid_broadcast"))
        )
        message = self.state.add_message(
            chat,
            self.state.bot.id,
            reply_markup=inline,
            keyboard=keyboard,
            reply_to=reply_to,
            thread_id=thread_id,
            **fields,
        )
        if keyboard is not None:
            chat.keyboard = None if keyboard.get("remove_keyboard") else keyboard
        return message

    def own_message(self, chat: Chat, params: Params, not_found: str) -> Message:
        """Finds the bot's message named by message_id, for editing it."""
        if params.get("inline_message_id") is not None and params.get("message_id") is None:
            raise bad_request("MESSAGE_ID_INVALID")
        if params.get("message_id") is None:
            raise bad_request("message identifier is not specified")
        message = chat.messages.get(as_int(params["message_id"]))
        if message is None or message.deleted:
            raise bad_request(not_found)
        return message

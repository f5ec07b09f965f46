"""Bot API update objects (as JSON dicts) → the handlers' neutral events. Shared by runtimes."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

import orjson

from handlers.kernel.events import (
    GROUP_ANONYMOUS_BOT_ID,
    MEDIA_KINDS,
    Chat,
    ChatType,
    Event,
    EventKind,
    Person,
)

ALLOWED_UPDATES = ("message", "callback_query", "poll_answer", "my_chat_member", "chat_member")
ID_MOST = 2**63 - 1  # the largest id the database keeps (BIGINT: inbox.update_id, user ids)
_SURROGATE = re.compile("[\ud800-\udfff]")


class NotAnUpdate(ValueError):
    """A JSON object that is no Bot API Update Chorus can keep: its update_id is not an integer
    from 1 to ID_MOST."""


def storable_update(update: Mapping[str, Any]) -> Mapping[str, Any]:
    """The update as the inbox can keep it: `update` itself, or a copy in which each lone
    UTF-16 surrogate of its strings (keys too) is replaced by U+FFFD, since no database text
    nor Telegram call takes one, and each NaN or Infinity by null, which no JSON nor
    PostgreSQL json column takes (only a lenient JSON parser lets either through; a volunteer's
    message with one replaced character beats a lost one). Raises NotAnUpdate when update_id
    is not an integer from 1 to ID_MOST: Bot API, Update.update_id ("Integer", starting
    "from a certain positive number"), and the BIGINT column that keys the inbox."""
    update_id = update.get("update_id")
    if type(update_id) is not int or not 0 < update_id <= ID_MOST:
        raise NotAnUpdate(f"update_id {update_id!r} is not an integer from 1 to {ID_MOST}")
    try:
        dumped = orjson.dumps(update)  # refuses a lone surrogate; writes NaN as null
    except orjson.JSONEncodeError:
        mended: Mapping[str, Any] = _mended(update)
        return mended
    if b"null" in dumped and not _finite(update):  # the slower look, only when it may be one
        mended = _mended(update)
        return mended
    return update


def _finite(update: Mapping[str, Any]) -> bool:
    try:
        json.dumps(update, allow_nan=False)
    except ValueError:
        return False
    return True


def _mended(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {_mended(key): _mended(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_mended(item) for item in value]
    return value


def _id(value: Any) -> int:
    """A Telegram id (a person's, a chat's), or ValueError when the database cannot keep it."""
    number = int(value)
    if not -ID_MOST <= number <= ID_MOST:
        raise ValueError(f"id {number} does not fit a BIGINT")
    return number


def _person(raw: Mapping[str, Any]) -> Person:
    return Person(
        id=_id(raw["id"]),
        first_name=str(raw.get("first_name") or ""),
        last_name=raw.get("last_name"),
        username=raw.get("username"),
        language_code=raw.get("language_code"),
        is_bot=bool(raw.get("is_bot")),
    )


def _chat(raw: Mapping[str, Any]) -> Chat:
    try:
        kind = ChatType(raw.get("type", "private"))
    except ValueError:
        kind = ChatType.PRIVATE
    return Chat(id=_id(raw["id"]), type=kind, title=raw.get("title"))


def _topic(message: Mapping[str, Any]) -> int | None:
    """The forum topic a message belongs to (None: General, or not a forum). A reply thread
    outside forums also carries message_thread_id, without is_topic_message: not a topic."""
    thread = message.get("message_thread_id")
    return int(thread) if thread is not None and message.get("is_topic_message") else None


def _message_event(update_id: int, message: Mapping[str, Any]) -> Event | None:
    sender = message.get("from")
    if sender is None:
        return None
    chat = _chat(message["chat"])
    if "migrate_to_chat_id" in message:
        return Event(
            update_id,
            EventKind.MIGRATION,
            _person(sender),
            chat,
            migrate_to_chat_id=int(message["migrate_to_chat_id"]),
        )
    newcomers = [u for u in message.get("new_chat_members") or [] if not u.get("is_bot")]
    if newcomers and chat.is_group:
        # Telegram's service message: seen without admin rights (chat_member needs them). One
        # event per update: when several people are added at once, the first is welcomed.
        return Event(
            update_id, EventKind.MEMBERSHIP, _person(newcomers[0]), chat, member_status="member"
        )
    left = message.get("left_chat_member")
    if left is not None and chat.is_group and sender.get("is_bot") and sender["id"] != left["id"]:
        # "Bot removed X": the service message of a removal by a bot (Chorus's own, for /vanish)
        return Event(
            update_id,
            EventKind.REMOVED,
            _person(left),
            chat,
            message_id=int(message["message_id"]),
            by=_person(sender),
        )
    text = message.get("text")
    media: str | None = None
    if text is None:
        media = next((kind for kind in MEDIA_KINDS if kind in message), None)
        if media is None:
            return None  # a service message (pinned, title changed…): nothing to answer
    reply = message.get("reply_to_message") or {}
    reply_from = reply.get("from")
    return Event(
        update_id,
        EventKind.MESSAGE,
        _person(sender),
        chat,
        text=str(text) if text is not None else None,
        media=media,
        message_id=int(message["message_id"]),
        reply_to_user=_person(reply_from) if reply_from else None,
        thread_id=_topic(message),
        sender_chat=_chat(message["sender_chat"]) if message.get("sender_chat") else None,
    )


def event_from_update(update: Mapping[str, Any]) -> Event | None:
    """The neutral event for one update, or None for updates Chorus does not use. Raises
    ValueError, TypeError, KeyError or AttributeError for one it cannot read (a field missing
    or of the wrong type, an id the database cannot keep)."""
    update_id = int(update["update_id"])
    if "message" in update:
        return _message_event(update_id, update["message"])
    if "callback_query" in update:
        query = update["callback_query"]
        message = query.get("message") or {}
        chat_raw = message.get("chat") or {"id": query["from"]["id"], "type": "private"}
        return Event(
            update_id,
            EventKind.CALLBACK,
            _person(query["from"]),
            _chat(chat_raw),
            callback_id=str(query["id"]),
            data=query.get("data") or "",
            message_id=message.get("message_id"),
            thread_id=_topic(message),
        )
    if "poll_answer" in update:
        answer = update["poll_answer"]
        user = answer.get("user")
        voter_chat = answer.get("voter_chat")
        if user is None and voter_chat is not None:  # an anonymous admin, shown as the group
            group = _chat(voter_chat)
            return Event(
                update_id,
                EventKind.POLL_ANSWER,
                Person(GROUP_ANONYMOUS_BOT_ID, "Group", is_bot=True),
                group,
                poll_id=str(answer["poll_id"]),
                option_ids=tuple(int(i) for i in answer.get("option_ids", [])),
                sender_chat=group,
            )
        if user is None:
            return None
        return Event(
            update_id,
            EventKind.POLL_ANSWER,
            _person(user),
            Chat(id=int(user["id"]), type=ChatType.PRIVATE),
            poll_id=str(answer["poll_id"]),
            option_ids=tuple(int(i) for i in answer.get("option_ids", [])),
        )
    for key, kind in (
        ("my_chat_member", EventKind.BOT_MEMBERSHIP),
        ("chat_member", EventKind.MEMBERSHIP),
    ):
        if key in update:
            change = update[key]
            member = change["new_chat_member"]
            return Event(
                update_id,
                kind,
                _person(change["from"])
                if kind is EventKind.BOT_MEMBERSHIP
                else _person(member["user"]),
                _chat(change["chat"]),
                member_status=str(member.get("status")),
            )
    return None

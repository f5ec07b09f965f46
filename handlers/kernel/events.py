"""The neutral event a runtime hands to the handlers: who, where, what."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ChatType(StrEnum):
    """Telegram's chat types, as the handlers see them."""

    PRIVATE = "private"
    GROUP = "group"
    SUPERGROUP = "supergroup"
    CHANNEL = "channel"


class EventKind(StrEnum):
    """What happened."""

    MESSAGE = "message"
    CALLBACK = "callback"
    POLL_ANSWER = "poll_answer"
    BOT_MEMBERSHIP = "bot_membership"  # the bot was added to / removed from a chat, or blocked
    MEMBERSHIP = "membership"  # a person joined or left a group
    MIGRATION = "migration"  # a group became a supergroup
    REMOVED = "removed"  # Telegram's "X removed Y" in a group, by a bot (`by`): user is Y
    TIMER = "timer"  # a timer's moment came (data: the timer kind)


@dataclass(frozen=True, slots=True)
class Person:
    """A Telegram user."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False

    @property
    def full_name(self) -> str:
        """First and last name, as Telegram shows them."""
        return f"{self.first_name} {self.last_name}".strip() if self.last_name else self.first_name


@dataclass(frozen=True, slots=True)
class Chat:
    """A chat: private with one person, or a group."""

    id: int
    type: ChatType
    title: str | None = None

    @property
    def is_private(self) -> bool:
        """True for a one-to-one chat with the bot."""
        return self.type is ChatType.PRIVATE

    @property
    def is_group(self) -> bool:
        """True for groups and supergroups."""
        return self.type in (ChatType.GROUP, ChatType.SUPERGROUP)


@dataclass(frozen=True, slots=True)
class Event:
    """One update, framework-neutral."""

    update_id: int
    kind: EventKind
    user: Person
    chat: Chat
    text: str | None = None
    message_id: int | None = None
    callback_id: str | None = None
    data: str | None = None
    poll_id: str | None = None
    option_ids: tuple[int, ...] = field(default_factory=tuple)
    member_status: str | None = None  # for membership events: member, left, kicked, administrator
    migrate_to_chat_id: int | None = None
    reply_to_user: Person | None = None
    payload: Mapping[str, Any] | None = None  # a timer's payload
    thread_id: int | None = None  # the forum topic it was written in (None: General, no forum)
    sender_chat: Chat | None = None  # written on behalf of a chat: see `on_behalf`
    media: str | None = None  # a message with no text: what it holds (MEDIA_KINDS, or "other")
    by: Person | None = None  # a removal: who removed the person (the service message's sender)

    @property
    def from_bot(self) -> bool:
        """Sent by another bot (not a person, nor a chat: those come through bot accounts)."""
        return self.user.is_bot and self.sender_chat is None

    @property
    def on_behalf(self) -> str | None:
        """Who a message written on behalf of a chat stands for: ANONYMOUS_ADMIN (an admin of
        this group, hidden as the group), CHANNEL (a channel), or None (a person)."""
        if self.sender_chat is None:
            return None
        return ANONYMOUS_ADMIN if self.sender_chat.id == self.chat.id else CHANNEL


SYSTEM = Person(0, "Chorus", is_bot=False)
ANONYMOUS_ADMIN = "anonymous_admin"
CHANNEL = "channel"
GROUP_ANONYMOUS_BOT_ID = 1087968824  # Telegram's `from` of an anonymous admin's messages
# What a message without text can hold, as the Bot API names its field (the neutral event's
# `media`); anything else Telegram may add is "other".
MEDIA_KINDS = (
    "sticker",
    "photo",
    "video",
    "animation",
    "video_note",
    "voice",
    "audio",
    "location",
    "venue",
    "contact",
    "document",
    "poll",
    "dice",
)

"""The emulator's in-memory records: users, chats, members, messages, polls, files, queries."""

from __future__ import annotations

import asyncio
import unicodedata
from dataclasses import dataclass, field
from typing import Any

JsonDict = dict[str, Any]

ACTIVE_STATUSES = frozenset({"creator", "administrator", "member", "restricted"})
ADMIN_STATUSES = frozenset({"creator", "administrator"})
GROUP_ANONYMOUS_BOT_ID = 1087968824
CHANNEL_BOT_ID = 136817688
TELEGRAM_ID = 777000
TOPIC_COLORS = (7322096, 16766590, 13338331, 9367192, 16749490, 16478047)


def visible(text: str) -> str:
    """Returns text as a person reads it: without invisible format marks (RLM, ZWJ…), trimmed."""
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf").strip()


@dataclass
class User:
    """A Telegram account: a person made through the control API, or the bot itself."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False
    is_premium: bool = False
    deactivated: bool = False

    def to_api(self) -> JsonDict:
        """Returns the Bot API User object."""
        data: JsonDict = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code and not self.is_bot:
            data["language_code"] = self.language_code
        if self.is_premium:
            data["is_premium"] = True
        return data

    @property
    def full_name(self) -> str:
        """Returns first and last name joined."""
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name


@dataclass
class Member:
    """One user's standing in a chat."""

    user_id: int
    status: str
    until_date: int = 0
    is_anonymous: bool = False

    @property
    def active(self) -> bool:
        """True while the user belongs to the chat."""
        return self.status in ACTIVE_STATUSES


@dataclass
class Upload:
    """A file part received in a multipart request."""

    filename: str
    content_type: str
    data: bytes

    def log_repr(self) -> JsonDict:
        """Returns how the request log shows this upload."""
        return {
            "input_file": self.filename,
            "content_type": self.content_type,
            "size": len(self.data),
        }


@dataclass
class StoredFile:
    """A file the bot uploaded, kept so the control API can serve it."""

    file_id: str
    file_unique_id: str
    data: bytes
    file_name: str | None
    mime_type: str | None
    file_path: str
    width: int = 0
    height: int = 0


@dataclass
class Message:
    """A message as stored in a chat; serialised on demand by World.message_api."""

    message_id: int
    chat_id: int
    from_id: int
    date: int
    text: str | None = None
    entities: list[JsonDict] = field(default_factory=list)
    caption: str | None = None
    caption_entities: list[JsonDict] = field(default_factory=list)
    reply_markup: JsonDict | None = None
    keyboard: JsonDict | None = None
    link_preview_options: JsonDict | None = None
    edit_date: int | None = None
    poll_id: str | None = None
    document_id: str | None = None
    photo_id: str | None = None
    service: JsonDict = field(default_factory=dict)
    media: JsonDict = field(default_factory=dict)
    thread_id: int | None = None
    sender_chat_id: int | None = None
    forward_origin: JsonDict | None = None
    reply_to: int | None = None
    deleted: bool = False
    pinned: bool = False
    version: int = 0


@dataclass
class Poll:
    """A poll the bot sent, with every voter's current choice."""

    id: str
    chat_id: int
    message_id: int
    question: str
    options: list[str]
    question_entities: list[JsonDict] = field(default_factory=list)
    is_anonymous: bool = True
    type: str = "regular"
    allows_multiple_answers: bool = False
    allows_revoting: bool = True
    correct_option_ids: list[int] = field(default_factory=list)
    explanation: str | None = None
    open_period: int | None = None
    close_date: int | None = None
    is_closed: bool = False
    votes: dict[int, tuple[int, ...]] = field(default_factory=dict)
    hide_results_until_closes: bool = False  # Bot API 10.1: counts and voters shown at the close
    description: str | None = None  # Bot API 10.1: 0-1024 characters, under the question

    @property
    def results_hidden(self) -> bool:
        """Whether the chat shows no counts and no voters yet (hidden until the poll closes)."""
        return self.hide_results_until_closes and not self.is_closed

    def counts(self) -> list[int]:
        """Returns the number of voters for each option."""
        counts = [0] * len(self.options)
        for choice in self.votes.values():
            for index in choice:
                counts[index] += 1
        return counts

    def to_api(self) -> JsonDict:
        """Returns the Bot API Poll object."""
        counts = self.counts()
        data: JsonDict = {
            "id": self.id,
            "question": self.question,
            "options": [
                {"persistent_id": str(i), "text": text, "voter_count": counts[i]}
                for i, text in enumerate(self.options)
            ],
            "total_voter_count": sum(1 for choice in self.votes.values() if choice),
            "is_closed": self.is_closed,
            "is_anonymous": self.is_anonymous,
            "type": self.type,
            "allows_multiple_answers": self.allows_multiple_answers,
            "allows_revoting": self.allows_revoting,
            "members_only": False,
        }
        if self.question_entities:
            data["question_entities"] = self.question_entities
        if self.type == "quiz" and self.correct_option_ids:
            data["correct_option_ids"] = list(self.correct_option_ids)
            if self.explanation:
                data["explanation"] = self.explanation
        if self.open_period is not None:
            data["open_period"] = self.open_period
        if self.close_date is not None:
            data["close_date"] = self.close_date
        if self.description:
            data["description"] = self.description
        return data


@dataclass
class CallbackQuery:
    """A button press and, once the bot calls answerCallbackQuery, its answer."""

    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    delivered: float | None = None
    answer: JsonDict | None = None
    answered: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Topic:
    """A forum topic; its id is the id of the forum_topic_created message that opened it."""

    id: int
    name: str
    icon_color: int = TOPIC_COLORS[0]

    def to_api(self) -> JsonDict:
        """Returns the Bot API ForumTopic object."""
        return {"message_thread_id": self.id, "name": self.name, "icon_color": self.icon_color}


@dataclass
class Chat:
    """A private chat, group or supergroup with its members and messages."""

    id: int
    type: str
    chat_instance: str
    title: str | None = None
    username: str | None = None
    user_id: int | None = None
    members: dict[int, Member] = field(default_factory=dict)
    messages: dict[int, Message] = field(default_factory=dict)
    next_message_id: int = 1
    version: int = 0
    started: bool = False
    blocked: bool = False
    migrated_to: int | None = None
    migrated_from: int | None = None
    is_forum: bool = False
    topics: dict[int, Topic] = field(default_factory=dict)
    linked_chat_id: int | None = None
    keyboard: JsonDict | None = None
    menu_button: JsonDict | None = None
    answers: list[JsonDict] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def status_of(self, user_id: int) -> str:
        """Returns the user's membership status ("left" when unknown)."""
        member = self.members.get(user_id)
        return member.status if member else "left"

    def live_messages(self) -> list[Message]:
        """Returns the messages not deleted, oldest first."""
        return [m for m in self.messages.values() if not m.deleted]

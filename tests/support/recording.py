"""A messenger that records what each chat shows, and people who talk to the handlers."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from handlers.kernel.dispatch import Dispatcher
from handlers.kernel.events import Chat, ChatType, Event, EventKind, Person
from handlers.kernel.ports import BadRequest, BotCommand, Keyboard, SentMessage


@dataclass
class Shown:
    """A message as a chat shows it."""

    chat_id: int
    message_id: int
    text: str
    keyboard: list[list[tuple[str, str]]] = field(default_factory=list)
    edited: bool = False
    document: tuple[str, bytes] | None = None
    thread_id: int | None = None  # the forum topic it was posted in

    @property
    def labels(self) -> list[str]:
        """Every button label."""
        return [label for row in self.keyboard for label, _ in row]


def _rows(keyboard: Keyboard | None) -> list[list[tuple[str, str]]]:
    if keyboard is None:
        return []
    return [[(b.label, b.data or b.url or "") for b in row] for row in keyboard]


class RecordingMessenger:
    """The messenger port, in memory: chats, messages, button answers, command menus."""

    def __init__(self) -> None:
        self.chats: dict[int, list[Shown]] = {}
        self.answers: list[tuple[str, str | None, bool]] = []
        self.polls: dict[int, dict[str, object]] = {}  # message id: the poll's settings
        self.commands: dict[tuple[str, str | None, int | None], list[BotCommand]] = {}
        self.removed: list[tuple[int, int]] = []  # (group, person) removed from groups
        self.not_admin: set[int] = set()  # groups where the bot may not remove anyone
        self.members: dict[tuple[int, int], str] = {}  # (group, person): status per Telegram
        self._ids = itertools.count(1)

    def _find(self, chat_id: int, message_id: int) -> Shown:
        for shown in self.chats.get(chat_id, []):
            if shown.message_id == message_id:
                return shown
        raise LookupError(f"no message {message_id} in chat {chat_id}")

    async def send_message(
        self,
        chat_id: int,
        text: str,
        keyboard: Keyboard | None = None,
        *,
        thread_id: int | None = None,
    ) -> SentMessage:
        shown = Shown(chat_id, next(self._ids), text, _rows(keyboard), thread_id=thread_id)
        self.chats.setdefault(chat_id, []).append(shown)
        return SentMessage(chat_id, shown.message_id)

    async def edit_message(
        self, chat_id: int, message_id: int, text: str, keyboard: Keyboard | None = None
    ) -> None:
        shown = self._find(chat_id, message_id)
        shown.text, shown.keyboard, shown.edited = text, _rows(keyboard), True

    async def edit_keyboard(self, chat_id: int, message_id: int, keyboard: Keyboard | None) -> None:
        shown = self._find(chat_id, message_id)
        shown.keyboard, shown.edited = _rows(keyboard), True

    async def delete_message(self, chat_id: int, message_id: int) -> None:
        self.chats[chat_id].remove(self._find(chat_id, message_id))

    async def answer_button(
        self, callback_id: str, text: str | None = None, alert: bool = False
    ) -> None:
        self.answers.append((callback_id, text, alert))

    async def send_poll(
        self,
        chat_id: int,
        question: str,
        options: Sequence[str],
        *,
        anonymous: bool,
        multiple: bool,
        close_in_seconds: int | None = None,
        hide_results: bool = False,
        description: str | None = None,
        thread_id: int | None = None,
    ) -> SentMessage:
        rows = [[(o, "") for o in options]]
        shown = Shown(chat_id, next(self._ids), question, rows, thread_id=thread_id)
        self.polls[shown.message_id] = {"hide_results": hide_results, "description": description}
        self.chats.setdefault(chat_id, []).append(shown)
        return SentMessage(chat_id, shown.message_id, poll_id=f"poll{shown.message_id}")

    async def stop_poll(self, chat_id: int, message_id: int) -> None:
        self._find(chat_id, message_id).edited = True

    async def send_document(
        self,
        chat_id: int,
        filename: str,
        content: bytes,
        caption: str | None = None,
        *,
        thread_id: int | None = None,
    ) -> SentMessage:
        shown = Shown(
            chat_id,
            next(self._ids),
            caption or "",
            document=(filename, content),
            thread_id=thread_id,
        )
        self.chats.setdefault(chat_id, []).append(shown)
        return SentMessage(chat_id, shown.message_id)

    send_photo = send_document

    async def pin_message(self, chat_id: int, message_id: int) -> None:
        self._find(chat_id, message_id)

    async def remove_member(self, chat_id: int, user_id: int) -> None:
        if chat_id in self.not_admin:
            raise BadRequest("Bad Request: not enough rights to restrict/unrestrict chat member")
        self.removed.append((chat_id, user_id))

    async def member_status(self, chat_id: int, user_id: int) -> str:
        return self.members.get((chat_id, user_id), "left")

    async def member_count(self, chat_id: int) -> int:
        return 1 + sum(
            1
            for (chat, _), status in self.members.items()
            if chat == chat_id and status not in ("left", "kicked")
        )

    async def set_commands(
        self,
        commands: Sequence[BotCommand],
        *,
        language: str | None = None,
        chat_id: int | None = None,
        scope: str = "default",
    ) -> None:
        self.commands[(scope, language, chat_id)] = list(commands)


class Conversation:
    """Feeds events to a dispatcher as people would, numbering the updates."""

    def __init__(self, dispatcher: Dispatcher, messenger: RecordingMessenger) -> None:
        self.dispatcher = dispatcher
        self.messenger = messenger
        self._update_ids = itertools.count(1)
        self._user_ids = itertools.count(1001)
        self._callback_ids = itertools.count(1)

    def person(
        self, first_name: str = "Alex", *, language_code: str | None = "en", user_id: int = 0
    ) -> Someone:
        """A new person with a private chat with the bot."""
        ident = user_id or next(self._user_ids)
        return Someone(self, Person(ident, first_name, language_code=language_code))

    def next_update_id(self) -> int:
        """A fresh update id."""
        return next(self._update_ids)

    def next_callback_id(self) -> str:
        """A fresh callback query id."""
        return str(next(self._callback_ids))


class Someone:
    """One person: sends text, presses buttons by label, reads their private chat."""

    def __init__(self, conversation: Conversation, person: Person) -> None:
        self.conversation = conversation
        self.person = person
        self.chat = Chat(person.id, ChatType.PRIVATE)

    @property
    def messages(self) -> list[Shown]:
        """What their private chat with the bot shows."""
        return self.conversation.messenger.chats.get(self.chat.id, [])

    @property
    def last(self) -> Shown:
        """The latest message in their private chat."""
        return self.messages[-1]

    def texts_since(self, count: int) -> list[str]:
        """Texts of the messages after the first `count`."""
        return [m.text for m in self.messages[count:]]

    async def send(self, text: str, *, update_id: int | None = None) -> Event:
        """Types a message in the private chat."""
        event = Event(
            update_id or self.conversation.next_update_id(),
            EventKind.MESSAGE,
            self.person,
            self.chat,
            text=text,
            message_id=10_000 + len(self.messages),
        )
        await self.conversation.dispatcher.feed(event)
        return event

    async def send_media(self, media: str, *, update_id: int | None = None) -> Event:
        """Sends a message without text (a sticker, a photo…: `media` as the Bot API names it)."""
        event = Event(
            update_id or self.conversation.next_update_id(),
            EventKind.MESSAGE,
            self.person,
            self.chat,
            media=media,
            message_id=10_000 + len(self.messages),
        )
        await self.conversation.dispatcher.feed(event)
        return event

    async def press(self, label: str) -> tuple[str | None, bool]:
        """Presses the newest button with that label; returns the answer (toast, alert)."""
        for shown in reversed(self.messages):
            for row in shown.keyboard:
                for text, data in row:
                    if text == label or text.endswith(" " + label):
                        return await self.press_data(shown.message_id, data)
        raise LookupError(f"no button {label!r}; last message: {self.last.text!r}")

    async def press_data(
        self, message_id: int, data: str, *, update_id: int | None = None
    ) -> tuple[str | None, bool]:
        """Presses a button with raw data (which may be forged)."""
        callback_id = self.conversation.next_callback_id()
        event = Event(
            update_id or self.conversation.next_update_id(),
            EventKind.CALLBACK,
            self.person,
            self.chat,
            callback_id=callback_id,
            data=data,
            message_id=message_id,
        )
        await self.conversation.dispatcher.feed(event)
        for answered_id, text, alert in self.conversation.messenger.answers:
            if answered_id == callback_id:
                return text, alert
        raise AssertionError(f"button {data!r} was never answered")

"""Group chats for handler tests: members who speak, press buttons and answer native polls."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from handlers.kernel.events import Chat, ChatType, Event, EventKind
from handlers.kernel.ports import Keyboard
from storage.coalition import group_store, organisation_store
from storage.people import volunteers
from tests.support.recording import Conversation, RecordingMessenger, Shown, Someone

SUPERGROUP_ID = -100_123_456_7890


class CountingMessenger(RecordingMessenger):
    """The recording messenger, also counting edits and pins per message, and polls stopped."""

    def __init__(self) -> None:
        super().__init__()
        self.edits: Counter[tuple[int, int]] = Counter()
        self.pinned: list[tuple[int, int]] = []
        self.stopped: list[tuple[int, int]] = []

    async def edit_message(
        self, chat_id: int, message_id: int, text: str, keyboard: Keyboard | None = None
    ) -> None:
        self.edits[(chat_id, message_id)] += 1
        await super().edit_message(chat_id, message_id, text, keyboard)

    async def pin_message(self, chat_id: int, message_id: int) -> None:
        self.pinned.append((chat_id, message_id))

    async def stop_poll(self, chat_id: int, message_id: int) -> None:
        self.stopped.append((chat_id, message_id))
        await super().stop_poll(chat_id, message_id)


async def make_volunteer(
    conversation: Conversation,
    someone: Someone,
    *,
    kind: str = "individual",
    org_name: str | None = None,
    discreet: bool = False,
    status: str = "active",
    language: str = "en",
    timezone: str = "UTC",
    org_role: str = organisation_store.ALTERNATE,
    org_status: str = organisation_store.APPROVED,
) -> None:
    """Registers a person directly in storage, with sensible defaults (an organisation's first
    registrant its representative, later ones approved alternates unless told otherwise)."""
    now = datetime.now(UTC)
    profile: dict[str, Any] = {
        "kind": kind,
        "display_name": someone.person.first_name,
        "org_name": org_name,
        "country": "LB",
        "language": language,
        "timezone": timezone,
        "discreet": discreet,
    }
    sessionmaker = conversation.dispatcher.services.sessionmaker
    async with sessionmaker() as session, session.begin():
        volunteer = await volunteers.register(
            session,
            someone.person.id,
            profile,
            pledge_accepted_at=now,
            consent_given_at=now,
            status=status,
            now=now,
        )
        if org_name:  # the organisation's representative, or an approved alternate
            await organisation_store.join_or_found(
                session, volunteer, org_name, now, role=org_role, status=org_status
            )


class Group:
    """A group chat: people speak in it, press its buttons and answer its polls."""

    def __init__(
        self, conversation: Conversation, chat_id: int = SUPERGROUP_ID, title: str = "Coalition"
    ) -> None:
        self.conversation = conversation
        self.chat = Chat(
            chat_id,
            ChatType.SUPERGROUP if str(chat_id).startswith("-100") else ChatType.GROUP,
            title,
        )

    @property
    def id(self) -> int:
        """The group's chat id."""
        return self.chat.id

    @property
    def messages(self) -> list[Shown]:
        """What the group shows."""
        return self.conversation.messenger.chats.get(self.chat.id, [])

    @property
    def last(self) -> Shown:
        """The newest message in the group."""
        return self.messages[-1]

    def find(self, fragment: str) -> Shown:
        """The newest message containing `fragment`."""
        for shown in reversed(self.messages):
            if fragment in shown.text:
                return shown
        raise LookupError(f"no message with {fragment!r} in {[m.text for m in self.messages]}")

    async def join(self, *people: Someone) -> None:
        """People join the group (Telegram's chat_member update)."""
        sessionmaker = self.conversation.dispatcher.services.sessionmaker
        async with sessionmaker() as session, session.begin():
            for someone in people:
                await group_store.seen(
                    session,
                    self.id,
                    self.chat.title or "",
                    self.chat.type.value,
                    someone.person.id,
                    datetime.now(UTC),
                )

    async def arrive(self, someone: Someone, *, update_id: int | None = None) -> Event:
        """`someone` joins the group, as Telegram tells the bot (a member update)."""
        event = Event(
            update_id or self.conversation.next_update_id(),
            EventKind.MEMBERSHIP,
            someone.person,
            self.chat,
            member_status="member",
        )
        await self.conversation.dispatcher.feed(event)
        return event

    async def say(
        self,
        someone: Someone,
        text: str,
        *,
        update_id: int | None = None,
        thread_id: int | None = None,
        sender_chat: Chat | None = None,
    ) -> Event:
        """`someone` types a message in the group (in a forum topic; on behalf of a chat)."""
        event = Event(
            update_id or self.conversation.next_update_id(),
            EventKind.MESSAGE,
            someone.person,
            self.chat,
            text=text,
            message_id=20_000 + len(self.messages),
            thread_id=thread_id,
            sender_chat=sender_chat,
        )
        await self.conversation.dispatcher.feed(event)
        return event

    async def press(
        self, someone: Someone, label: str, *, update_id: int | None = None
    ) -> tuple[str | None, bool]:
        """Presses the newest group button whose label is `label` (counts aside)."""
        for shown in reversed(self.messages):
            for row in shown.keyboard:
                for text, data in row:
                    if text == label or text.startswith(label + " ·"):
                        return await self.press_data(
                            someone, shown.message_id, data, update_id=update_id
                        )
        raise LookupError(f"no button {label!r} in the group")

    async def press_data(
        self, someone: Someone, message_id: int, data: str, *, update_id: int | None = None
    ) -> tuple[str | None, bool]:
        """Presses a button with raw data in the group."""
        callback_id = self.conversation.next_callback_id()
        event = Event(
            update_id or self.conversation.next_update_id(),
            EventKind.CALLBACK,
            someone.person,
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

    async def answer_poll(
        self,
        someone: Someone,
        poll_id: str,
        option_ids: tuple[int, ...],
        *,
        update_id: int | None = None,
    ) -> Event:
        """`someone` answers a native poll (Telegram sends poll_answer from their side)."""
        event = Event(
            update_id or self.conversation.next_update_id(),
            EventKind.POLL_ANSWER,
            someone.person,
            someone.chat,
            poll_id=poll_id,
            option_ids=option_ids,
        )
        await self.conversation.dispatcher.feed(event)
        return event

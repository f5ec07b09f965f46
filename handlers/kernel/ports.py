"""What the handlers need from the outside world: a messenger and a clock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Button:
    """An inline button: callback data, or a link."""

    label: str
    data: str | None = None
    url: str | None = None


Keyboard = Sequence[Sequence[Button]]


@dataclass(frozen=True, slots=True)
class SentMessage:
    """What the messenger reports back about a message it sent."""

    chat_id: int
    message_id: int
    poll_id: str | None = None


@dataclass(frozen=True, slots=True)
class BotCommand:
    """A command with its localised description, for the command menu."""

    command: str
    description: str


class MessengerError(Exception):
    """A failure of the messenger, already classified for the callers (bot/botapi/errors.py).

    `chat_id` is the chat the failed call addressed, when the messenger knows it.
    """

    def __init__(self, description: str = "") -> None:
        super().__init__(description)
        self.description = description
        self.chat_id: int | None = None


class RetryAfter(MessengerError):
    """Telegram asks to slow down for `seconds` (429 with parameters.retry_after)."""

    def __init__(self, seconds: float, description: str = "") -> None:
        super().__init__(description or f"retry after {seconds}")
        self.seconds = seconds


class Unauthorized(MessengerError):
    """Telegram rejected the bot's token (401), or does not know it or the method (404)."""


class Conflict(MessengerError):
    """Another instance polls with this token, or a webhook is set (409)."""


class Forbidden(MessengerError):
    """The bot may not write in this chat (403), for a reason none of the subclasses names.

    `unreachable` says why a *person* cannot be written to (as storage.preferences records
    it), or is None when the 403 is about something else (a group, another bot).
    """

    unreachable: str | None = None


class BotBlocked(Forbidden):
    """The person blocked the bot (403): unreachable until they write to it again."""

    unreachable = "blocked"


class UserDeactivated(BotBlocked):
    """The person deleted their Telegram account (403 "user is deactivated")."""

    unreachable = "deactivated"


class NotStarted(Forbidden):
    """The person never opened a private chat with the bot (403 "can't initiate conversation").

    Not a block: once they write to the bot, it may write to them.
    """

    unreachable = "not_started"


class NotInChat(Forbidden):
    """The bot was removed from a group or is not in it (403 "kicked" / "not a member")."""


class ChatNotFound(MessengerError):
    """The chat does not exist or the bot is not in it (400)."""


class ChatMigrated(MessengerError):
    """The group became a supergroup with a new id (400 with migrate_to_chat_id)."""

    def __init__(self, new_chat_id: int, description: str = "") -> None:
        super().__init__(description or f"migrated to {new_chat_id}")
        self.new_chat_id = new_chat_id


class MessageNotModified(MessengerError):
    """An edit that would change nothing."""


class BadRequest(MessengerError):
    """Any other permanent refusal (400, 413, other 4xx): the reason is in `description`."""


class MessageGone(BadRequest):
    """The message to edit or delete no longer exists, or may no longer be edited (400)."""


class QueryExpired(BadRequest):
    """A button press answered too late, or twice (400 "query is too old")."""


class TooLong(BadRequest):
    """A text over Telegram's length limit (400 MESSAGE_TOO_LONG), or a file too large (413)."""


class Unparsable(BadRequest):
    """Telegram could not parse the text's HTML (400 "can't parse entities"): a bug in Chorus."""


class TransientError(MessengerError):
    """A 5xx, a timeout or a dropped connection: worth retrying later."""


class Messenger(Protocol):
    """The port the runtimes implement with their framework's Bot."""

    async def send_message(
        self,
        chat_id: int,
        text: str,
        keyboard: Keyboard | None = None,
        *,
        thread_id: int | None = None,
    ) -> SentMessage:
        """Sends an HTML message, with optional inline buttons (in a forum: in topic
        `thread_id`; None: General)."""
        ...

    async def edit_message(
        self, chat_id: int, message_id: int, text: str, keyboard: Keyboard | None = None
    ) -> None:
        """Replaces a message's text and buttons."""
        ...

    async def edit_keyboard(self, chat_id: int, message_id: int, keyboard: Keyboard | None) -> None:
        """Replaces only a message's buttons."""
        ...

    async def delete_message(self, chat_id: int, message_id: int) -> None:
        """Deletes a message."""
        ...

    async def answer_button(
        self, callback_id: str, text: str | None = None, alert: bool = False
    ) -> None:
        """Acknowledges a button press, optionally with a toast or an alert.

        `text` is the translator's HTML, like a message's; the toast shows it as plain text
        (tags dropped, entities such as `&amp;` decoded).
        """
        ...

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
        """Sends a native Telegram poll (in topic `thread_id` of a forum); `question`, `options`
        and `description` are plain text, not HTML. Votes can be changed until the close;
        `hide_results` shows counts and voters only once it closes (Bot API 10.1
        `hide_results_until_closes`)."""
        ...

    async def stop_poll(self, chat_id: int, message_id: int) -> None:
        """Closes a native poll."""
        ...

    async def send_document(
        self,
        chat_id: int,
        filename: str,
        content: bytes,
        caption: str | None = None,
        *,
        thread_id: int | None = None,
    ) -> SentMessage:
        """Sends a file; `caption` is HTML, like a message's text."""
        ...

    async def send_photo(
        self,
        chat_id: int,
        filename: str,
        content: bytes,
        caption: str | None = None,
        *,
        thread_id: int | None = None,
    ) -> SentMessage:
        """Sends a picture; `caption` is HTML, like a message's text."""
        ...

    async def pin_message(self, chat_id: int, message_id: int) -> None:
        """Pins a message in a group (when the bot may)."""
        ...

    async def remove_member(self, chat_id: int, user_id: int) -> None:
        """Removes a person from a group so that they may come back (banChatMember, then
        unbanChatMember with only_if_banned). Needs the bot to be an administrator allowed to
        ban; otherwise a MessengerError (BadRequest "not enough rights", Forbidden …)."""
        ...

    async def member_status(self, chat_id: int, user_id: int) -> str:
        """A person's status in a group as Telegram says (getChatMember): creator,
        administrator, member, restricted, left or kicked."""
        ...

    async def member_count(self, chat_id: int) -> int:
        """How many are in a group, bots included (getChatMemberCount)."""
        ...

    async def set_commands(
        self,
        commands: Sequence[BotCommand],
        *,
        language: str | None = None,
        chat_id: int | None = None,
        scope: str = "default",
    ) -> None:
        """Sets the command menu for a scope and language."""
        ...


class Clock(Protocol):
    """The one source of "now" (production: real time; tests and sandbox: movable)."""

    def now(self) -> datetime:
        """The current aware UTC time."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """The current aware UTC time."""
        return datetime.now(UTC)


class ShiftedClock:
    """The real clock moved forward by an offset that tests and the sandbox can grow."""

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self.offset = offset

    def now(self) -> datetime:
        """The current aware UTC time, plus the offset."""
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        """Moves time forward."""
        self.offset += delta

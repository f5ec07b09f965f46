"""The messenger port and the bulk send path, over any runtime's raw Bot API transport.

A runtime supplies only a `Transport`: it posts a `Call` as it is and returns the JSON
`result`, or turns its framework's failure into (status, description, parameters) and raises
`classify(...)`. Everything else — which request each port method makes, how answers are read —
is here, once for both runtimes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from bot.botapi import payloads
from bot.botapi.payloads import Call
from handlers.kernel.ports import BotCommand, Keyboard, MessengerError, SentMessage
from storage.outbox import Claimed


class Transport(Protocol):
    """Posts one Bot API call; returns its `result`, or raises a neutral MessengerError."""

    async def call(self, call: Call) -> Any:
        """The call's JSON result (a dict, a list, or True)."""
        ...


async def _call(transport: Transport, call: Call) -> Any:
    try:
        return await transport.call(call)
    except MessengerError as exc:
        chat_id = call.params.get("chat_id")
        if isinstance(chat_id, int):
            exc.chat_id = chat_id
        raise


def _sent(chat_id: int, result: Any) -> SentMessage:
    poll = result.get("poll") or {}
    return SentMessage(chat_id, int(result["message_id"]), poll.get("id"))


class BotApiMessenger:
    """The messenger port: one payload builder per method, one transport underneath."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def send_message(
        self,
        chat_id: int,
        text: str,
        keyboard: Keyboard | None = None,
        *,
        thread_id: int | None = None,
    ) -> SentMessage:
        """Sends an HTML message."""
        call = payloads.send_message(chat_id, text, keyboard, thread_id=thread_id)
        return _sent(chat_id, await _call(self.transport, call))

    async def edit_message(
        self, chat_id: int, message_id: int, text: str, keyboard: Keyboard | None = None
    ) -> None:
        """Replaces a message's text and buttons."""
        await _call(self.transport, payloads.edit_message(chat_id, message_id, text, keyboard))

    async def edit_keyboard(self, chat_id: int, message_id: int, keyboard: Keyboard | None) -> None:
        """Replaces a message's buttons."""
        await _call(self.transport, payloads.edit_keyboard(chat_id, message_id, keyboard))

    async def delete_message(self, chat_id: int, message_id: int) -> None:
        """Deletes a message."""
        await _call(self.transport, payloads.delete_message(chat_id, message_id))

    async def answer_button(
        self, callback_id: str, text: str | None = None, alert: bool = False
    ) -> None:
        """Acknowledges a button press (the toast in plain text)."""
        await _call(self.transport, payloads.answer_button(callback_id, text, alert))

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
        """Sends a native poll (question, options and description as plain text)."""
        call = payloads.send_poll(
            chat_id,
            question,
            options,
            anonymous,
            multiple,
            close_in_seconds,
            hide_results=hide_results,
            description=description,
            thread_id=thread_id,
        )
        return _sent(chat_id, await _call(self.transport, call))

    async def stop_poll(self, chat_id: int, message_id: int) -> None:
        """Closes a native poll."""
        await _call(self.transport, payloads.stop_poll(chat_id, message_id))

    async def send_document(
        self,
        chat_id: int,
        filename: str,
        content: bytes,
        caption: str | None = None,
        *,
        thread_id: int | None = None,
    ) -> SentMessage:
        """Sends a file."""
        call = payloads.send_document(chat_id, filename, content, caption, thread_id)
        return _sent(chat_id, await _call(self.transport, call))

    async def send_photo(
        self,
        chat_id: int,
        filename: str,
        content: bytes,
        caption: str | None = None,
        *,
        thread_id: int | None = None,
    ) -> SentMessage:
        """Sends a picture."""
        call = payloads.send_photo(chat_id, filename, content, caption, thread_id)
        return _sent(chat_id, await _call(self.transport, call))

    async def pin_message(self, chat_id: int, message_id: int) -> None:
        """Pins a message."""
        await _call(self.transport, payloads.pin_message(chat_id, message_id))

    async def remove_member(self, chat_id: int, user_id: int) -> None:
        """Bans, then unbans: the person is out of the group and may come back."""
        await _call(self.transport, payloads.ban_member(chat_id, user_id))
        await _call(self.transport, payloads.unban_member(chat_id, user_id))

    async def member_status(self, chat_id: int, user_id: int) -> str:
        """A person's status in a group (getChatMember)."""
        member = await _call(self.transport, payloads.get_chat_member(chat_id, user_id))
        return str(member.get("status") or "left")

    async def member_count(self, chat_id: int) -> int:
        """How many are in a group (getChatMemberCount)."""
        return int(await _call(self.transport, payloads.get_member_count(chat_id)))

    async def set_commands(
        self,
        commands: Sequence[BotCommand],
        *,
        language: str | None = None,
        chat_id: int | None = None,
        scope: str = "default",
    ) -> None:
        """Sets the command menu for one scope and language."""
        call = payloads.set_commands(commands, language=language, chat_id=chat_id, scope=scope)
        await _call(self.transport, call)

    async def username(self) -> str:
        """Asks Telegram who the bot is (this also checks the token)."""
        me = await _call(self.transport, payloads.get_me())
        return str(me.get("username") or "")


class BulkSender:
    """The delivery engine's send path: one outbox row → one sendMessage on the transport."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    async def send(self, item: Claimed, paid: bool) -> int:
        """Sends one outbox row; returns the message id or raises a neutral error."""
        if item.edit_of is not None:
            edit = (
                payloads.edit_keyboard(item.chat_id, item.edit_of, item.keyboard)
                if item.keyboard_only
                else payloads.edit_message(item.chat_id, item.edit_of, item.text, item.keyboard)
            )
            await _call(self.transport, edit)
            return item.edit_of
        call = payloads.send_message(
            item.chat_id, item.text, item.keyboard, paid=paid, thread_id=item.thread_id
        )
        result = await _call(self.transport, call)
        return int(result["message_id"])

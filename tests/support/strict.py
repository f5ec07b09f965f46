"""A recording messenger that refuses what Telegram refuses, through the real Bot API layer."""

from __future__ import annotations

from bot.botapi import payloads
from botapi_emulator.formatting import HtmlError, parse_html, utf16_len
from handlers.kernel import limits
from handlers.kernel.ports import Keyboard, SentMessage, TooLong, Unparsable
from tests.support.groups import CountingMessenger


def telegram_check(markup: str, limit: int) -> str:
    """What Telegram shows for `markup` sent as the Bot API layer sends it; raises TooLong or
    Unparsable as Telegram would refuse it."""
    try:
        text, _ = parse_html(markup, strict=True)
    except HtmlError as error:
        raise Unparsable(f"Bad Request: can't parse entities: {error}") from None
    if utf16_len(text.strip()) > limit:
        raise TooLong("Bad Request: message is too long")
    return text


class StrictMessenger(CountingMessenger):
    """Every text and caption goes through bot/botapi/payloads.py and is checked as Telegram
    checks it; `refuse` holds fragments whose message Telegram refuses once (as too long)."""

    def __init__(self) -> None:
        super().__init__()
        self.refuse: list[str] = []
        self.refused: list[str] = []

    def _sent_text(self, text: str) -> str:
        markup = payloads.send_message(0, text).params["text"]
        for fragment in self.refuse:
            if fragment in text:
                self.refuse.remove(fragment)
                self.refused.append(text)
                raise TooLong("Bad Request: message is too long")
        telegram_check(markup, limits.TEXT)
        return markup

    async def send_message(
        self,
        chat_id: int,
        text: str,
        keyboard: Keyboard | None = None,
        *,
        thread_id: int | None = None,
    ) -> SentMessage:
        return await super().send_message(
            chat_id, self._sent_text(text), keyboard, thread_id=thread_id
        )

    async def edit_message(
        self, chat_id: int, message_id: int, text: str, keyboard: Keyboard | None = None
    ) -> None:
        await super().edit_message(chat_id, message_id, self._sent_text(text), keyboard)

    async def send_document(
        self,
        chat_id: int,
        filename: str,
        content: bytes,
        caption: str | None = None,
        *,
        thread_id: int | None = None,
    ) -> SentMessage:
        call = payloads.send_document(chat_id, filename, content, caption)
        if "caption" in call.params:
            telegram_check(call.params["caption"], limits.CAPTION)
        return await super().send_document(chat_id, filename, content, caption, thread_id=thread_id)

    send_photo = send_document

"""A recording messenger that refuses what Telegram refuses, through the real Bot API layer."""

from __future__ import annotations

from bot.botapi import payloads
from botapi_emulator.formatting import HtmlError, parse_html, utf16_len
from handlers.kernel import limits
from handlers.kernel.ports import Keyboard, MessageGone, SentMessage, TooLong, Unparsable
from tests.support.groups import CountingMessenger
from tests.support.recording import Shown


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
        self.violations: list[str] = []  # what Telegram would have refused, and why

    def _find(self, chat_id: int, message_id: int) -> Shown:
        try:
            return super()._find(chat_id, message_id)
        except LookupError:
            raise MessageGone("Bad Request: message to edit not found") from None

    def _check(self, markup: str, limit: int) -> None:
        try:
            telegram_check(markup, limit)
        except (TooLong, Unparsable) as error:
            self.violations.append(f"{error}: {markup[:200]!r}")
            raise

    def _check_keyboard(self, keyboard: Keyboard | None) -> None:
        for row in keyboard or []:
            for button in row:
                data = (button.data or "").encode()
                if not button.label or (button.url is None and not 1 <= len(data) <= 64):
                    self.violations.append(f"BUTTON_DATA_INVALID: {button!r}")

    def _sent_text(self, text: str, keyboard: Keyboard | None = None) -> str:
        markup = payloads.send_message(0, text).params["text"]
        for fragment in self.refuse:
            if fragment in text:
                self.refuse.remove(fragment)
                self.refused.append(text)
                raise TooLong("Bad Request: message is too long")
        self._check(markup, limits.TEXT)
        self._check_keyboard(keyboard)
        return markup

    async def answer_button(
        self, callback_id: str, text: str | None = None, alert: bool = False
    ) -> None:
        sent = payloads.answer_button(callback_id, text, alert).params.get("text", "")
        if limits.units(sent) > limits.TOAST:
            self.violations.append(f"MESSAGE_TOO_LONG (toast): {sent[:200]!r}")
        await super().answer_button(callback_id, text, alert)

    async def send_message(
        self,
        chat_id: int,
        text: str,
        keyboard: Keyboard | None = None,
        *,
        thread_id: int | None = None,
    ) -> SentMessage:
        return await super().send_message(
            chat_id, self._sent_text(text, keyboard), keyboard, thread_id=thread_id
        )

    async def edit_message(
        self, chat_id: int, message_id: int, text: str, keyboard: Keyboard | None = None
    ) -> None:
        await super().edit_message(chat_id, message_id, self._sent_text(text, keyboard), keyboard)

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
            self._check(call.params["caption"], limits.CAPTION)
        return await super().send_document(chat_id, filename, content, caption, thread_id=thread_id)

    send_photo = send_document

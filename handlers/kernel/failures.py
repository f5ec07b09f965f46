"""When a post the bot owed someone finally failed: say why, through the outbox.

The messenger already waited out flood control (bot/botapi/patience.py); what still fails is
told to the person who asked for it, in a message the delivery engine retries in its turn.
"""

from __future__ import annotations

from handlers.kernel.context import Services
from handlers.kernel.i18n import Html, Translator
from handlers.kernel.ports import (
    ChatNotFound,
    Forbidden,
    MessengerError,
    RetryAfter,
    TooLong,
    TransientError,
)
from storage import outbox
from storage.outbox import Outgoing


def reason(t: Translator, exc: MessengerError) -> Html:
    """Why Telegram did not take it, in words."""
    if isinstance(exc, RetryAfter):
        return t("failures.flood")
    if isinstance(exc, Forbidden | ChatNotFound):
        return t("failures.forbidden")
    if isinstance(exc, TransientError):
        return t("failures.unavailable")
    if isinstance(exc, TooLong):
        return t("failures.too_long")
    return t("failures.refused")


async def tell(
    services: Services, chat_id: int, text: str, *, thread_id: int | None = None
) -> None:
    """After commit: queues `text` to `chat_id` as a reply (the delivery engine sends it)."""
    async with services.sessionmaker() as session, session.begin():
        await outbox.enqueue(
            session,
            [Outgoing(chat_id, text, thread_id=thread_id)],
            purpose=outbox.REPLY,
            ref=None,
            now=services.clock.now(),
        )
    services.delivery.wake()

"""Flood control for the messages the bot must post itself (a new vote, a result, a file asked
for): they wait out Telegram's `retry_after` and try again, within a bound.

Replies and bulk messages go through the outbox, whose delivery engine already waits out a 429
(bot/delivery.py). What a handler posts after commit with the messenger directly (the /poll
group post whose message id is needed, the result at the close, a roster's CSV file) goes
through this wrapper instead: a 429 is retried after its `retry_after`, at most `attempts`
times and `max_wait` seconds in all; then the RetryAfter is raised and the caller tells the
person who asked (handlers/kernel/failures.py). A 429 means Telegram did not take the call, so
a retry never duplicates a message. Toasts are not retried (a late toast is useless).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

from handlers.kernel.ports import Messenger, RetryAfter

log = logging.getLogger(__name__)
Sleep = Callable[[float], Awaitable[None]]
RETRIED = frozenset(
    {
        "send_message",
        "edit_message",
        "edit_keyboard",
        "send_poll",
        "stop_poll",
        "send_document",
        "send_photo",
        "pin_message",
    }
)


class PatientMessenger:
    """The messenger port, with the posts retried after a 429 (see the module's docstring)."""

    def __init__(
        self,
        messenger: Messenger,
        *,
        attempts: int = 5,
        max_wait: float = 90.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.messenger = messenger
        self.attempts = attempts
        self.max_wait = max_wait
        self.sleep = sleep

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.messenger, name)
        if name not in RETRIED:
            return target

        async def patient(*args: Any, **kwargs: Any) -> Any:
            waited = 0.0
            attempt = 1
            while True:
                try:
                    return await target(*args, **kwargs)
                except RetryAfter as exc:
                    if attempt >= self.attempts or waited + exc.seconds > self.max_wait:
                        raise
                    log.info(
                        "%s: flood control, waiting %.0f s (try %d)", name, exc.seconds, attempt
                    )
                    await self.sleep(exc.seconds)
                    waited += exc.seconds
                    attempt += 1

        return patient


def patient(messenger: Messenger, **options: Any) -> Messenger:
    """`messenger` with its posts retried after a 429, as the port."""
    return cast(Messenger, PatientMessenger(messenger, **options))

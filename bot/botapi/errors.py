"""Telegram's answer → Chorus's neutral messenger errors: the one classifier.

Both runtimes and the bulk send path reduce a failed call to what Telegram answered — the HTTP
status (None when no answer came: a timeout, a dropped connection, a body that is not JSON), the
`description` and the `parameters` object (ResponseParameters) — and call `classify`. Rules come
from the Bot API ("Making requests", ResponseParameters) and from Telegram's descriptions as it
sends them; the table test in tests/bot/test_botapi_errors.py lists every case.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handlers.kernel.ports import (
    BadRequest,
    BotBlocked,
    ChatMigrated,
    ChatNotFound,
    Conflict,
    Forbidden,
    MessageGone,
    MessageNotModified,
    MessengerError,
    NotInChat,
    NotStarted,
    QueryExpired,
    RetryAfter,
    TooLong,
    TransientError,
    Unauthorized,
    Unparsable,
    UserDeactivated,
)

# (substring of the lower-cased description, error class), first match wins.
_BAD_REQUESTS: tuple[tuple[str, type[MessengerError]], ...] = (
    ("message is not modified", MessageNotModified),
    ("chat not found", ChatNotFound),
    ("peer_id_invalid", ChatNotFound),
    ("user not found", ChatNotFound),
    ("message to edit not found", MessageGone),
    ("message to delete not found", MessageGone),
    ("message can't be edited", MessageGone),
    ("message can't be deleted", MessageGone),
    ("message_id_invalid", MessageGone),
    ("query is too old", QueryExpired),
    ("query id is invalid", QueryExpired),
    ("message_too_long", TooLong),
    ("message is too long", TooLong),
    ("caption is too long", TooLong),
    ("can't parse entities", Unparsable),
)
_FORBIDDEN: tuple[tuple[str, type[MessengerError]], ...] = (
    ("bot was blocked by the user", BotBlocked),
    ("user is deactivated", UserDeactivated),
    ("can't initiate conversation", NotStarted),
    ("bot was kicked", NotInChat),
    ("bot is not a member", NotInChat),
)


def classify(
    status: int | None, description: str, parameters: Mapping[str, Any] | None = None
) -> MessengerError:
    """The neutral error for a failed Bot API call.

    `status`: the HTTP status of Telegram's answer (or its `error_code`), None when there was
    no usable answer. `retry_after` (seconds) makes a RetryAfter and `migrate_to_chat_id` a
    ChatMigrated whatever the status; 401/404 are Unauthorized, 409 Conflict, 413 TooLong, 5xx
    and no answer TransientError, any other 4xx BadRequest; 400 and 403 are refined by their
    description.
    """
    parameters = parameters or {}
    text = description or (f"HTTP {status}" if status is not None else "no answer")
    retry_after = parameters.get("retry_after")
    if status == 429 or retry_after:
        return RetryAfter(float(retry_after or 1), text)
    new_chat_id = parameters.get("migrate_to_chat_id")
    if new_chat_id:
        return ChatMigrated(int(new_chat_id), text)
    if status is None or status >= 500:
        return TransientError(text)
    if status == 400:
        return _refine(text, _BAD_REQUESTS, BadRequest)
    if status == 403:
        return _refine(text, _FORBIDDEN, Forbidden)
    if status in (401, 404):
        return Unauthorized(text)
    if status == 409:
        return Conflict(text)
    if status == 413:
        return TooLong(text)
    if 400 <= status < 500:
        return BadRequest(text)
    return TransientError(text)


def _refine(
    text: str, table: tuple[tuple[str, type[MessengerError]], ...], default: type[MessengerError]
) -> MessengerError:
    lowered = text.lower()
    for fragment, kind in table:
        if fragment in lowered:
            return kind(text)
    return default(text)

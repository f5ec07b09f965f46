"""The one classifier: every status and known description Telegram answers → a neutral error."""

from __future__ import annotations

from typing import Any

import pytest

from bot.botapi import classify
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

CASES: list[tuple[int | None, str, dict[str, Any] | None, type[MessengerError]]] = [
    (
        400,
        "Bad Request: message is not modified: specified new message content and reply "
        "markup are exactly the same",
        None,
        MessageNotModified,
    ),
    (400, "Bad Request: chat not found", None, ChatNotFound),
    (400, "Bad Request: PEER_ID_INVALID", None, ChatNotFound),
    (400, "Bad Request: message to edit not found", None, MessageGone),
    (400, "Bad Request: message to delete not found", None, MessageGone),
    (400, "Bad Request: message can't be edited", None, MessageGone),
    (
        400,
        "Bad Request: query is too old and response timeout expired or query id is invalid",
        None,
        QueryExpired,
    ),
    (400, "Bad Request: MESSAGE_TOO_LONG", None, TooLong),
    (400, "Bad Request: message is too long", None, TooLong),
    (
        400,
        'Bad Request: can\'t parse entities: Unsupported start tag "500?" at byte offset 13',
        None,
        Unparsable,
    ),
    (400, "Bad Request: not enough rights to pin a message", None, BadRequest),
    (
        400,
        "Bad Request: group chat was upgraded to a supergroup chat",
        {"migrate_to_chat_id": -1001234},
        ChatMigrated,
    ),
    (401, "Unauthorized", None, Unauthorized),
    (403, "Forbidden: bot was blocked by the user", None, BotBlocked),
    (403, "Forbidden: user is deactivated", None, UserDeactivated),
    (403, "Forbidden: bot can't initiate conversation with a user", None, NotStarted),
    (403, "Forbidden: bot was kicked from the group chat", None, NotInChat),
    (403, "Forbidden: bot was kicked from the supergroup chat", None, NotInChat),
    (403, "Forbidden: bot is not a member of the supergroup chat", None, NotInChat),
    (403, "Forbidden: bot can't send messages to bots", None, Forbidden),
    (404, "Not Found", None, Unauthorized),
    (409, "Conflict: terminated by other getUpdates request", None, Conflict),
    (413, "Request Entity Too Large", None, TooLong),
    (418, "I'm a teapot", None, BadRequest),
    (429, "Too Many Requests: retry after 7", {"retry_after": 7}, RetryAfter),
    (500, "Internal Server Error", None, TransientError),
    (502, "Bad Gateway", None, TransientError),
    (503, "", None, TransientError),
    (None, "ClientConnectorError(...)", None, TransientError),
    (None, "TimeoutError()", None, TransientError),
]


@pytest.mark.parametrize(
    ("status", "description", "parameters", "kind"),
    CASES,
    ids=[f"{s}-{d[:40]}" for s, d, _, _ in CASES],
)
def test_each_answer_has_exactly_its_neutral_error(
    status: int | None,
    description: str,
    parameters: dict[str, Any] | None,
    kind: type[MessengerError],
) -> None:
    error = classify(status, description, parameters)
    assert type(error) is kind
    assert error.description == (description or f"HTTP {status}")


def test_parameters_carry_the_numbers_callers_need() -> None:
    limited = classify(429, "Too Many Requests: retry after 7", {"retry_after": 7})
    assert isinstance(limited, RetryAfter) and limited.seconds == 7.0
    moved = classify(400, "Bad Request: upgraded", {"migrate_to_chat_id": -100987})
    assert isinstance(moved, ChatMigrated) and moved.new_chat_id == -100987


def test_only_blocks_and_deleted_accounts_make_a_person_unreachable() -> None:
    reasons = {
        description: getattr(classify(403, description), "unreachable", None)
        for description in (
            "Forbidden: bot was blocked by the user",
            "Forbidden: user is deactivated",
            "Forbidden: bot can't initiate conversation with a user",
            "Forbidden: bot was kicked from the group chat",
            "Forbidden: bot is not a member of the supergroup chat",
        )
    }
    assert list(reasons.values()) == ["blocked", "deactivated", "not_started", None, None]
    assert isinstance(classify(403, "Forbidden: user is deactivated"), BotBlocked)
    assert not isinstance(classify(403, "Forbidden: bot can't initiate conversation"), BotBlocked)

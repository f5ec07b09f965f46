"""Telegram's error descriptions → the neutral messenger errors. Shared by runtimes."""

from __future__ import annotations

from handlers.ports import BadRequest, ChatNotFound, MessageNotModified, MessengerError


def bad_request(description: str) -> MessengerError:
    """Classifies a 400 by Telegram's description."""
    lowered = description.lower()
    if "message is not modified" in lowered:
        return MessageNotModified(description)
    if "chat not found" in lowered or "peer_id_invalid" in lowered:
        return ChatNotFound(description)
    return BadRequest(description)

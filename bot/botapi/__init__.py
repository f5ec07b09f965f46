"""The one Bot API layer under both runtimes: payloads, keyboards, error classification."""

from bot.botapi.errors import classify
from bot.botapi.messenger import BotApiMessenger, BulkSender, Transport
from bot.botapi.payloads import Call, Upload, plain_text, reply_markup

__all__ = [
    "BotApiMessenger",
    "BulkSender",
    "Call",
    "Transport",
    "Upload",
    "classify",
    "plain_text",
    "reply_markup",
]

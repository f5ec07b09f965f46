"""How far ahead a decision may close: a /poll or /consensus deadline, or "+1 day" later.

The grammar of what people type ("in 2h", "1/12 18:00", "2026-12-01") is :mod:`handlers.when`,
shared with /newaction; this module adds the decisions' range: at least a minute ahead, at
most Telegram's longest poll period.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from handlers.kernel import when
from handlers.kernel.invalid_input import InvalidInput

MAX_AHEAD = timedelta(seconds=2_628_000)  # Telegram's longest poll period: 30 days and a half
MIN_AHEAD = timedelta(minutes=1)
DEFAULT = timedelta(hours=24)


def parse_deadline(text: str, now: datetime, timezone: str) -> datetime:
    """The moment a person means (see handlers.when), checked against now with :func:`check`."""
    return check(when.parse(text, now, timezone), now, text.strip())


def check(moment: datetime, now: datetime, value: str = "") -> datetime:
    """The moment, if it is neither past (or imminent) nor too far ahead.

    Raises InvalidInput ``decisions.error.deadline_past`` or ``…deadline_too_far`` with
    ``value`` (the text the person typed) for the message.
    """
    if moment - now < MIN_AHEAD:
        raise InvalidInput("decisions.error.deadline_past", value=value)
    if moment - now > MAX_AHEAD:
        raise InvalidInput("decisions.error.deadline_too_far", value=value)
    return moment

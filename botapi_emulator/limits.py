"""Telegram's flood limits, emulated cheaply on a monotonic clock.

The model (Telegram publishes only approximate numbers):

- overall: at most `overall_per_second` messages in any one-second window per bot, or
  `paid_per_second` for requests with `allow_paid_broadcast`;
- groups and supergroups: at most `group_per_minute` messages and `group_edits_per_minute`
  edits in any 60-second window per chat;
- private chats: a token bucket of `private_burst` messages refilled at `private_per_second`.
  Telegram tolerates short bursts of replies, so every action of the user in that chat (a
  message, a button press, a vote) refills the bucket: conversations flow freely, while
  unprompted bursts to one person (broadcasts, reminders) are held to about one a second.

Each check is O(1) amortised (deques of timestamps, popped as they age out). retry_after is the
whole number of seconds until the blocking window frees, at least 1.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from .errors import too_many_requests


@dataclass
class RateLimits:
    """Limits configuration; `enabled=False` turns every limit off."""

    enabled: bool = True
    overall_per_second: int = 30
    paid_per_second: int = 1000
    private_per_second: float = 1.0
    private_burst: int = 5
    group_per_minute: int = 20
    group_edits_per_minute: int = 20

    def to_dict(self) -> dict[str, Any]:
        """Returns the configuration as JSON-ready data."""
        return asdict(self)


class _Window:
    """At most `limit` events in any `span` seconds."""

    __slots__ = ("limit", "span", "stamps")

    def __init__(self, limit: int, span: float) -> None:
        self.limit = limit
        self.span = span
        self.stamps: deque[float] = deque()

    def wait(self, now: float) -> float:
        stamps = self.stamps
        cutoff = now - self.span
        while stamps and stamps[0] <= cutoff:
            stamps.popleft()
        if len(stamps) < self.limit:
            return 0.0
        return stamps[len(stamps) - self.limit] + self.span - now

    def take(self, now: float) -> None:
        self.stamps.append(now)


class _Bucket:
    """A token bucket of `capacity` tokens refilled at `rate` per second."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, capacity: int, rate: float, now: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.tokens = float(capacity)
        self.stamp = now

    def wait(self, now: float) -> float:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        self.tokens -= 1


class RateLimiter:
    """Checks and records message sends and edits against RateLimits."""

    def __init__(
        self, limits: RateLimits | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits or RateLimits()
        self.clock = clock
        self._overall: dict[bool, _Window] = {}
        self._groups: dict[int, _Window] = {}
        self._edits: dict[int, _Window] = {}
        self._private: dict[int, _Bucket] = {}

    def configure(self, limits: RateLimits) -> None:
        """Replaces the limits and forgets what was counted so far."""
        self.limits = limits
        self.reset()

    def reset(self) -> None:
        """Forgets every counted message."""
        self._overall.clear()
        self._groups.clear()
        self._edits.clear()
        self._private.clear()

    def user_activity(self, chat_id: int) -> None:
        """Refills a private chat's bucket after its user wrote, pressed or voted."""
        self._private.pop(chat_id, None)

    def acquire_send(self, chat_id: int, chat_type: str, paid: bool = False) -> None:
        """Records one message to the chat, or raises the 429 error Telegram would send."""
        limits = self.limits
        if not limits.enabled:
            return
        now = self.clock()
        overall = self._overall.get(paid)
        if overall is None:
            per_second = limits.paid_per_second if paid else limits.overall_per_second
            overall = self._overall[paid] = _Window(per_second, 1.0)
        chat_limit: _Window | _Bucket
        if chat_type == "private":
            bucket = self._private.get(chat_id)
            if bucket is None:
                bucket = self._private[chat_id] = _Bucket(
                    limits.private_burst, limits.private_per_second, now
                )
            chat_limit = bucket
        else:
            window = self._groups.get(chat_id)
            if window is None:
                window = self._groups[chat_id] = _Window(limits.group_per_minute, 60.0)
            chat_limit = window
        wait = max(overall.wait(now), chat_limit.wait(now))
        if wait > 0:
            raise too_many_requests(max(1, math.ceil(wait)))
        overall.take(now)
        chat_limit.take(now)

    def acquire_edit(self, chat_id: int, chat_type: str) -> None:
        """Records one edit; only group and supergroup edits are limited."""
        if not self.limits.enabled or chat_type == "private":
            return
        now = self.clock()
        window = self._edits.get(chat_id)
        if window is None:
            window = self._edits[chat_id] = _Window(self.limits.group_edits_per_minute, 60.0)
        wait = window.wait(now)
        if wait > 0:
            raise too_many_requests(max(1, math.ceil(wait)))
        window.take(now)

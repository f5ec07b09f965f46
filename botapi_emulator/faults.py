"""Fault injection: rules that make chosen Bot API calls fail, hang or drop the connection."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from .errors import ApiError

FaultAction = Literal["error", "drop", "delay"]

_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass
class FaultRule:
    """Fails the next `count` matching calls (`count=None`: every one).

    `action="error"` answers `error_code`/`description` (+ retry_after or migrate_to_chat_id);
    `"drop"` closes the connection without an answer; `"delay"` waits `delay` seconds and then
    handles the call normally. An error rule with a `delay` waits before failing.
    """

    method: str = "*"
    chat_id: int | str | None = None
    error_code: int = 500
    description: str | None = None
    retry_after: int | None = None
    migrate_to_chat_id: int | None = None
    count: int | None = 1
    action: FaultAction = "error"
    delay: float = 0.0
    hits: int = 0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultRule:
        """Builds a rule from control-API JSON, ignoring `hits`."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "hits"}
        rule = cls(**known)
        if rule.action not in ("error", "drop", "delay"):
            raise ValueError(f"unknown fault action {rule.action!r}")
        return rule

    def matches(self, method: str, chat_id: Any) -> bool:
        """True if this rule applies to a call of `method` on `chat_id`."""
        if self.method != "*" and self.method.lower() != method.lower():
            return False
        return self.chat_id is None or str(self.chat_id) == str(chat_id)

    def error(self) -> ApiError:
        """Returns the Bot API error this rule answers with."""
        code = self.error_code
        parameters: dict[str, Any] = {}
        retry_after = self.retry_after
        if code == 429 and retry_after is None:
            retry_after = 5
        if retry_after is not None:
            parameters["retry_after"] = retry_after
        if self.migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = self.migrate_to_chat_id
        description = self.description
        if description is None:
            if code == 429:
                description = f"Too Many Requests: retry after {retry_after}"
            else:
                description = _DEFAULT_DESCRIPTIONS.get(code, "Internal Server Error")
        return ApiError(code, description, parameters or None)

    def to_dict(self) -> dict[str, Any]:
        """Returns the rule as JSON-ready data."""
        return asdict(self)


class FaultInjector:
    """An ordered list of fault rules; the first matching rule wins."""

    def __init__(self) -> None:
        self.rules: list[FaultRule] = []

    def add(self, rule: FaultRule) -> FaultRule:
        """Appends a rule and returns it."""
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        """Removes every rule."""
        self.rules.clear()

    def take(self, method: str, chat_id: Any) -> FaultRule | None:
        """Returns the rule to apply to this call, using up one of its counts."""
        if not self.rules:
            return None
        for rule in self.rules:
            if rule.matches(method, chat_id):
                rule.hits += 1
                if rule.count is not None:
                    rule.count -= 1
                    if rule.count <= 0:
                        self.rules.remove(rule)
                return rule
        return None

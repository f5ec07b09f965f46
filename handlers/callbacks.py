"""Button data: short, versioned, validated. A forged or stale button is refused politely."""

from __future__ import annotations

MAX_BYTES = 64
SEPARATOR = ":"


class StaleButton(Exception):
    """The button's data is malformed, forged, or belongs to a step that has passed."""


def pack(prefix: str, *parts: str | int) -> str:
    """Builds button data "prefix:part:part"; refuses anything over Telegram's 64 bytes."""
    texts = [str(part) for part in parts]
    if any(SEPARATOR in text for text in texts):
        raise ValueError(f"button data part contains {SEPARATOR!r}: {texts!r}")
    data = SEPARATOR.join([prefix, *texts])
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"button data over {MAX_BYTES} bytes: {data!r}")
    return data


def unpack(data: str) -> tuple[str, list[str]]:
    """Splits button data into its prefix and parts."""
    if not data or len(data.encode()) > MAX_BYTES:
        raise StaleButton(data)
    prefix, *parts = data.split(SEPARATOR)
    return prefix, parts


def expect(parts: list[str], count: int) -> list[str]:
    """The parts, when there are exactly `count` of them; otherwise the button is stale."""
    if len(parts) != count:
        raise StaleButton(SEPARATOR.join(parts))
    return parts


def choice(value: str, allowed: tuple[str, ...] | frozenset[str]) -> str:
    """`value` when it is one of `allowed`; otherwise the button is stale."""
    if value not in allowed:
        raise StaleButton(value)
    return value


def integer(value: str, low: int | None = None, high: int | None = None) -> int:
    """`value` as an integer within bounds; otherwise the button is stale."""
    try:
        number = int(value)
    except ValueError as exc:
        raise StaleButton(value) from exc
    if (low is not None and number < low) or (high is not None and number > high):
        raise StaleButton(value)
    return number

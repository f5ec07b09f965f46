"""Text typed by a person, cleaned and checked against limits, for every form that takes words.

One line (spaces collapsed) or a block (line breaks kept, at most one empty line in a row); no
invisible or control characters; a length between two limits, counted in characters. What does
not fit raises :class:`~handlers.kernel.invalid_input.InvalidInput` with ``invalid.characters``,
``invalid.too_short`` (``min``) or ``invalid.too_long`` (``max``, ``length``).
"""

from __future__ import annotations

import re
import unicodedata

from handlers.kernel.invalid_input import InvalidInput

HIDDEN = ("Cc", "Cf", "Co", "Cs")  # Unicode categories refused: controls, formats, private, halves


def clean_line(text: str, limits: tuple[int, int]) -> str:
    """One line of text: spaces collapsed, no invisible characters, within ``limits`` (min, max)."""
    return within(" ".join(text.split()), limits)


def clean_block(text: str, limits: tuple[int, int]) -> str:
    """A block of text: line breaks kept (at most one empty line in a row), within ``limits``."""
    lines = [" ".join(line.split()) for line in text.strip().splitlines()]
    return within(re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip(), limits)


def within(value: str, limits: tuple[int, int]) -> str:
    """``value`` itself when it has no hidden character but line breaks and fits ``limits``."""
    low, high = limits
    if any(unicodedata.category(ch) in HIDDEN and ch != "\n" for ch in value):
        raise InvalidInput("invalid.characters")
    if len(value) < low:
        raise InvalidInput("invalid.too_short", min=low)
    if len(value) > high:
        raise InvalidInput("invalid.too_long", max=high, length=len(value))
    return value

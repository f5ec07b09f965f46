"""Text typed by a person, cleaned and checked against limits, for every form that takes words.

One line (spaces collapsed) or a block (line breaks kept, at most one empty line in a row); no
control characters; a length between two limits, counted in characters. What does not fit
raises :class:`~handlers.kernel.invalid_input.InvalidInput` with ``invalid.characters``,
``invalid.too_short`` (``min``) or ``invalid.too_long`` (``max``, ``length``).

What people write in every language is accepted: combining marks, variation selectors, the
zero-width non-joiner and joiner (a Persian half-space, an emoji ZWJ sequence such as 👩‍👩‍👧) and
the tag characters of subdivision flags (🏴󠁧󠁢󠁳󠁣󠁴󠁿). Refused: control characters, bidirectional
overrides and other invisible formatting that can disguise a text, private-use characters and
lone surrogates. :func:`check` is the one test, used by every free-text field.
"""

from __future__ import annotations

import re
import unicodedata

from handlers.kernel.invalid_input import InvalidInput

HIDDEN = ("Cc", "Cf", "Co", "Cs")  # Unicode categories refused: controls, formats, private, halves
ZWNJ, ZWJ = "\u200c", "\u200d"
_WRITTEN = frozenset({ZWNJ, ZWJ, "\n"})  # format or control characters that writing needs


def allowed(ch: str) -> bool:
    """True for a character a person may type in a name, a title or a text."""
    if ch in _WRITTEN or "\U000e0020" <= ch <= "\U000e007f":  # joiners, flag tags
        return True
    return unicodedata.category(ch) not in HIDDEN


def check(value: str) -> str:
    """``value`` itself when every character is one a person may type; else InvalidInput."""
    if not all(allowed(ch) for ch in value):
        raise InvalidInput("invalid.characters")
    return value


def clean_line(text: str, limits: tuple[int, int]) -> str:
    """One line of text: spaces collapsed, no control characters, within ``limits`` (min, max)."""
    return within(" ".join(text.split()), limits)


def clean_block(text: str, limits: tuple[int, int]) -> str:
    """A block of text: line breaks kept (at most one empty line in a row), within ``limits``."""
    lines = [" ".join(line.split()) for line in text.strip().splitlines()]
    return within(re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip(), limits)


def within(value: str, limits: tuple[int, int]) -> str:
    """``value`` itself when it passes :func:`check` and its length fits ``limits``."""
    low, high = limits
    check(value)
    if len(value) < low:
        raise InvalidInput("invalid.too_short", min=low)
    if len(value) > high:
        raise InvalidInput("invalid.too_long", max=high, length=len(value))
    return value

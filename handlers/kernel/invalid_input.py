"""The one exception for "this input does not fit": a message key, its values, maybe a keyboard.

Parsers raise it (a date that cannot be read, a country that is not one, a search word that
means nothing); the dispatcher answers it in one place, in the person's language, with the
keyboard if there is one (a reply to typed text, an alert to a pressed button). A handler
catches it itself only when it has more to do than say why (ask the question again).
"""

from __future__ import annotations

from typing import Any

from handlers.kernel.i18n import Html, Translator
from handlers.kernel.ports import Keyboard


class InvalidInput(ValueError):
    """Input that does not fit; ``t(key, **values)`` says why, ``keyboard`` offers answers.

    ``key`` is a catalogue key (all four languages); ``values`` fill its placeholders and are
    escaped for HTML by the translator unless they are ``Html``.
    """

    def __init__(self, key: str, keyboard: Keyboard | None = None, **values: Any) -> None:
        super().__init__(key)
        self.key = key
        self.keyboard = keyboard
        self.values = values

    def text(self, t: Translator) -> Html:
        """The explanation in the language of ``t``."""
        return t(self.key, **self.values)

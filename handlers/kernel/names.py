"""A person's name in words for a reader: storage.people.shown_names decides what may be shown,
this says a hidden one in the reader's language ("🔒 volunteer in discreet mode", "former
volunteer"). Which reader may see a discreet member is handlers.kernel.permissions.
may_see_discreet."""

from __future__ import annotations

from handlers.kernel.i18n import Translator
from storage.people.shown_names import Hidden, Shown

WORDS = {Hidden.DISCREET: "names.discreet", Hidden.FORMER: "names.former"}


def in_words(t: Translator, shown: Shown) -> str:
    """The name itself (not escaped), or why it is hidden, in the language of ``t``."""
    return shown if isinstance(shown, str) else t(WORDS[shown])

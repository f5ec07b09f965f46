"""Translations from the gettext catalogues in locales/, with Babel for plurals and dates.

Message ids are stable keys ("registration.ask_name"); the English catalogue holds the English
text. Each conversation area keeps its own domain file (locales/<lang>/LC_MESSAGES/<area>.po);
all domains of a language are merged into one translator.
"""

from __future__ import annotations

import html
import io
import os
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_time, get_datetime_format
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

SUPPORTED_LOCALES = ("en", "fr", "es", "ar")
FALLBACK_LOCALE = "en"
RTL_LOCALES = frozenset({"ar"})
RLM = "\u200f"
FSI = "\u2068"  # first strong isolate: user text keeps its own direction (Unicode UAX #9)
PDI = "\u2069"  # pop directional isolate
# Explicit embeddings and overrides (LRE, RLE, PDF, LRO, RLO): Chorus never writes them, typed
# text refuses them (typed_text), but a name or title Telegram gives (a first name, a group's
# title) may carry one, and an RLO there reverses the rest of our line ("evil\u202etxt.exe").
_EMBEDDINGS = dict.fromkeys(range(0x202A, 0x202F))
LRM = "\u200e"  # left-to-right mark
# A /command in a right-to-left sentence: its slash is neutral and would show at the wrong end
# ("help/"); a left-to-right mark before it keeps "/help" whole (UAX #9, rule W1-N1).
COMMAND_IN_TEXT = re.compile(r"(?<![\w/:.<\u200e])(/[A-Za-z][A-Za-z0-9_]*)")
LIST_SEPARATORS = {"ar": "، "}  # the Arabic comma; others use ", "
# One date style per language: CLDR's medium date is "05/12/2026" in Arabic but its full date
# spells the month ("السبت، 5 ديسمبر 2026"); a reader saw both in one chat. Arabic dates spell
# the month everywhere (the full style without the weekday).
DATE_PATTERNS = {"ar": "d MMMM y"}
COLONS = {"fr": "\u202f: "}  # French sets a narrow no-break space before a colon
SEMICOLONS = {"ar": "؛ ", "fr": "\u202f; "}  # the Arabic semicolon; French spaces it too


def locales_dir() -> Path:
    """Where the catalogues live: `locales/` beside the packages, in the working tree and in the
    installed wheel alike (pyproject.toml ships it); CHORUS_LOCALES_DIR overrides, for tests."""
    override = os.environ.get("CHORUS_LOCALES_DIR")
    return Path(override) if override else Path(__file__).resolve().parents[2] / "locales"


class Html(str):
    """Text already safe for Telegram HTML: inserted into a message as it is."""

    __slots__ = ()


def escape(value: object) -> str:
    """Escapes a value for Telegram HTML unless it is already `Html`."""
    if isinstance(value, Html):
        return value
    return html.escape(str(value), quote=False)


def _load_domain_files(directory: Path) -> Translations | None:
    merged: Translations | None = None
    for po_path in sorted(directory.glob("*.po")):
        with po_path.open("rb") as fp:
            catalog = read_po(fp)
        buffer = io.BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        buffer.seek(0)
        translations = Translations(buffer, domain=po_path.stem)
        merged = translations if merged is None else merged.merge(translations)
    return merged


@cache
def _translations(locale: str) -> Translations | None:
    directory = locales_dir() / locale / "LC_MESSAGES"
    merged = _load_domain_files(directory)
    if merged is None and locale == FALLBACK_LOCALE:
        # Without them every message would go out as its key: refuse to start instead.
        raise FileNotFoundError(f"no gettext catalogues (*.po) in {directory}")
    return merged


def reload_catalogues() -> None:
    """Forgets loaded catalogues (tests that write their own call this)."""
    _translations.cache_clear()
    translator.cache_clear()


def normalise_locale(code: str | None, default: str = FALLBACK_LOCALE) -> str:
    """Maps a Telegram language_code ("fr-CA", "ES") to a supported locale or the default."""
    if code:
        base = code.replace("_", "-").split("-")[0].lower()
        if base in SUPPORTED_LOCALES:
            return base
    return default


class Translator:
    """Everything a handler says, in one language."""

    def __init__(self, locale: str) -> None:
        self.locale = locale if locale in SUPPORTED_LOCALES else FALLBACK_LOCALE
        self._own = _translations(self.locale)
        self._fallback = _translations(FALLBACK_LOCALE)
        self.babel_locale = Locale.parse(self.locale)

    @property
    def rtl(self) -> bool:
        """True when this language is written right to left."""
        return self.locale in RTL_LOCALES

    def _lookup(self, key: str, plural_n: int | None) -> str:
        for catalogue in (self._own, self._fallback):
            if catalogue is None:
                continue
            if plural_n is None:
                text = catalogue.gettext(key)
            else:
                text = catalogue.ngettext(key, key, plural_n)
            if text != key:
                return text
        return key

    def isolate(self, value: object) -> Html:
        """A value escaped for HTML and, in a right-to-left language, each of its lines wrapped in
        FSI…PDI when it has letters, so that a Latin name or title keeps its own direction and
        punctuation (Unicode UAX #9, 2.7; an isolate ends at a line break, hence one per line).
        Numbers and `Html` (already built text) are left as they are; explicit bidi embeddings
        and overrides (U+202A–U+202E) are taken out of plain text. Every piece of user text
        that goes into a message goes through here: `t(...)`'s values, `t.join`'s items, and
        the views that set a title or a name on a line of its own."""
        if isinstance(value, str) and not isinstance(value, Html):
            value = value.translate(_EMBEDDINGS)  # in every language: see _EMBEDDINGS
        safe = escape(value)
        if not self.rtl or isinstance(value, Html):
            return Html(safe)
        return Html("\n".join(_isolated(line) for line in safe.split("\n")))

    def _format(self, text: str, values: Mapping[str, Any]) -> Html:
        if self.rtl:
            text = COMMAND_IN_TEXT.sub(LRM + r"\1", text)
        safe = {name: self.isolate(value) for name, value in values.items()}
        formatted = text.format_map(safe) if safe or "{" in text else text
        return Html(RLM + formatted if self.rtl else formatted)

    def __call__(self, key: str, /, **values: Any) -> Html:
        """The message for `key`, with user values HTML-escaped."""
        return self._format(self._lookup(key, None), values)

    def plural(self, key: str, n: int, /, **values: Any) -> Html:
        """The plural form of `key` for `n` (also given to the text as {n})."""
        return self._format(self._lookup(key, n), {"n": self.number(n), **values})

    @property
    def comma(self) -> str:
        """The separator of a list in this language: ", ", or the Arabic comma "، "."""
        return LIST_SEPARATORS.get(self.locale, ", ")

    @property
    def semicolon(self) -> str:
        """The separator of a list of clauses in this language ("; ", Arabic "؛ ")."""
        return SEMICOLONS.get(self.locale, "; ")

    @property
    def colon(self) -> str:
        """A label's colon and space in this language (": ", French "\u202f: ")."""
        return COLONS.get(self.locale, ": ")

    def join(self, items: Iterable[object]) -> Html:
        """Items as a list in this language's punctuation ("A, B" / "A، B"); each item escaped
        and, in a right-to-left language, isolated (see `isolate`)."""
        return Html(self.comma.join(self.isolate(i) for i in items))

    def number(self, value: float) -> str:
        """A number in this locale (remembered: a storm formats the same places again and
        again, and babel's formatting was a twentieth of a press's CPU)."""
        return _number(value, self.locale)

    def _date(self, local: datetime, style: Literal["full", "medium"]) -> str:
        pattern = DATE_PATTERNS.get(self.locale)
        if pattern is not None and style != "full":
            return str(format_date(local, pattern, locale=self.babel_locale))
        return str(format_date(local, format=style, locale=self.babel_locale))

    def datetime_text(
        self, moment: datetime, timezone: str, *, weekday: bool = False, zone: bool = False
    ) -> str:
        """A date and time in this locale and the given time zone, to the minute ("Nov 30,
        2026, 11:17 AM"): the locale's date and short time, joined by its date-time pattern
        (CLDR) — people plan by the minute, seconds are noise. `weekday`: the full date
        ("Saturday, December 5, 2026"); `zone`: the zone's name after it ("(Europe/Paris)").
        Every date and time a message shows is made here, so a language has one style."""
        local = moment.astimezone(ZoneInfo(timezone))
        style: Literal["full", "medium"] = "full" if weekday else "medium"
        pattern = str(get_datetime_format(style, locale=self.babel_locale)).replace("'", "")
        time = str(format_time(local, format="short", locale=self.babel_locale))
        text = pattern.replace("{0}", time).replace("{1}", self._date(local, style))
        return f"{text} ({self.isolate(timezone)})" if zone else text

    def date_text(self, moment: datetime, timezone: str) -> str:
        """A date in this locale and the given time zone (the style of `datetime_text`)."""
        return self._date(moment.astimezone(ZoneInfo(timezone)), "medium")

    def language_name(self, code: str) -> str:
        """A language's own name ("Français"), for the language picker."""
        name = Locale.parse(code).get_display_name(code) or code
        return name[:1].upper() + name[1:]

    def language_in_text(self, code: str) -> str:
        """A language's name in this locale, as running text writes it (CLDR, by babel: "in
        French", "en anglais", "en francés"): not its own name, which reads as a foreign word
        in a sentence ("le recevront en Français", "en English")."""
        return str(Locale.parse(code).get_display_name(self.babel_locale) or code)

    def country_name(self, code: str) -> str:
        """A country's name in this locale."""
        return str(self.babel_locale.territories.get(code, code))


def _isolated(line: str) -> str:
    if line.startswith(FSI) or not any(ch.isalpha() for ch in line):
        return line
    return FSI + line + PDI


@cache
def translator(locale: str) -> Translator:
    """The shared translator for a locale."""
    return Translator(locale)


_MEDIA_WORDS = {
    "sticker": "sticker",
    "photo": "photo",
    "video": "video",
    "animation": "video",
    "video_note": "video",
    "voice": "voice",
    "audio": "voice",
    "location": "location",
    "venue": "location",
    "contact": "contact",
    "document": "document",
}


def media_words(t: Translator, media: str | None) -> Html:
    """What a message without text held, in words ("a sticker", "a photo"…)."""
    return Html(t(f"media.kind.{_MEDIA_WORDS.get(media or '', 'other')}"))


def _number(value: float, locale: str) -> str:
    # A whole number under 1,000 has no grouping: in a locale written in ASCII digits it is
    # its digits (a storm's waitlist places are each new to the cache below).
    if type(value) is int and 0 <= value < 1000 and _ascii_digits(locale):
        return str(value)
    return _formatted(value, locale)


@lru_cache(maxsize=4096)
def _formatted(value: float, locale: str) -> str:
    return str(format_decimal(value, locale=_babel(locale)))


@cache
def _ascii_digits(locale: str) -> bool:
    """Whether the locale writes numbers in ASCII digits (babel, CLDR's default numbering)."""
    return _formatted(1234567890, locale).translate(_NO_GROUPING) == "1234567890"


_NO_GROUPING = {ord(c): None for c in ",.\u00a0\u202f\u066c' "}


@cache
def _babel(locale: str) -> Locale:
    return Locale.parse(locale)

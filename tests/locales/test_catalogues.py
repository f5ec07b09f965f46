"""Every catalogue has every key, with the same placeholders, and every key the code uses exists."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from handlers.kernel.i18n import SUPPORTED_LOCALES, locales_dir, translator
from handlers.kernel.permissions import COMMANDS
from handlers.people import fields

ROOT = Path(__file__).resolve().parents[2]
KEY_CALL = re.compile(r"""\b(?:t(?:\.plural)?|InvalidInput)\(\s*f?["']([a-z_]+\.[a-z0-9_.]+)["']""")


def _catalogues(locale: str) -> dict[str, Catalog]:
    directory = locales_dir() / locale / "LC_MESSAGES"
    result = {}
    for path in sorted(directory.glob("*.po")):
        with path.open("rb") as fp:
            result[path.stem] = read_po(fp, locale=locale)
    return result


def _messages(locale: str) -> dict[str, tuple[str, ...]]:
    messages: dict[str, tuple[str, ...]] = {}
    for catalogue in _catalogues(locale).values():
        for message in catalogue:
            if not message.id:
                continue
            key = message.id[0] if isinstance(message.id, tuple) else message.id
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            messages[key] = tuple(strings)
    return messages


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_locale_has_the_same_domains() -> None:
    domains = {locale: set(_catalogues(locale)) for locale in SUPPORTED_LOCALES}
    assert all(d == domains["en"] for d in domains.values()), domains


@pytest.mark.parametrize("locale", [loc for loc in SUPPORTED_LOCALES if loc != "en"])
def test_catalogue_has_every_key_with_the_same_placeholders(locale: str) -> None:
    english = _messages("en")
    translated = _messages(locale)
    assert sorted(set(english) - set(translated)) == [], "missing keys"
    assert sorted(set(translated) - set(english)) == [], "keys not in English"
    problems = []
    for key, forms in english.items():
        wanted = set().union(*(_placeholders(f) for f in forms))
        for form in translated[key]:
            if not form.strip():
                problems.append(f"{key}: empty translation")
            elif not _placeholders(form) <= wanted:
                problems.append(f"{key}: {_placeholders(form) - wanted} unknown")
        if len(forms) == 1 and _placeholders(translated[key][0]) != wanted:
            problems.append(f"{key}: placeholders {_placeholders(translated[key][0])} != {wanted}")
    assert problems == []


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_plural_messages_have_every_form_of_the_language(locale: str) -> None:
    for domain, catalogue in _catalogues(locale).items():
        for message in catalogue:
            if message.id and isinstance(message.id, tuple):
                assert len(message.string) == catalogue.num_plurals, (domain, message.id)


def _keys_used_in_code() -> set[str]:
    keys: set[str] = set()
    for package in ("handlers", "bot"):
        for path in (ROOT / package).rglob("*.py"):
            keys.update(KEY_CALL.findall(path.read_text(encoding="utf-8")))
    return {key for key in keys if not key.endswith(".")}


def _dynamic_keys() -> set[str]:
    keys = {f"command.{name}" for name in COMMANDS}
    for question in fields.QUESTIONS.values():
        keys.add(f"ask.{question.name}")
        keys.add(f"field.{question.name}")
        if question.kind in ("choice", "multi") and question.name not in (
            "language",
            *fields.YES_NO_QUESTIONS,
        ):
            keys.update(f"{question.name}.{option}" for option in question.options)
    return keys


def test_every_key_the_code_uses_is_in_the_english_catalogue() -> None:
    english = set(_messages("en"))
    used = _keys_used_in_code() | _dynamic_keys()
    assert sorted(used - english) == []


def test_the_key_scan_finds_keys() -> None:
    assert {"errors.stale_button", "registration.done", "profile.hours"} <= _keys_used_in_code()


# Reading natively (issue 16): typography and bidi rules over every catalogue entry, each
# formatted through the translator with sample values (counts as numbers, the rest as a Latin
# name with the punctuation that flips when it is not isolated).

COUNTS = frozenset(
    {
        "n",
        "count",
        "max",
        "min",
        "limit",
        "length",
        "days",
        "voters",
        "failed",
        "eligible",
        "sent",
        "needed",
        "delivered",
        "remaining",
        "total",
        "stand_asides",
        "blocks",
        "page",
        "pages",
        "number",
        "id",
    }
)
SAMPLE_TEXT = "Anna Smith (UK)!"
PLURAL_SAMPLES = (0, 1, 2, 3, 11, 100, 1_000_000)
NNBSP = "\u202f"
MARKUP = re.compile(r"<code>.*?</code>|<pre>.*?</pre>|<[^>]+>|&[a-z]+;|&#\d+;|\S+://\S+|/[a-z_]+")


def _entries(locale: str) -> list[tuple[str, bool, tuple[str, ...]]]:
    """(key, is plural, translations) of every entry of the locale's catalogues."""
    entries = []
    for catalogue in _catalogues(locale).values():
        for message in catalogue:
            if not message.id:
                continue
            plural = isinstance(message.id, tuple)
            key = message.id[0] if plural else message.id
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            entries.append((key, plural, tuple(strings)))
    return entries


def _rendered(locale: str, sample: str = SAMPLE_TEXT) -> list[tuple[str, str]]:
    """(key, text) of every entry formatted by the translator with sample values."""
    from handlers.kernel.i18n import translator

    t = translator(locale)
    english = _messages("en")
    out = []
    for key, plural, _ in _entries(locale):
        names = set().union(*(_placeholders(f) for f in english[key]))
        values = {name: 7 if name in COUNTS else sample for name in names if name != "n"}
        if plural:
            out += [(key, t.plural(key, n, **values)) for n in PLURAL_SAMPLES]
        else:
            out.append((key, t(key, **values)))
    return out


def _prose(text: str) -> str:
    """The text a reader reads as prose: without tags, code, links and commands."""
    return MARKUP.sub(" ", text)


def test_french_typography_narrow_spaces_quotes_and_apostrophes() -> None:
    problems = []
    for key, text in _rendered("fr", sample="X"):
        prose = _prose(text)
        checks = {
            "space before : ; ? !": re.search(r"[ \u00a0][:;?!]", prose),
            "; ? ! without a narrow no-break space": re.search(r"[^\u202f\s][;?!]", prose),
            ": without a narrow no-break space": re.search(r"[^\u202f\s\d]:(?=\s|$)", prose),
            "« without a narrow no-break space": re.search(r"«(?!\u202f)", prose),
            "» without a narrow no-break space": re.search(r"(?<!\u202f)»", prose),
            "straight apostrophe": re.search(r"\w'\w", prose),
            "English quotes": re.search(r"[“”]", prose),
        }
        problems += [f"{key}: {rule}: {prose!r}" for rule, found in checks.items() if found]
    assert problems == []


def test_spanish_questions_and_exclamations_open_with_inverted_marks() -> None:
    problems = []
    for key, text in _rendered("es", sample="X"):
        prose = _prose(text)
        if prose.count("?") > prose.count("¿") or prose.count("!") > prose.count("¡"):
            problems.append(f"{key}: {prose!r}")
    assert problems == []


def test_arabic_punctuation_is_arabic() -> None:
    problems = []
    for key, text in _rendered("ar", sample="س"):
        prose = _prose(text)
        if re.search(r"[;?]|(?<!\d),|,(?!\d)", prose):
            problems.append(f"{key}: {prose!r}")
    assert problems == []


ARABIC_WORD_AFTER_COUNT = re.compile(r"\{(\w+)\}\s*(?:</b>\s*)?([\u0621-\u064a][\u0621-\u0652]*)")
ARABIC_PARTICLES = frozenset({"من", "على", "في", "و"})


def test_arabic_counts_go_through_plural_forms() -> None:
    """A counted noun after a number takes one of six forms in Arabic: a message that is not a
    plural entry must not put a noun after a count ("عضواً" after 100 is wrong)."""
    problems = []
    for key, plural, forms in _entries("ar"):
        if plural:
            continue
        for name, word in ARABIC_WORD_AFTER_COUNT.findall(forms[0]):
            if name in COUNTS and word not in ARABIC_PARTICLES:
                problems.append(f"{key}: {{{name}}} {word}")
    assert problems == []


def test_user_text_is_isolated_in_right_to_left_messages() -> None:
    fsi, pdi = "\u2068", "\u2069"
    isolated = f"{fsi}{SAMPLE_TEXT}{pdi}"
    english = _messages("en")
    problems = []
    for key, text in _rendered("ar"):
        names = set().union(*(_placeholders(f) for f in english[key])) - COUNTS
        if names and text.count(isolated) < 1:
            problems.append(f"{key}: {text!r}")
        if SAMPLE_TEXT in text.replace(isolated, ""):
            problems.append(f"{key}: not isolated: {text!r}")
    assert problems == []


def test_lists_use_each_language_s_comma_and_isolate_items() -> None:
    from handlers.kernel.i18n import translator

    assert translator("fr").join(["Anna", "Bo"]) == "Anna, Bo"
    assert translator("ar").join(["Anna", "لبنان"]) == "\u2068Anna\u2069، \u2068لبنان\u2069"
    assert translator("ar").join(["<b>"]) == "\u2068&lt;b&gt;\u2069"


def test_a_command_in_an_arabic_sentence_keeps_its_slash_in_front() -> None:
    """ "/cancel" read right to left showed as "cancel/" (found trying the sandbox): a
    left-to-right mark goes before every command in a right-to-left message."""
    t = translator("ar")
    text = t("help.register_first")
    assert "\u200e/start" in text
    assert "https://" not in text or "\u200e//" not in text
    assert "/start" in translator("en")("help.register_first")
    assert "\u200e" not in translator("en")("help.register_first")


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_numbers_read_as_the_locale_writes_them(locale: str) -> None:
    """A number is written as babel writes it in the locale (CLDR), the short cut for small
    whole numbers included."""
    from babel.numbers import format_decimal

    t = translator(locale)
    for value in [*range(1000), 1000, 1500, 12_345, 1_000_000, -3, 2.5]:
        assert t.number(value) == format_decimal(value, locale=locale), value


def test_arabic_reasons_of_failure_read_with_a_count_of_one() -> None:
    """The reasons of failure are noun phrases that read with any count, in Arabic too (they
    were verbs in the masculine plural, "they blocked the bot", before a count of 1)."""
    from handlers.actions.broadcasts import summary_view
    from handlers.kernel.i18n import translator
    from storage.actions.action_models import Broadcast

    t = translator("ar")
    summary = summary_view(t, Broadcast(state="done"), {"sent": 3}, {}, {"blocked": 1})
    reason = next(line for line in summary.split("\n") if line.startswith("  • "))
    assert not any(verb in reason for verb in ("حظروا", "حذفوا", "يبدأوا")), reason

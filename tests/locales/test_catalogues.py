"""Every catalogue has every key, with the same placeholders, and every key the code uses exists."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from handlers.kernel.i18n import SUPPORTED_LOCALES, locales_dir
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

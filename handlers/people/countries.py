"""Which country a person means: names in the four languages, codes and common short forms.

The names come from Babel's copy of the Unicode CLDR (territory names in en, fr, es and ar),
the codes from ISO 3166 (alpha-2, and alpha-3 through CLDR's territory aliases: USA, GBR, COD),
plus CLDR's own aliases (UK). What CLDR does not list is the handful of short forms people type
every day (DRC, RDC, UAE, England, Holland, Ivory Coast, EEUU): `COLLOQUIAL` below.
Matching ignores case, accents, straight or curly apostrophes, dots, hyphens and a leading
article ("the", "la", "el"…).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from difflib import get_close_matches
from functools import cache

from babel import Locale
from babel.core import get_global

from handlers.kernel.i18n import SUPPORTED_LOCALES

# Short forms in everyday use that CLDR does not carry (its alt-short/alt-variant names are not
# in Babel's data). Keys are folded (see `fold`).
COLLOQUIAL: Mapping[str, str] = {
    "drc": "CD",
    "rdc": "CD",
    "dr congo": "CD",
    "rd congo": "CD",
    "congo kinshasa": "CD",
    "congo brazzaville": "CG",
    "uae": "AE",
    "eau": "AE",
    "eau emirats": "AE",
    "emirates": "AE",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "britain": "GB",
    "great britain": "GB",
    "angleterre": "GB",
    "ecosse": "GB",
    "inglaterra": "GB",
    "escocia": "GB",
    "holland": "NL",
    "hollande": "NL",
    "holanda": "NL",
    "ivory coast": "CI",
    "costa de marfil": "CI",
    "burma": "MM",
    "birmanie": "MM",
    "america": "US",
    "etats unis d amerique": "US",
    "eeuu": "US",
    "ee uu": "US",
    "usa": "US",
    "us": "US",
    "uk": "GB",
    "czech republic": "CZ",
    "republique tcheque": "CZ",
    "republica checa": "CZ",
    "turkey": "TR",
    "turquie": "TR",
    "turquia": "TR",
    "swaziland": "SZ",
    "macedonia": "MK",
    "palestine": "PS",
    "palestina": "PS",
    "south korea": "KR",
    "north korea": "KP",
    "vatican": "VA",
    "cape verde": "CV",
    "east timor": "TL",
}
ARTICLES = ("the ", "la ", "le ", "les ", "l ", "el ", "los ", "las ")
_PUNCTUATION = re.compile(r"[\s,;:()\[\]'’‘ʼ`´\"“”«»\-‐‑‒–—/]+")


def fold(text: str) -> str:
    """A name as it is compared: lower case, no accents, no dots (U.S.A.), other punctuation and
    apostrophes as one space, no leading article ("Côte d’Ivoire", "cote d'ivoire" fold alike)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).replace(".", "")
    folded = _PUNCTUATION.sub(" ", bare).strip()
    for article in ARTICLES:
        if folded.startswith(article):
            return folded[len(article) :]
    return folded


@cache
def country_codes() -> frozenset[str]:
    """ISO 3166 alpha-2 codes of real countries and territories (those with a time zone)."""
    zones: Mapping[str, list[str]] = get_global("territory_zones")
    return frozenset(code for code in zones if len(code) == 2 and code.isalpha())


@cache
def index() -> dict[str, str]:
    """Every folded name, code and short form → its ISO alpha-2 code."""
    codes = country_codes()
    found: dict[str, str] = {}
    aliases: Mapping[str, list[str]] = get_global("territory_aliases")
    for alias, targets in aliases.items():
        if alias.isalpha() and len(targets) == 1 and targets[0] in codes:
            found[fold(alias)] = targets[0]
    for code in codes:
        found[fold(code)] = code
    for locale in SUPPORTED_LOCALES:
        for code, name in Locale.parse(locale).territories.items():
            if code in codes:
                found[fold(name)] = code
    found.update(COLLOQUIAL)
    return found


def resolve(text: str) -> str | None:
    """The ISO code of the country `text` names, or None."""
    return index().get(fold(text))


def suggestions(text: str, limit: int = 4) -> list[str]:
    """Codes of the countries `text` most likely means, best first; empty only when nothing at
    all comes close (no name shares even its first letters)."""
    folded = fold(text)
    if not folded:
        return []
    names = index()
    keys = [key for key in names if len(key) > 3]  # codes are exact matches only
    guesses = get_close_matches(folded, keys, n=limit * 3, cutoff=0.6)
    guesses += [key for key in keys if key.startswith(folded) or f" {folded}" in f" {key}"]
    if not guesses:
        guesses = get_close_matches(folded, keys, n=limit * 3, cutoff=0.4)
    return list(dict.fromkeys(names[g] for g in guesses))[:limit]

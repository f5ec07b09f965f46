"""Which time zones to offer for a country, principal cities first, each with its local time.

Sources: the IANA time zone database's zone.tab (via the `tzdata` package: each country's
zones, in IANA's order, with comments such as "Eastern (most areas)"), Babel's CLDR metazones
("America_Eastern": the zones that share one civil time) and CLDR's city names in the reader's
language. CLDR's own "golden zone" per metazone is not in Babel's data, so `PRINCIPAL` names the
principal cities of the countries that span several time zones; every other zone of a country
is offered after them, one per metazone, preferring the zone IANA marks "most areas".
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo, available_timezones

from babel.core import get_global
from babel.dates import format_time, get_timezone_location

from handlers.kernel.i18n import Translator

# Principal cities, in the order a person of the country expects them (most people first).
PRINCIPAL: Mapping[str, tuple[str, ...]] = {
    "US": (
        "America/New_York",
        "America/Chicago",
        "America/Denver",
        "America/Los_Angeles",
        "Pacific/Honolulu",
        "America/Anchorage",
        "America/Phoenix",
    ),
    "CA": (
        "America/Toronto",
        "America/Vancouver",
        "America/Edmonton",
        "America/Winnipeg",
        "America/Halifax",
        "America/St_Johns",
        "America/Regina",
    ),
    "ES": ("Europe/Madrid", "Atlantic/Canary"),
    "PT": ("Europe/Lisbon", "Atlantic/Azores"),
    "BR": ("America/Sao_Paulo", "America/Manaus", "America/Noronha", "America/Rio_Branco"),
    "MX": ("America/Mexico_City", "America/Tijuana", "America/Cancun", "America/Hermosillo"),
    "AU": (
        "Australia/Sydney",
        "Australia/Melbourne",
        "Australia/Brisbane",
        "Australia/Perth",
        "Australia/Adelaide",
        "Australia/Darwin",
    ),
    "RU": ("Europe/Moscow", "Asia/Yekaterinburg", "Asia/Novosibirsk", "Asia/Vladivostok"),
    "CD": ("Africa/Kinshasa", "Africa/Lubumbashi"),
    "ID": ("Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"),
    "CL": ("America/Santiago", "Pacific/Easter"),
    "EC": ("America/Guayaquil", "Pacific/Galapagos"),
    "NZ": ("Pacific/Auckland", "Pacific/Chatham"),
    "KZ": ("Asia/Almaty",),
    "AR": ("America/Argentina/Buenos_Aires",),
    "UA": ("Europe/Kyiv",),
    "DE": ("Europe/Berlin",),
    "CN": ("Asia/Shanghai",),
}


@cache
def _known() -> frozenset[str]:
    return frozenset(available_timezones())


@cache
def _zone_tab() -> dict[str, list[tuple[str, str]]]:
    """country → [(zone, IANA comment)] in zone.tab's order."""
    table: dict[str, list[tuple[str, str]]] = {}
    text = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text("utf-8")
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        fields = line.split("\t")
        comment = fields[3] if len(fields) > 3 else ""
        table.setdefault(fields[0], []).append((fields[2], comment))
    return table


def _metazone(zone: str) -> str:
    metazones: Mapping[str, str] = get_global("meta_zones")
    return metazones.get(zone, zone)


@cache
def choices(country: str) -> tuple[str, ...]:
    """The zones to offer for an ISO country code: `PRINCIPAL` first, then one per metazone not
    yet covered ("most areas" preferred, else IANA's first). Empty for an unknown country."""
    listed = [(z, c) for z, c in _zone_tab().get(country, []) if z in _known()]
    if not listed:
        zones: Mapping[str, list[str]] = get_global("territory_zones")
        listed = [(z, "") for z in zones.get(country, []) if z in _known()]
    offered = [z for z in PRINCIPAL.get(country, ()) if z in _known()]
    covered = {_metazone(z) for z in offered}
    best: dict[str, tuple[str, str]] = {}
    for zone, comment in listed:
        group = _metazone(zone)
        if group in covered:
            continue
        if group not in best or ("most areas" in comment and "most areas" not in best[group][1]):
            best[group] = (zone, comment)
    chosen = {zone for zone, _ in best.values()}
    offered += [zone for zone, _ in listed if zone in chosen]
    return tuple(dict.fromkeys(offered))


def single(country: str) -> str | None:
    """The country's time zone when it has only one to offer."""
    offered = choices(country)
    return offered[0] if len(offered) == 1 else None


def city(t: Translator, zone: str) -> str:
    """The zone's city in the reader's language ("Nueva York"), from CLDR."""
    return str(get_timezone_location(ZoneInfo(zone), locale=t.babel_locale, return_city=True))


def label(t: Translator, zone: str, now: datetime) -> str:
    """A button's label: the city and its local time now ("New York · 9:05 AM")."""
    local = format_time(now, "short", tzinfo=ZoneInfo(zone), locale=t.babel_locale)
    return f"{city(t, zone)} · {local}"

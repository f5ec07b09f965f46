"""A group's own language and time zone: the members' majority, ties settled alphabetically."""

from __future__ import annotations

from handlers.decisions.group_voice import most_common, valid_locale, valid_timezone


def test_the_most_common_value_wins_and_ties_do_not_depend_on_order() -> None:
    zones = ["Asia/Beirut", "America/Bogota", "Asia/Beirut", "Africa/Nairobi"]
    assert most_common(zones, "UTC") == "Asia/Beirut"
    assert most_common(["fr", "es"], "en") == most_common(["es", "fr"], "en") == "es"
    assert most_common([None, ""], "UTC") == "UTC"


def test_languages_and_zones_are_checked() -> None:
    assert valid_locale("FR") == "fr" and valid_locale("es-CO") == "es"
    assert valid_locale("de") is None and valid_locale("english") is None
    assert valid_timezone("Africa/Nairobi") == "Africa/Nairobi"
    assert valid_timezone("Mars/Olympus") is None and valid_timezone("../etc/passwd") is None

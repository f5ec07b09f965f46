"""One grammar for typed dates, times and durations (handlers/when.py), in the four languages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from handlers.actions import action_views
from handlers.decisions import decision_input
from handlers.kernel import when
from handlers.kernel.i18n import translator
from handlers.kernel.invalid_input import InvalidInput
from handlers.kernel.ports import ShiftedClock

MOMENT = datetime(2026, 12, 30, 10, 0, tzinfo=UTC)  # a Wednesday, two days before the new year
BEIRUT, PARIS, MEXICO = "Asia/Beirut", "Europe/Paris", "America/Mexico_City"


@pytest.fixture
def now() -> datetime:
    """The injectable clock, set to MOMENT."""
    return ShiftedClock(MOMENT - datetime.now(UTC)).now()


def at(zone: str, year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))


@pytest.mark.parametrize(
    ("text", "zone", "expected"),
    [
        # day before month, whatever the language; the year rolls over when the day has passed
        ("1/11 18:00", "UTC", at("UTC", 2027, 11, 1, 18, 0)),  # gone two months ago
        # gone within a month: the day just gone (callers refuse it as past), not next year's
        # (a sandbox finding: yesterday's "30/11" became the 30th of November 2027 unseen)
        ("1/12 18:00", "UTC", at("UTC", 2026, 12, 1, 18, 0)),
        ("29/12", "UTC", at("UTC", 2026, 12, 29, 23, 59)),
        ("31/12 18:00", "UTC", at("UTC", 2026, 12, 31, 18, 0)),
        ("2/1", PARIS, at(PARIS, 2027, 1, 2, 23, 59)),
        ("30/12", BEIRUT, at(BEIRUT, 2026, 12, 30, 23, 59)),
        ("5.1.27 9h", PARIS, at(PARIS, 2027, 1, 5, 9, 0)),
        ("05/01/2027 18h30", MEXICO, at(MEXICO, 2027, 1, 5, 18, 30)),
        ("18:00 2/1", "UTC", at("UTC", 2027, 1, 2, 18, 0)),
        # ISO
        ("2027-01-02", "UTC", at("UTC", 2027, 1, 2, 23, 59)),
        ("2027-01-02 18:00", BEIRUT, at(BEIRUT, 2027, 1, 2, 18, 0)),
        ("2027-01-02T07:15", MEXICO, at(MEXICO, 2027, 1, 2, 7, 15)),
        # a time alone: its next occurrence in the person's zone (12:00 in Beirut now)
        ("18:00", BEIRUT, at(BEIRUT, 2026, 12, 30, 18, 0)),
        ("11:00", BEIRUT, at(BEIRUT, 2026, 12, 31, 11, 0)),
        ("18h", PARIS, at(PARIS, 2026, 12, 30, 18, 0)),
        ("9.30", MEXICO, at(MEXICO, 2026, 12, 30, 9, 30)),  # 04:00 in Mexico City now
        ("3:00", MEXICO, at(MEXICO, 2026, 12, 31, 3, 0)),
        ("١٨:٣٠", BEIRUT, at(BEIRUT, 2026, 12, 30, 18, 30)),
    ],
)
def test_dates_and_times(now: datetime, text: str, zone: str, expected: datetime) -> None:
    assert when.parse(text, now, zone) == expected


def test_a_day_just_gone_across_the_new_year_is_last_years() -> None:
    january = datetime(2027, 1, 3, 10, 0, tzinfo=UTC)
    assert when.parse("30/12 18:00", january, "UTC") == at("UTC", 2026, 12, 30, 18, 0)
    assert when.parse("30/11 18:00", january, "UTC") == at("UTC", 2027, 11, 30, 18, 0)
    assert when.parse("29/2", datetime(2028, 3, 5, tzinfo=UTC), "UTC").date().isoformat() == (
        "2028-02-29"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # en
        ("in 3h", timedelta(hours=3)),
        ("in 2d", timedelta(days=2)),
        ("2d", timedelta(days=2)),
        ("in 1d 12h", timedelta(days=1, hours=12)),
        ("+90 minutes", timedelta(minutes=90)),
        ("1 week", timedelta(weeks=1)),
        ("in 18h", timedelta(hours=18)),
        # fr
        ("dans 2 jours", timedelta(days=2)),
        ("dans 3h", timedelta(hours=3)),
        ("2 semaines", timedelta(weeks=2)),
        # es
        ("en 3 horas", timedelta(hours=3)),
        ("en 2 días", timedelta(days=2)),
        ("45 minutos", timedelta(minutes=45)),
        # ar
        ("بعد 2 ساعة", timedelta(hours=2)),
        ("بعد ٣ أيام", timedelta(days=3)),
        ("خلال 1 أسبوع", timedelta(weeks=1)),
    ],
)
def test_durations_count_from_now(now: datetime, text: str, expected: timedelta) -> None:
    assert when.parse(text, now, BEIRUT) == now + expected
    assert when.parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    ["30/2", "25:00", "in 2 fortnights", "in 2h tomorrow", "5 mai", "in the park", "", "1/13"],
)
def test_unreadable_text_says_so(now: datetime, text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        when.parse(text, now, "UTC")
    assert (caught.value.key, caught.value.values) == ("when.unreadable", {"value": text})


@pytest.mark.parametrize("locale", ["en", "fr", "es", "ar"])
def test_the_message_reads_in_every_language(locale: str) -> None:
    problem = InvalidInput(when.UNREADABLE, value="<soon>")
    text = problem.text(translator(locale))
    assert "&lt;soon&gt;" in text and "5/12 18:30" in text and text != when.UNREADABLE


@pytest.mark.parametrize("locale", ["en", "fr", "es", "ar"])
def test_poll_and_action_read_the_same_text_as_the_same_moment(now: datetime, locale: str) -> None:
    t = translator(locale)
    draft = decision_input.parse("vote", "Venue? | Hall | Park | 1/1 18:00", t, now, PARIS)
    local = action_views.parse_local_time("1/1 18:00", now, PARIS)
    assert draft.closes_at == at(PARIS, 2027, 1, 1, 18, 0)
    assert local == "2027-01-01 18:00"
    with pytest.raises(InvalidInput) as caught:
        action_views.parse_local_time("1/1 25:00", now, PARIS)
    assert caught.value.text(t) == InvalidInput(when.UNREADABLE, value="1/1 25:00").text(t)


def test_what_looks_like_a_moment_in_a_poll_line() -> None:
    for text in ("in 2h", "dans 2 jours", "+1d", "2026-12-01", "2026-12-01T10:00", "1/12", "18:00"):
        assert when.looks_like_moment(text), text
    for text in ("in the park", "Yes", "2 days", "18h", "", "Hall 2"):
        assert not when.looks_like_moment(text), text

"""Time-zone choices: principal cities first, each with its local time (people/zones.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_time

from handlers.kernel.forms import AnswerButton
from handlers.kernel.i18n import translator
from handlers.kernel.ports import ShiftedClock
from handlers.people import fields, zones
from tests.support.recording import Conversation

NOON_UTC = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


class _Answer(AnswerButton, prefix="tz"):
    """A test flow's answers."""


def test_principal_cities_come_first() -> None:
    assert zones.choices("US")[:5] == (
        "America/New_York",
        "America/Chicago",
        "America/Denver",
        "America/Los_Angeles",
        "Pacific/Honolulu",
    )
    assert zones.choices("ES")[0] == "Europe/Madrid"
    assert "Africa/Ceuta" not in zones.choices("ES")
    assert zones.choices("CA")[0] == "America/Toronto"
    assert zones.choices("AU")[0] == "Australia/Sydney"


def test_every_zone_of_a_country_is_still_reachable_once_per_civil_time() -> None:
    offered = zones.choices("RU")
    assert offered[0] == "Europe/Moscow" and "Europe/Kaliningrad" in offered
    assert len(offered) == len(set(offered))
    assert zones.single("LB") == "Asia/Beirut" and zones.single("US") is None


def test_each_button_shows_the_city_in_the_reader_s_language_and_its_local_time() -> None:
    question = fields.QUESTIONS["timezone"]
    data = {"country": "US", fields.NOW: NOON_UTC}
    _, rows = fields.ask(translator("en"), question, data, _Answer)
    labels = [b.label for row in rows or [] for b in row]
    assert labels[:5] == [
        "New York · 7:00\u202fAM",
        "Chicago · 6:00\u202fAM",
        "Denver · 5:00\u202fAM",
        "Los Angeles · 4:00\u202fAM",
        "Honolulu · 2:00\u202fAM",
    ]
    _, rows = fields.ask(translator("es"), question, data, _Answer)
    assert rows is not None and rows[0][0].label == "Nueva York · 7:00"
    later = {**data, fields.NOW: NOON_UTC + timedelta(hours=3, minutes=30)}
    _, rows = fields.ask(translator("en"), question, later, _Answer)
    assert rows is not None and rows[0][0].label == "New York · 10:30\u202fAM"


def test_a_pressed_zone_is_one_of_the_country_s() -> None:
    question = fields.QUESTIONS["timezone"]
    assert fields.parse_button(question, "America/Chicago", {"country": "US"}) == "America/Chicago"
    assert fields.parse_button(question, "Europe/Paris", {"country": "US"}) is None
    assert fields.parse_button(question, "1", {"country": "US"}) == "America/Chicago"


async def test_registration_offers_local_times_from_the_clock(
    conversation: Conversation, clock: ShiftedClock
) -> None:
    clock.advance(timedelta(hours=5))
    sam = conversation.person("Sam")
    await sam.send("/start")
    await sam.press("English")
    await sam.press("An individual")
    await sam.send("Sam")
    await sam.send("USA")
    assert "several time zones" in sam.last.text
    first = sam.last.labels[0]
    moments = (clock.now() - timedelta(minutes=1), clock.now())
    expected = {
        "New York · " + format_time(m, "short", tzinfo=ZoneInfo("America/New_York"), locale="en")
        for m in moments
    }
    assert first in expected
    await sam.press(sam.last.labels[3])
    assert "Which skills" in sam.last.text

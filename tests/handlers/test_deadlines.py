"""Deadlines as people write them, in their locale and time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from handlers.deadlines import DeadlineError, looks_like_deadline, parse_deadline, parse_duration

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # 12:00 in Beirut


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("in 2h", timedelta(hours=2)),
        ("in 3d", timedelta(days=3)),
        ("in 1d 12h", timedelta(days=1, hours=12)),
        ("dans 2 jours", timedelta(days=2)),
        ("en 3 horas", timedelta(hours=3)),
        ("بعد 2 ساعة", timedelta(hours=2)),
        ("in 90 minutes", timedelta(minutes=90)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected
    assert parse_deadline(text, NOW, "UTC", "en") == NOW + expected


def test_dates_follow_the_locale_order_and_time_zone() -> None:
    assert parse_deadline("2026-12-03 18:00", NOW, "Asia/Beirut", "en") == datetime(
        2026, 12, 3, 16, 0, tzinfo=UTC
    )
    assert parse_deadline("3/12 18:00", NOW, "UTC", "fr") == datetime(2026, 12, 3, 18, tzinfo=UTC)
    assert parse_deadline("12/3 18:00", NOW, "UTC", "en") == datetime(2026, 12, 3, 18, tzinfo=UTC)
    assert parse_deadline("18:00", NOW, "Asia/Beirut", "en") == datetime(
        2026, 12, 1, 16, tzinfo=UTC
    )
    assert parse_deadline("11:00", NOW, "Asia/Beirut", "en") == datetime(2026, 12, 2, 9, tzinfo=UTC)
    assert parse_deadline("2026-12-02", NOW, "UTC", "en") == datetime(
        2026, 12, 2, 23, 59, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("in 2 fortnights", "decisions.error.deadline_unreadable"),
        ("in 2h tomorrow", "decisions.error.deadline_unreadable"),
        ("2026-02-30 10:00", "decisions.error.deadline_unreadable"),
        ("2026-11-30 10:00", "decisions.error.deadline_past"),
        ("in 0h", "decisions.error.deadline_past"),
        ("in 31d", "decisions.error.deadline_too_far"),
    ],
)
def test_bad_deadlines_say_why(text: str, key: str) -> None:
    with pytest.raises(DeadlineError) as caught:
        parse_deadline(text, NOW, "UTC", "en")
    assert caught.value.key == key


def test_what_looks_like_a_deadline() -> None:
    assert looks_like_deadline("in 2h") and looks_like_deadline("2026-12-01")
    assert not looks_like_deadline("in the park") and not looks_like_deadline("Yes")

"""Decision deadlines: the grammar of handlers.when, within a minute and 30 days ahead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from handlers.kernel.deadlines import parse_deadline
from handlers.kernel.invalid_input import InvalidInput

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # 12:00 in Beirut


def test_deadlines_in_the_persons_time_zone() -> None:
    assert parse_deadline("2026-12-03 18:00", NOW, "Asia/Beirut") == datetime(
        2026, 12, 3, 16, 0, tzinfo=UTC
    )
    assert parse_deadline("3/12 18:00", NOW, "UTC") == datetime(2026, 12, 3, 18, tzinfo=UTC)
    assert parse_deadline("in 2h", NOW, "UTC") == NOW + timedelta(hours=2)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("in 2 fortnights", "when.unreadable"),
        ("2026-02-30 10:00", "when.unreadable"),
        ("2026-11-30 10:00", "decisions.error.deadline_past"),
        ("in 0h", "decisions.error.deadline_past"),
        ("in 31d", "decisions.error.deadline_too_far"),
        ("12/3 18:00", "decisions.error.deadline_too_far"),  # the 12th of March, not the 3rd of Dec
    ],
)
def test_bad_deadlines_say_why(text: str, key: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_deadline(text, NOW, "UTC")
    assert caught.value.key == key and caught.value.values == {"value": text}

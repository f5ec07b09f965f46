"""One validator for every free-text field: what people write is accepted, controls are not."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from handlers.kernel import typed_text
from handlers.kernel.invalid_input import InvalidInput
from tests.support.recording import Conversation

WRITTEN = [
    "نیلوفر\u200cسادات",  # Persian half-space (zero-width non-joiner)
    "👩\u200d👩\u200d👧 family",  # an emoji ZWJ sequence
    "❤\ufe0f Love",  # a variation selector
    "Zoë Nguyễn",  # combining marks (decomposed)
    "Zoe\u0308",
    "क्षत्रिय",  # Devanagari virama and conjuncts
    "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f Scotland",  # flag tags
    "👍🏽 ok",  # a skin-tone modifier
]
REFUSED = [
    "Lee\u200bKim",  # zero-width space
    "evil\u202etxt.exe",  # right-to-left override
    "bell\x07",
    "tab\x1b[31m",
    "private\ue000use",
]


@pytest.mark.parametrize("text", WRITTEN)
def test_what_people_write_is_accepted(text: str) -> None:
    assert typed_text.clean_line(text, (1, 100)) == text


@pytest.mark.parametrize("text", REFUSED)
def test_controls_and_disguises_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        typed_text.clean_line(text, (1, 100))
    assert caught.value.key == "invalid.characters"


def test_a_block_keeps_its_line_breaks() -> None:
    assert typed_text.clean_block("a\u200cb\n\n\n\nc", (1, 100)) == "a\u200cb\n\nc"


async def test_a_name_with_a_half_space_is_taken_in_registration(
    conversation: Conversation,
) -> None:
    niloufar = conversation.person("Niloufar")
    await niloufar.send("/start")
    await niloufar.press("English")
    await niloufar.press("An individual")
    await niloufar.send("نیلوفر\u200cسادات 👩\u200d👩\u200d👧")
    assert "Which country" in niloufar.last.text


async def test_a_vote_question_with_a_control_character_is_refused(
    conversation: Conversation,
) -> None:
    from handlers.decisions.decision_input import VOTE, parse
    from handlers.kernel.i18n import translator

    now = datetime(2026, 1, 1, tzinfo=UTC)
    t = translator("en")
    draft = parse(VOTE, "Venue 👩\u200d👩\u200d👧? | Hall\u200c | Park", t, now, "UTC")
    assert draft.options == ["Hall\u200c", "Park"]
    with pytest.raises(InvalidInput):
        parse(VOTE, "Venue\x1b? | Hall | Park", t, now, "UTC")

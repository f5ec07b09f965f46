"""Telegram's length limits: measured as Telegram does, met by shortening words, never markup."""

from __future__ import annotations

from datetime import timedelta

import pytest

from botapi_emulator.formatting import parse_html, utf16_len
from handlers.kernel import limits
from handlers.kernel.i18n import translator
from handlers.kernel.ports import ShiftedClock
from tests.conftest import COORDINATOR_ID
from tests.support.groups import Group, make_volunteer
from tests.support.recording import Conversation, Someone
from tests.support.strict import StrictMessenger, telegram_check

SUNFLOWERS = "🌻" * 60  # 60 characters, 120 UTF-16 units: a long name as Telegram counts it


@pytest.fixture
def messenger() -> StrictMessenger:
    """A messenger that refuses what Telegram refuses."""
    return StrictMessenger()


def test_length_is_measured_after_entity_parsing_in_utf16_units() -> None:
    assert limits.length("<b>a&amp;b</b> 🌻") == 6  # a&b, a space, two units for the emoji
    assert limits.length("  <i>x</i>\n") == 1  # Telegram strips the text


@pytest.mark.parametrize(
    "markup",
    [
        "<b>" + "a&amp;b " * 2000 + "</b>",
        "<i>x</i>" * 3000,
        '<a href="https://example.org/?a=1&amp;b=2">' + SUNFLOWERS * 40 + "</a> tail",
        "<b>bold <i>nested " + "é\u0301" * 3000 + "</i> more</b>",
        "plain &lt;tag&gt; " * 500,
    ],
)
def test_shorten_cuts_words_and_keeps_every_tag_closed(markup: str) -> None:
    short = limits.shorten(markup)
    text, _ = parse_html(short, strict=True)  # balanced and escaped, or this raises
    assert utf16_len(text.strip()) <= limits.TEXT
    assert short.endswith(("…", "</b>", "</a>", "</i>"))
    assert limits.shorten("<b>short</b>") == "<b>short</b>"


def test_fitted_lines_say_how_many_were_left_out() -> None:
    t = translator("en")
    lines = [f"<b>{i}</b> " + "x" * 100 for i in range(100)]
    fitted = limits.fitted(t, lines)
    assert limits.fits(fitted)
    assert fitted.endswith("more, not shown here.")
    kept = fitted.count("\n")
    assert f"… and {100 - kept} more" in fitted


def test_plain_text_is_cut_in_utf16_units() -> None:
    cut = limits.cut(SUNFLOWERS * 3, limits.TOAST)
    assert limits.units(cut) <= limits.TOAST and cut.endswith("…")


async def test_a_result_with_long_names_fits_and_still_names_voters(
    conversation: Conversation, messenger: StrictMessenger, clock: ShiftedClock
) -> None:
    group = Group(conversation)
    coral = conversation.person("Coral", user_id=COORDINATOR_ID)
    people = [conversation.person(f"{SUNFLOWERS}{i}") for i in range(40)]
    for someone in people:
        await make_volunteer(conversation, someone)
    await group.join(*people)
    await group.say(coral, "/poll Venue? | Hall | Park | in 2h")
    poll_id = f"poll{next(iter(messenger.polls))}"
    for index, someone in enumerate(people):
        await group.answer_poll(someone, poll_id, (index % 2,))
    await conversation.dispatcher.services.edits.flush()
    live = group.find("Venue?")
    assert limits.fits(live.text) and SUNFLOWERS in live.text
    clock.advance(timedelta(hours=2, seconds=1))
    await conversation.dispatcher.run_due_timers()
    result = group.find("Result:")
    assert limits.fits(result.text)  # fitted by the view itself: names dropped, not cut
    assert "Hall — 20 of 40 votes" in result.text or "Tie" in result.text or "Hall" in result.text
    assert SUNFLOWERS in result.text and "more" in result.text
    telegram_check(result.text, limits.TEXT)


async def test_a_result_telegram_still_refuses_is_sent_in_its_short_form(
    conversation: Conversation, messenger: StrictMessenger, clock: ShiftedClock
) -> None:
    group = Group(conversation)
    coral = conversation.person("Coral", user_id=COORDINATOR_ID)
    amira: Someone = conversation.person("Amira")
    await make_volunteer(conversation, amira)
    await group.join(amira)
    await group.say(coral, "/poll Venue? | Hall | Park | in 2h")
    await group.answer_poll(amira, f"poll{next(iter(messenger.polls))}", (0,))
    messenger.refuse.append("Rule: plurality")  # only the full result says the rule
    clock.advance(timedelta(hours=2, seconds=1))
    await conversation.dispatcher.run_due_timers()
    assert messenger.refused, "the full result was not tried"
    result = group.find("Result:")
    assert "Adopted: <b>Hall</b>" in result.text
    assert "Rule: plurality" not in result.text and "1 of 1 eligible" in result.text

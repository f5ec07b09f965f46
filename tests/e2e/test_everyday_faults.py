"""What real people and real Telegram do that a tidy test does not (issue 12), end to end on
both runtimes: names in every script, over-long texts, flood control, blocked private chats,
non-text messages, late timers."""

from __future__ import annotations

from botapi_emulator.client import Person
from tests.e2e.conftest import ChorusUnderTest


async def _says(person: Person, fragment: str, **kwargs: object) -> str:
    message = await person.wait_for_message(lambda m: fragment in (m.text or ""), **kwargs)  # type: ignore[arg-type]
    return message.text or ""


async def test_names_with_joiners_are_accepted(chorus: ChorusUnderTest) -> None:
    """A Persian half-space (ZWNJ) and an emoji ZWJ sequence are ordinary writing."""
    nilou = await chorus.person("Nilou")
    await nilou.send("/start")
    await _says(nilou, "Welcome")
    await nilou.press("English")
    await nilou.press("An individual")
    await _says(nilou, "What name")
    await nilou.send("نیلوفر\u200cسادات 👩\u200d👩\u200d👧")
    await _says(nilou, "Which country")

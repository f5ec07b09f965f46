"""Arabic messages with Latin user text in them (newcomer trial): every title, description, name
and role a person typed is isolated (FSI … PDI) so that the bidi algorithm cannot move its
punctuation and numbers; lists use the Arabic comma and dates have one style."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from bot.app import Storage
from handlers.actions import action_views as views
from handlers.decisions import decision_views
from handlers.kernel.i18n import translator
from handlers.kernel.ports import ShiftedClock
from tests.conftest import COORDINATOR_ID
from tests.handlers.test_actions import create_meeting
from tests.support.actions import engine_for, make_volunteer
from tests.support.recording import Conversation, RecordingMessenger

FSI, PDI = "\u2068", "\u2069"
_ISOLATED = re.compile(f"{FSI}[^{FSI}{PDI}]*{PDI}")
_TAG = re.compile(r"<[^>]*>")
_COMMAND = re.compile(r"/[A-Za-z]\w*")
_LATIN = re.compile(r"[A-Za-z][A-Za-z'’.!?()0-9 ]*")


def unisolated_latin(text: str) -> list[str]:
    """Latin words of a message outside every isolate (tags, links and /commands aside)."""
    plain = _COMMAND.sub("", _TAG.sub("", _ISOLATED.sub("", text)))
    plain = re.sub(r"&\w+;", "", plain)
    return [m.strip() for m in _LATIN.findall(plain)]


async def test_an_arabic_reader_sees_latin_titles_places_and_names_isolated(
    conversation: Conversation,
    storage: Storage,
    clock: ShiftedClock,
    messenger: RecordingMessenger,
) -> None:
    coordinator = conversation.person("Coral", user_id=COORDINATOR_ID)
    await make_volunteer(storage, 3, now=clock.now(), name="Omar Haddad (Jr.)", language="ar")
    omar = conversation.person("Omar", user_id=3, language_code="ar")
    await create_meeting(coordinator, clock, title="Vigil 2026: for survivors!")
    await coordinator.press("✅ Send it")
    await engine_for(conversation.dispatcher.services).drain()
    card = messenger.chats[3][-1].text
    assert f"<b>{FSI}Vigil 2026: for survivors!{PDI}</b>" in card
    assert f"{FSI}Bring candles.{PDI}\n" in card  # each line of the description on its own
    assert unisolated_latin(card) == []
    # one date style: the month spelled out, the Arabic comma, the zone isolated
    assert "، " in card and ", " not in card and f"({FSI}Asia/Beirut{PDI})" in card
    assert not re.search(r"\d+\u200f/", card)  # not the numeric 05/12/2026 of CLDR's medium
    await omar.press("\u200fسأحضر")
    coordinator = conversation.person("Coral", user_id=COORDINATOR_ID, language_code="ar")
    await coordinator.send("/actions")
    listed = coordinator.last.text
    assert f"{FSI}Vigil 2026: for survivors!{PDI}" in listed
    assert unisolated_latin(listed) == []
    await coordinator.send("/roster 1")
    rostered = coordinator.messages[-2].text
    assert f"{FSI}Omar Haddad (Jr.){PDI}" in rostered
    assert unisolated_latin(rostered) == []


def test_roles_and_decision_lines_isolate_what_people_typed() -> None:
    t = translator("ar")
    draft = {
        "kind": "meeting",
        "title": "Town hall",
        "description": "Line one.\nLine two!",
        "at": datetime(2026, 12, 5, 17, 30, tzinfo=UTC),
        "place": "City Hall, room 2",
        "slots": [{"name": "Stewards (day 1)", "capacity": 2, "skill": None}],
    }
    text = views.render(t, draft, "Asia/Beirut")
    assert f"{FSI}Stewards (day 1){PDI}" in text
    assert f"{FSI}Line one.{PDI}\n{FSI}Line two!{PDI}" in text
    assert unisolated_latin(text) == []
    assert decision_views._name(t, "Anna B.") == f"{FSI}Anna B.{PDI}"
    english = translator("en")
    assert FSI not in views.render(english, draft, "Asia/Beirut")


def test_one_date_style_per_language() -> None:
    moment = datetime(2026, 12, 5, 17, 30, tzinfo=UTC)
    t = translator("ar")
    assert t.datetime_text(moment, "UTC") == "5 ديسمبر 2026، 5:30 م"
    assert t.date_text(moment, "UTC") == "5 ديسمبر 2026"
    assert views.when_text(t, moment, "UTC") == f"السبت، 5 ديسمبر 2026، 5:30 م ({FSI}UTC{PDI})"
    en = translator("en")
    assert views.when_text(en, moment, "UTC") == "Saturday, December 5, 2026, 5:30\u202fPM (UTC)"


def test_lists_built_in_code_use_the_language_s_punctuation() -> None:
    from handlers.coalition.audit import details_text
    from storage.models import AuditEntry

    entry = AuditEntry(details={"role": "chair", "kind": "individual", "extra": {"a": 1, "b": 2}})
    shown = details_text(translator("ar"), entry, "UTC")
    assert "؛ " in shown and "; " not in shown and ", " not in shown
    assert "; " in details_text(translator("en"), entry, "UTC")

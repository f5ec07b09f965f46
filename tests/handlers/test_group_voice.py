"""A group's own language and time zone: the members' majority, ties settled alphabetically;
every decision post, from the first, and every reply in the group are written in it."""

from __future__ import annotations

import pytest

from handlers.decisions.group_voice import most_common, valid_locale, valid_timezone
from handlers.kernel.i18n import translator
from tests.conftest import COORDINATOR_ID
from tests.support.groups import Group, make_volunteer
from tests.support.recording import Conversation, RecordingMessenger, Someone


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


@pytest.fixture
def group(conversation: Conversation) -> Group:
    """The coalition's supergroup."""
    return Group(conversation)


async def _arabic_group(
    conversation: Conversation, group: Group, messenger: RecordingMessenger, *, known: bool
) -> Someone:
    """Coral (a coordinator in English, in London) and two members who read Arabic, in Beirut:
    known to Chorus already, or only to Telegram (the bot joined after them)."""
    coral = conversation.person("Coral", user_id=COORDINATOR_ID)
    await make_volunteer(conversation, coral, language="en", timezone="Europe/London")
    people = [conversation.person(name) for name in ("Amira", "Bilal")]
    for someone in people:
        await make_volunteer(conversation, someone, language="ar", timezone="Asia/Beirut")
        messenger.members[(group.id, someone.person.id)] = "member"
    messenger.members[(group.id, coral.person.id)] = "administrator"
    if known:
        await group.join(*people)
    return coral


async def test_the_first_decision_is_written_in_the_voice_decisions_reports(
    conversation: Conversation, group: Group, messenger: RecordingMessenger
) -> None:
    coral = await _arabic_group(conversation, group, messenger, known=False)
    await group.say(coral, "/consensus Proposal | in 3d | anonymous")
    await group.say(coral, "/poll Venue? | Hall | Park | anonymous | abstain | in 3d")
    await conversation.dispatcher.services.edits.flush()  # the members found meanwhile
    ar = translator("ar")
    for question in ("Proposal", "Venue?"):
        posted = group.find(question).text
        assert "(\u2068Asia/Beirut\u2069)" in posted and "Europe/London" not in posted
        assert "Closes" not in posted
    assert ar("decisions.abstain_option") in group.find("Venue?").labels
    await group.say(coral, "/decisions")
    assert "\u2068العربية\u2069" in group.last.text and "Asia/Beirut" in group.last.text
    await group.say(coral, "/poll Again? | Yes | No | anonymous")
    assert "(\u2068Asia/Beirut\u2069)" in group.find("Again?").text


async def test_command_replies_in_a_group_are_in_the_groups_language(
    conversation: Conversation, group: Group, messenger: RecordingMessenger
) -> None:
    coral = await _arabic_group(conversation, group, messenger, known=True)
    await group.say(coral, "/poll")
    assert group.last.text == translator("ar")("polls.usage")
    await group.say(coral, "/decisions")
    assert "قرارات هذه المجموعة" in group.last.text and "Decisions of this group" not in (
        group.last.text
    )
    await group.say(coral, "/decisions language fr")  # the answer: in the group's new language
    assert group.last.text.startswith("Enregistré\u202f: les décisions de ce groupe")
    await group.say(coral, "/poll Venue? | Hall | in 3d")  # a mistake: told in French
    assert "Envoyez /poll seul pour voir comment l’écrire." in group.last.text


async def test_a_group_s_language_is_named_as_running_text_names_it(
    conversation: Conversation, messenger: RecordingMessenger
) -> None:
    """A group's language named in a sentence is named as running text in the group's language
    names it: "rédigées en français", not "en Français" (found by review)."""
    group = Group(conversation)
    coral = await _arabic_group(conversation, group, messenger, known=True)
    await group.say(coral, "/decisions language fr")
    said = group.last.text.replace("\u2068", "").replace("\u2069", "")
    assert "rédigées en français" in said, said
    await group.say(coral, "/decisions language es")
    said = group.last.text.replace("\u2068", "").replace("\u2069", "")
    assert "se escriben ahora en español" in said, said

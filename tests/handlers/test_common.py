"""/language switches the person's language and their command menu (handlers/people/common.py)."""

from __future__ import annotations

from handlers.kernel.i18n import translator
from tests.support.groups import make_volunteer
from tests.support.recording import Conversation


async def test_language_updates_the_person_s_command_menu(conversation: Conversation) -> None:
    pablo = conversation.person("Pablo", language_code="fr")
    await make_volunteer(conversation, pablo)
    await pablo.send("/language")
    await pablo.press("Español")
    assert "Español" in pablo.last.text
    menus = {
        key: commands
        for key, commands in conversation.messenger.commands.items()
        if key[2] == pablo.person.id
    }
    assert {language for _, language, _ in menus} == {None, "en", "fr", "es", "ar"}
    spanish_help = translator("es")("command.help")
    for commands in menus.values():
        described = {c.command: c.description for c in commands}
        assert described["help"] == spanish_help


async def test_help_during_registration_says_to_answer_or_cancel(
    conversation: Conversation,
) -> None:
    """/help in the middle of registering said "Start with /start to register" (newcomer
    trial): they had started; it now says how to go on."""
    lee = conversation.person("Lee")
    await lee.send("/start")
    await lee.send("/help")
    assert "You are registering: answer the question above" in lee.last.text
    assert "Start with /start to register" not in lee.last.text
    await lee.send("/cancel")
    await lee.send("/help")
    assert "Start with /start to register" in lee.last.text

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

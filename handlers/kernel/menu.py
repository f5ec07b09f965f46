"""The command menus, derived from the permission table (handlers/permissions.py COMMANDS):
everyone's private menu, the groups' menu, and each role holder's own private menu, with
descriptions in each language. /help lists the same commands."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from handlers.kernel.i18n import SUPPORTED_LOCALES, Translator, translator
from handlers.kernel.permissions import menu_commands
from handlers.kernel.ports import BotCommand, Messenger, MessengerError

log = logging.getLogger(__name__)


def _described(t: Translator, names: list[str]) -> list[BotCommand]:
    return [BotCommand(name, t(f"command.{name}")) for name in names]


def commands_for_roles(t: Translator, held: Iterable[str]) -> list[BotCommand]:
    """The private-chat menu of a person holding `held` roles (none: everyone's), in the
    translator's language: only the commands those roles may run."""
    return _described(t, menu_commands(frozenset(held)))


def group_commands(t: Translator) -> list[BotCommand]:
    """The menu of group chats (the commands anyone may run there)."""
    return _described(t, menu_commands(None))


async def publish_for(
    messenger: Messenger,
    user_id: int,
    held: Iterable[str],
    default_locale: str,
    chosen: str | None = None,
) -> bool:
    """Sets one person's private menu (chat scope) for every Telegram app language; False if
    Telegram refused. With `chosen` (the language the person picked with /language) every entry
    is in that language, since Telegram picks a chat's menu by the app's language first."""
    roles = frozenset(held)
    try:
        for locale in SUPPORTED_LOCALES:
            commands = commands_for_roles(translator(chosen or locale), roles)
            await messenger.set_commands(commands, language=locale, chat_id=user_id)
            if locale == default_locale:
                await messenger.set_commands(commands, language=None, chat_id=user_id)
    except MessengerError as exc:
        log.info("no menu for %s yet: %s", user_id, exc)
        return False
    return True

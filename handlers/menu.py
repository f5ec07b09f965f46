"""The command menu: which commands each audience sees, with localised descriptions."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from handlers.i18n import SUPPORTED_LOCALES, Translator, translator
from handlers.ports import BotCommand, Messenger, MessengerError
from storage.roles import COORDINATORS

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MenuEntry:
    """A command and who sees it in the menu."""

    command: str
    audience: str  # private | coordinator | group
    roles: frozenset[str] = frozenset()  # coordinator entries: who sees them (empty: coordinators)

    def shown_to(self, held: Iterable[str]) -> bool:
        """True when a person with these roles sees the entry in their private menu."""
        if self.audience == "private":
            return True
        if self.audience != "coordinator":
            return False
        return bool(set(held) & (self.roles or COORDINATORS))


MENU: tuple[MenuEntry, ...] = (
    MenuEntry("start", "private"),
    MenuEntry("help", "private"),
    MenuEntry("profile", "private"),
    MenuEntry("language", "private"),
    MenuEntry("cancel", "private"),
    MenuEntry("newaction", "coordinator"),
    MenuEntry("actions", "coordinator"),
    MenuEntry("roster", "coordinator"),
    MenuEntry("poll", "group"),
    MenuEntry("consensus", "group"),
    MenuEntry("decisions", "group"),
)


def commands_for(t: Translator, audiences: tuple[str, ...]) -> list[BotCommand]:
    """The menu of the given audiences, described in the translator's language."""
    return [
        BotCommand(entry.command, t(f"command.{entry.command}"))
        for entry in MENU
        if entry.audience in audiences
    ]


def add(*entries: MenuEntry) -> None:
    """Adds commands of a conversation area to the menu (called where routers are assembled)."""
    global MENU
    known = {entry.command for entry in MENU}
    MENU = MENU + tuple(entry for entry in entries if entry.command not in known)


def commands_for_roles(t: Translator, held: Iterable[str]) -> list[BotCommand]:
    """The private-chat menu of a person holding `held` roles (none: a member)."""
    roles = frozenset(held)
    return [
        BotCommand(entry.command, t(f"command.{entry.command}"))
        for entry in MENU
        if entry.shown_to(roles)
    ]


async def publish_for(
    messenger: Messenger, user_id: int, held: Iterable[str], default_locale: str
) -> bool:
    """Sets one person's private menu (chat scope) in every language; False if Telegram refused."""
    roles = frozenset(held)
    try:
        for locale in SUPPORTED_LOCALES:
            commands = commands_for_roles(translator(locale), roles)
            await messenger.set_commands(commands, language=locale, chat_id=user_id)
            if locale == default_locale:
                await messenger.set_commands(commands, language=None, chat_id=user_id)
    except MessengerError as exc:
        log.info("no menu for %s yet: %s", user_id, exc)
        return False
    return True

"""The command menu: which commands each audience sees, with localised descriptions."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.i18n import Translator
from handlers.ports import BotCommand


@dataclass(frozen=True, slots=True)
class MenuEntry:
    """A command and who sees it in the menu."""

    command: str
    audience: str  # private | coordinator | group


MENU: tuple[MenuEntry, ...] = (
    MenuEntry("start", "private"),
    MenuEntry("help", "private"),
    MenuEntry("profile", "private"),
    MenuEntry("language", "private"),
    MenuEntry("cancel", "private"),
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

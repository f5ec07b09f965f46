"""Start-up: settings → database at head → runtime → neutral dispatcher → polling."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import ConfigError, Settings, sqlite_path
from bot.scheduler import TimerScheduler
from handlers import build_router
from handlers.context import HandlerSettings, Services
from handlers.dispatch import Dispatcher
from handlers.i18n import SUPPORTED_LOCALES, translator
from handlers.menu import commands_for
from handlers.ports import BotBlocked, Clock, Messenger, MessengerError, SystemClock, Unauthorized
from storage import create_engine, create_sessionmaker, migrate, roles, updates

log = logging.getLogger(__name__)


class Runtime(Protocol):
    """What a Telegram framework must offer Chorus."""

    name: str

    @property
    def messenger(self) -> Messenger: ...

    async def username(self) -> str: ...

    async def poll(self, dispatcher: Dispatcher, stop: asyncio.Event) -> None: ...

    async def close(self) -> None: ...


@dataclass(slots=True)
class Running:
    """A started Chorus, for the sandbox and tests: move its clock, wake its scheduler."""

    dispatcher: Dispatcher
    scheduler: TimerScheduler
    runtime: Runtime


@dataclass(slots=True)
class Storage:
    """The open database."""

    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]


async def open_storage(url: str) -> Storage:
    """Opens the database and brings its schema to head, or raises ConfigError."""
    path = sqlite_path(url)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"DATABASE_URL: cannot create {path.parent}: {exc.strerror}") from exc
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
    except (OSError, SQLAlchemyError) as exc:
        await engine.dispose()
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise ConfigError(f"DATABASE_URL: cannot open the database: {reason}") from None
    return Storage(engine, create_sessionmaker(engine))


def create_runtime(settings: Settings, token: str, api_url: str) -> Runtime:
    """The runtime chosen by BOT_RUNTIME."""
    if settings.bot_runtime == "ptb":
        try:
            from bot.ptb_runtime import PtbRuntime
        except ImportError as exc:
            raise ConfigError(
                "BOT_RUNTIME=ptb needs python-telegram-bot: pip install 'chorus[ptb]'"
            ) from exc
        runtime: Runtime = PtbRuntime(token, api_url)
        return runtime
    from bot.aiogram_runtime import AiogramRuntime

    return AiogramRuntime(token, api_url)


async def publish_commands(
    messenger: Messenger, admin_ids: frozenset[int], default_locale: str
) -> None:
    """Sets the command menus: per language, for private chats, groups and coordinators."""
    for locale in SUPPORTED_LOCALES:
        t = translator(locale)
        languages: list[str | None] = [locale]
        if locale == default_locale:
            languages.append(None)
        for language in languages:
            await messenger.set_commands(
                commands_for(t, ("private",)), language=language, scope="private"
            )
            group = commands_for(t, ("group",))
            if group:
                await messenger.set_commands(group, language=language, scope="groups")
            for admin in sorted(admin_ids):
                try:
                    await messenger.set_commands(
                        commands_for(t, ("private", "coordinator")),
                        language=language,
                        chat_id=admin,
                    )
                except (BotBlocked, MessengerError) as exc:
                    log.info("no coordinator menu for %s yet: %s", admin, exc)


async def prepare(
    settings: Settings, storage: Storage, runtime: Runtime, clock: Clock
) -> Dispatcher:
    """Builds the neutral dispatcher for a runtime and gets the database ready."""
    try:
        username = await runtime.username()
    except Unauthorized as exc:
        raise ConfigError("BOT_TOKEN: Telegram rejected the token") from exc
    except MessengerError as exc:
        raise ConfigError(f"TELEGRAM_API_URL: cannot reach the Bot API: {exc}") from exc
    services = Services(
        sessionmaker=storage.sessionmaker,
        messenger=runtime.messenger,
        clock=clock,
        settings=HandlerSettings(
            admin_ids=settings.admin_ids,
            default_locale=settings.default_locale,
            default_timezone=settings.default_timezone,
            bot_username=username,
        ),
    )
    async with storage.sessionmaker() as session, session.begin():
        await roles.ensure_admins(session, settings.admin_ids, clock.now())
        await updates.prune(session, clock.now())
    return Dispatcher(build_router(), services)


async def run_bot(
    settings: Settings,
    *,
    token: str,
    api_url: str,
    database_url: str,
    stop: asyncio.Event,
    clock: Clock | None = None,
    on_ready: Callable[[Running], None] | None = None,
) -> None:
    """Runs Chorus until `stop` is set; `on_ready` gets the running parts before polling."""
    storage = await open_storage(database_url)
    runtime = create_runtime(settings, token, api_url)
    the_clock = clock or SystemClock()
    scheduler: TimerScheduler | None = None
    try:
        dispatcher = await prepare(settings, storage, runtime, the_clock)
        scheduler = TimerScheduler(dispatcher, the_clock)
        dispatcher.services.scheduler = scheduler
        await publish_commands(runtime.messenger, settings.admin_ids, settings.default_locale)
        await scheduler.start()
        if on_ready is not None:
            on_ready(Running(dispatcher, scheduler, runtime))
        log.info("Chorus is running on %s (%s)", api_url, runtime.name)
        await runtime.poll(dispatcher, stop)
    finally:
        if scheduler is not None:
            await scheduler.shutdown()
        await runtime.close()
        await storage.engine.dispose()

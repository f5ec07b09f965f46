"""Start-up: settings → database at head → runtime → neutral dispatcher → polling."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.botapi.patience import patient
from bot.config import ConfigError, Settings, sqlite_path
from bot.delivery import DeliveryConfig, DeliveryEngine, MessengerTransport, Transport
from bot.inbox import Inbox
from bot.ops import OpsServer, serve_ops
from bot.ops.backup import BackupError, hold_running
from bot.scheduler import RESYNC_EVERY, TimerScheduler
from bot.webhook import WebhookConfig
from bot.workers import Leadership, hold_only_worker
from handlers import build_router
from handlers.actions.broadcasts import refresh_refs, resume_fan_outs, resume_reports
from handlers.kernel.context import HandlerSettings, Services
from handlers.kernel.dispatch import KILL_GRACE, Dispatcher, RateLimit, stop_grace
from handlers.kernel.i18n import SUPPORTED_LOCALES, translator
from handlers.kernel.menu import commands_for_roles, group_commands, publish_for
from handlers.kernel.permissions import held_roles
from handlers.kernel.ports import Clock, Messenger, MessengerError, SystemClock, Unauthorized
from storage import create_engine, create_read_sessionmaker, create_sessionmaker, migrate, retention
from storage.coalition import role_store

log = logging.getLogger(__name__)
DELIVERY_LEASE = 60.0  # several workers: seconds before a dead worker's outbox rows go again
LEADER_RESYNC = timedelta(seconds=10)  # several workers: timers set elsewhere reach the leader


class Runtime(Protocol):
    """What a Telegram framework must offer Chorus."""

    name: str

    @property
    def messenger(self) -> Messenger: ...

    async def username(self) -> str: ...

    async def poll(self, dispatcher: Dispatcher, stop: asyncio.Event) -> None: ...

    async def serve_webhook(
        self, dispatcher: Dispatcher, stop: asyncio.Event, config: WebhookConfig
    ) -> None: ...

    async def close(self) -> None: ...


@dataclass(slots=True)
class Running:
    """A started Chorus, for the sandbox and tests: move its clock, wake its scheduler."""

    dispatcher: Dispatcher
    scheduler: TimerScheduler
    runtime: Runtime
    delivery: DeliveryEngine | None = None
    ops: OpsServer | None = None  # /healthz and /metrics, when served
    leadership: Leadership | None = None  # who runs the timers (several workers)


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
    messenger: Messenger,
    admin_ids: frozenset[int],
    default_locale: str,
    held: Mapping[int, frozenset[str]] | None = None,
) -> None:
    """Sets the command menus: per language, for private chats and groups, and for each person
    with a role (owners from ADMIN_IDS included) the menu of their roles (chat scope)."""
    for locale in SUPPORTED_LOCALES:
        t = translator(locale)
        languages: list[str | None] = [locale]
        if locale == default_locale:
            languages.append(None)
        for language in languages:
            await messenger.set_commands(
                commands_for_roles(t, ()), language=language, scope="private"
            )
            group = group_commands(t)
            if group:
                await messenger.set_commands(group, language=language, scope="groups")
    stored = dict(held or {})
    people = {
        uid: held_roles(uid, stored.get(uid, frozenset()), admin_ids)
        for uid in set(stored) | set(admin_ids)
    }
    for user_id in sorted(people):
        await publish_for(messenger, user_id, people[user_id], default_locale)


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
        reads=create_read_sessionmaker(storage.engine),
        messenger=patient(runtime.messenger),  # direct posts wait out flood control
        clock=clock,
        started_at=clock.now(),
        settings=HandlerSettings(
            admin_ids=settings.admin_ids,
            default_locale=settings.default_locale,
            default_timezone=settings.default_timezone,
            bot_username=username,
            retention=retention.RetentionPolicy(
                outbox_days=settings.retention_outbox_days,
                updates_days=settings.retention_updates_days,
                audit_days=settings.retention_audit_days,
            ),
        ),
    )
    async with storage.sessionmaker() as session, session.begin():
        configured = {uid: held_roles(uid, (), settings.admin_ids) for uid in settings.admin_ids}
        await role_store.ensure(session, configured, clock.now())
        await retention.ensure_scheduled(session, clock.now())
    return Dispatcher(build_router(), services)


def create_delivery(
    settings: Settings, storage: Storage, runtime: Runtime, dispatcher: Dispatcher, clock: Clock
) -> DeliveryEngine:
    """The paced outbox worker, on the runtime's lean send path when it has one."""
    bulk_sender = getattr(runtime, "bulk_sender", None)
    transport: Transport = (
        bulk_sender() if callable(bulk_sender) else MessengerTransport(runtime.messenger)
    )
    services = dispatcher.services

    async def report(refs: set[str]) -> None:
        await refresh_refs(services, refs)

    return DeliveryEngine(
        storage.sessionmaker,
        transport,
        clock,
        DeliveryConfig(
            rate=settings.broadcast_rate,
            lease=None if storage.engine.dialect.name == "sqlite" else DELIVERY_LEASE,
        ),
        on_flush=report,
    )


async def share_limits(
    redis_url: str,
    dispatcher: Dispatcher,
    delivery: DeliveryEngine,
    clock: Clock,
    namespace: str = "chorus",
) -> list[Callable[[], Awaitable[None]]]:
    """Several workers: the per-person rate limit, the 429 pause and the sending pace on Redis
    (lazy import: only with REDIS_URL, which needs the `redis` extra), under `namespace`
    (shared_limits.namespace_for: one per bot). Returns the steps that close them."""
    from bot.shared_limits import SharedPace, SharedPause, SharedRateLimiter

    limiter = SharedRateLimiter(redis_url, RateLimit(), clock, namespace)
    try:
        await limiter.check()
    except BaseException:
        await limiter.close()
        raise
    dispatcher.limiter = limiter
    pause = SharedPause(redis_url, delivery.pause, namespace)
    delivery.on_rate_limited = pause.publish
    pace = SharedPace(redis_url, delivery.config.pace, delivery.config.rate, namespace=namespace)
    delivery.share_pace(pace)
    await pause.start()
    return [pause.stop, limiter.close, pace.close]


async def stop_delivery(delivery: DeliveryEngine) -> None:
    """A graceful stop records every result; a cancelled (killed) bot stops like a crash."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        await delivery.abort()
    else:
        await delivery.stop()


async def _lead(
    scheduler: TimerScheduler,
    resync: timedelta,
    services: Services,
    resuming: set[asyncio.Task[None]],
) -> None:
    """Elected leader (at once on SQLite): fires the timers, and resumes in the background the
    broadcast fan-outs (issue 17) and reports (issue 13) a crash interrupted before this moment
    (once, by the leader)."""
    await scheduler.start(resync)
    task = asyncio.get_running_loop().create_task(_resume(services, services.clock.now()))
    resuming.add(task)
    task.add_done_callback(resuming.discard)


async def _resume(services: Services, before: datetime) -> None:
    """The rest of the interrupted fan-outs is enqueued first: their reports then count it."""
    await resume_fan_outs(services)
    await resume_reports(services, before)


async def _finish_tasks(tasks: set[asyncio.Task[None]], grace: float) -> None:
    """Gives background tasks `grace` seconds to finish, then cancels them."""
    if not tasks:
        return
    _, late = await asyncio.wait(set(tasks), timeout=grace)
    for task in late:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _finish_edits(services: Services, killed: bool) -> None:
    """Sends the live-result edits still waiting (a stop), or drops them (a kill)."""
    if killed:
        services.edits.close()
    else:
        await services.edits.flush()


async def _close_all(steps: list[Callable[[], Awaitable[None]]]) -> None:
    """Runs every clean-up step, even when an earlier one fails or the bot is being killed."""
    for step in steps:
        try:
            await step()
        except (Exception, asyncio.CancelledError):
            log.exception("clean-up step %s failed", step)


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
    only = hold_only_worker(database_url)  # SQLite: one worker (ConfigError for a second)
    try:
        lock = hold_running(database_url)  # `chorus db restore` refuses while it is held
    except BackupError as exc:
        only.release()
        raise ConfigError(str(exc)) from None
    try:
        storage = await open_storage(database_url)
    except BaseException:
        lock.release()
        only.release()
        raise
    runtime = create_runtime(settings, token, api_url)
    the_clock = clock or SystemClock()
    hook = WebhookConfig.from_settings(settings, token)
    scheduler: TimerScheduler | None = None
    delivery: DeliveryEngine | None = None
    dispatcher: Dispatcher | None = None
    server: OpsServer | None = None
    leadership: Leadership | None = None
    shared: list[Callable[[], Awaitable[None]]] = []  # closes what is shared on Redis
    resuming: set[asyncio.Task[None]] = set()  # reports a crash interrupted (_lead)
    try:
        dispatcher = await prepare(settings, storage, runtime, the_clock)
        scheduler = TimerScheduler(dispatcher, the_clock)
        dispatcher.services.scheduler = scheduler
        delivery = create_delivery(settings, storage, runtime, dispatcher, the_clock)
        dispatcher.services.delivery = delivery
        if settings.redis_url is not None:
            from bot.shared_limits import namespace_for

            shared = await share_limits(
                settings.redis_url, dispatcher, delivery, the_clock, namespace_for(token)
            )
        async with storage.sessionmaker() as session:
            held = await role_store.everyone(session)
        await publish_commands(runtime.messenger, settings.admin_ids, settings.default_locale, held)
        leadership = Leadership(
            storage.engine,
            on_elected=functools.partial(
                _lead,
                scheduler,
                RESYNC_EVERY if storage.engine.dialect.name == "sqlite" else LEADER_RESYNC,
                dispatcher.services,
                resuming,
            ),
            on_deposed=scheduler.stand_by,
        )
        await scheduler.stand_by()
        await leadership.start()
        await delivery.start()
        server = await serve_ops(
            settings.metrics_host,
            settings.metrics_port,
            sessionmaker=storage.sessionmaker,
            clock=the_clock,
            heartbeat=None if hook else getattr(runtime, "heartbeat", None),
            dispatcher=dispatcher,
            scheduler=scheduler,
            delivery=delivery,
        )
        await Inbox(dispatcher).replay()  # what a crash left received but not handled
        if on_ready is not None:
            on_ready(Running(dispatcher, scheduler, runtime, delivery, server, leadership))
        log.info(
            "Chorus %s as @%s through the Bot API at %s (%s runtime)",
            "is starting its webhook server" if hook else "is polling for updates",
            dispatcher.services.settings.bot_username,
            urlsplit(api_url).netloc.rpartition("@")[2],
            runtime.name,
        )
        if hook is not None:
            await runtime.serve_webhook(dispatcher, stop, hook)
        else:
            await runtime.poll(dispatcher, stop)
    finally:
        # Stopped: let the work in hand finish. Killed (cancelled): stop almost at once, as a
        # crash would, but give an update or timer that is inside a database call a moment to
        # leave it: an SQLite call cancelled halfway leaves its worker thread holding the lock.
        grace = stop_grace()
        killed = grace == KILL_GRACE
        steps: list[Callable[[], Awaitable[None]]] = []
        if server is not None:
            steps.append(server.stop)
        if dispatcher is not None:
            steps.append(functools.partial(dispatcher.drain, grace))
            steps.append(functools.partial(_finish_edits, dispatcher.services, killed))
        # Producers before the consumer: timers being fired may still enqueue messages, which
        # a graceful stop of the delivery engine then sends.
        if leadership is not None:
            steps.append(leadership.stop)
        steps.append(functools.partial(_finish_tasks, resuming, grace))
        if scheduler is not None:
            steps.append(functools.partial(scheduler.shutdown, grace))
        if delivery is not None:
            steps.append(functools.partial(stop_delivery, delivery))
        steps += shared
        steps += [runtime.close, storage.engine.dispose]
        await _close_all(steps)
        lock.release()
        only.release()


YOUNG_THRESHOLD = 20_000  # allocations between collections of the youngest generation (700)


def freeze_startup_heap(_: object = None) -> None:
    """Tunes the garbage collector for a long-lived bot, once `chorus run` is ready (its
    `on_ready`; Python's gc module documentation for both calls):

    - what start-up built (modules, the router, compiled statements, ~330k objects) is left out
      of the full collections (`gc.collect`, then `gc.freeze`): each walked all of it again,
      about 260 ms, seven during a 2,000-press storm, a fifth of a worker's CPU;
    - the youngest generation is collected every YOUNG_THRESHOLD allocations rather than
      every 700: an update allocates thousands of short-lived objects (statements, rows,
      models), and each young collection also walked those still in use (the storm on
      PostgreSQL: 2.5 → 1.9 ms of CPU an update, tests/bench).

    For `chorus run` only: a test process that starts many bots would keep every one's
    leftovers."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)


async def start_bot(
    settings: Settings,
    *,
    token: str,
    api_url: str,
    database_url: str,
    stop: asyncio.Event,
    clock: Clock,
    ready_within: float,
) -> tuple[asyncio.Task[None], Running]:
    """Runs Chorus as a task and returns once it polls (the sandbox and tests use this);
    raises what stopped it from starting, or TimeoutError."""
    ready: asyncio.Future[Running] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(
        run_bot(
            settings,
            token=token,
            api_url=api_url,
            database_url=database_url,
            stop=stop,
            clock=clock,
            on_ready=ready.set_result,
        )
    )
    either: set[asyncio.Future[Any]] = {ready, task}
    done, _ = await asyncio.wait(either, timeout=ready_within, return_when=asyncio.FIRST_COMPLETED)
    if ready not in done:
        ready.cancel()
        if task in done:
            task.result()
        raise TimeoutError("Chorus did not start")
    return task, ready.result()

"""Feeds one neutral event through the routes: one transaction, then the replies."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, cast

from sqlalchemy.exc import DBAPIError

from handlers.kernel.callbacks import StaleButton, prefix_of
from handlers.kernel.context import (
    AfterCommit,
    Context,
    NotYet,
    Reply,
    ReplySender,
    Services,
)
from handlers.kernel.events import SYSTEM, Chat, ChatType, Event, EventKind
from handlers.kernel.i18n import media_words, normalise_locale, translator
from handlers.kernel.invalid_input import InvalidInput
from handlers.kernel.permissions import behalf_roles, held_roles
from handlers.kernel.ports import Clock, Forbidden, MessengerError, RetryAfter
from handlers.kernel.routing import Route, Router
from storage import inbox, outbox, timers, updates
from storage.coalition import group_store
from storage.people import person_context, preferences, volunteers

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger(__name__)

MAX_REPLY_RETRY_WAIT = 30.0
SLOW_DOWN_WAIT = 5.0  # seconds: the most a "slow down" notice may take
DEFER_DELAYS = (0.5, 1.0, 2.0, 4.0)  # seconds before an update that raised NotYet comes again
# Several workers: a person's update waits for their earlier ones received within this long
# (an older one was left by a dead worker: it is handled at the next start, out of order).
ORDER_WAIT = timedelta(seconds=30)
BATCH_MOST = 20  # updates of a getUpdates batch handled in one transaction (feed_batch)
# Transactions of `hand_over`'s chunks open at once; what comes meanwhile waits, and joins the
# next chunk (a webhook worker's requests bring a few updates each).
HANDING_OVER_OPEN = 2


def parse_command(text: str, bot_username: str) -> tuple[str, str] | None:
    """("name", "args") for "/name@bot args" addressed to this bot; None otherwise."""
    if not text.startswith("/"):
        return None
    head, _, args = text.partition(" ")
    name, _, target = head[1:].partition("@")
    if target and target.lower() != bot_username.lower():
        return None
    if not name:
        return None
    return name.lower(), args.strip()


@dataclass(frozen=True, slots=True)
class RateLimit:
    """How many commands and button presses a person may make: a burst, then a steady rate."""

    burst: float = 30.0
    per_second: float = 2.0
    warn_every: float = 10.0  # at most one "slow down" reply in this many seconds


class PersonLimiter(Protocol):
    """Decides whether a person's command or press is handled: in memory (one worker), or
    shared by several workers (bot/shared_limits.py, on Redis)."""

    async def acquire(self, user_id: int) -> tuple[bool, bool]:
        """(allowed, warn): whether to handle the update, and whether to say "slow down"."""
        ...


DRAIN_TIMEOUT = 10.0  # seconds a graceful stop waits for the updates being handled
KILL_GRACE = 2.0  # seconds a killed bot gives work that is inside a database call


def stop_grace() -> float:
    """How long the updates being handled get when the bot stops: KILL_GRACE when the current
    task is being cancelled (a kill: stop almost at once, as a crash would, but let a database
    call finish), else DRAIN_TIMEOUT (a graceful stop)."""
    task = asyncio.current_task()
    return KILL_GRACE if task is not None and task.cancelling() else DRAIN_TIMEOUT


class RateLimiter:
    """A token bucket per person, in memory (cheap: no database before the decision)."""

    MAX_PEOPLE = 10_000  # beyond this, idle full buckets are dropped

    def __init__(self, limit: RateLimit, clock: Clock) -> None:
        self.limit = limit
        self.clock = clock
        self._buckets: dict[int, tuple[float, float, float]] = {}  # tokens, at, warned at

    async def acquire(self, user_id: int) -> tuple[bool, bool]:
        """`take`, as the dispatcher asks it (a limiter shared by several workers awaits)."""
        return self.take(user_id)

    def take(self, user_id: int) -> tuple[bool, bool]:
        """(allowed, warn): whether to handle the update, and whether to say "slow down"."""
        now = self.clock.now().timestamp()
        limit = self.limit
        tokens, at, warned = self._buckets.get(user_id, (limit.burst, now, float("-inf")))
        tokens = min(limit.burst, tokens + max(0.0, now - at) * limit.per_second)
        if tokens >= 1:
            self._buckets[user_id] = (tokens - 1, now, warned)
            self._prune(now)
            return True, False
        warn = now - warned >= limit.warn_every
        self._buckets[user_id] = (tokens, now, now if warn else warned)
        return False, warn

    def _prune(self, now: float) -> None:
        if len(self._buckets) <= self.MAX_PEOPLE:
            return
        full_after = self.limit.burst / self.limit.per_second
        for user_id, (_, at, _) in list(self._buckets.items()):
            if now - at > full_after:
                del self._buckets[user_id]


def log_update(event: Event, outcome: str, started: float) -> None:
    """The one INFO line per update (kind, id, duration, outcome; never text or names)."""
    duration_ms = round((time.perf_counter() - started) * 1000, 1)
    log.info(
        "update %s %s: %s in %s ms",
        event.update_id,
        event.kind.value,
        outcome,
        duration_ms,
        extra={
            "update_id": event.update_id,
            "kind": event.kind.value,
            "duration_ms": duration_ms,
            "outcome": outcome,
        },
    )


class Observer(Protocol):
    """Told what the dispatcher did (bot/ops/metrics.py counts it); must be quick, never raise."""

    def update_done(self, kind: str, outcome: str, seconds: float | None) -> None:
        """An update's outcome ("handled", "duplicate", "invalid", "error", or "refused" by the
        rate limit) and how long it took, waiting for the person's earlier updates included
        (None when refused)."""

    def timer_done(self, kind: str, outcome: str, late_seconds: float) -> None:
        """A due timer was "fired", "dropped" (later than its grace) or "failed"."""


class Unobserved:
    """The observer of a dispatcher nobody watches."""

    def update_done(self, kind: str, outcome: str, seconds: float | None) -> None:
        """Ignored."""

    def timer_done(self, kind: str, outcome: str, late_seconds: float) -> None:
        """Ignored."""


def update_kind(event: Event) -> str:
    """The kind of an update for counting: "command" for a /command, else the event kind."""
    if event.kind is EventKind.MESSAGE and (event.text or "").startswith("/"):
        return "command"
    return event.kind.value


def is_limited(event: Event) -> bool:
    """Commands, button presses and messages without text (each answered with a hint) count
    against the rate limit; dialog answers do not."""
    if event.kind is EventKind.CALLBACK:
        return True
    if event.kind is EventKind.MESSAGE and event.media is not None:
        return True
    return event.kind is EventKind.MESSAGE and (event.text or "").startswith("/")


def connection_lost(exc: BaseException) -> bool:
    """Whether the database closed the connection under a transaction (a restart, a failover,
    a pooled connection that rested: storage/db.py `ping_when_idle`): SQLAlchemy then marks
    the error `connection_invalidated` and replaces the pool's connections. Nothing of the
    transaction was kept, or its claim finds what was: it may go once more."""
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


class Dispatcher:
    """Turns events into handler calls, exactly once each, with replies after commit."""

    def __init__(self, router: Router, services: Services) -> None:
        self.router = router
        self.services = services
        self._locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._waiting: defaultdict[int, int] = defaultdict(int)
        self._inflight: set[asyncio.Future[Any]] = set()
        self.limiter: PersonLimiter = RateLimiter(RateLimit(), services.clock)
        self._deferrals: dict[int, int] = {}  # update id → times handed over again (NotYet)
        self.observer: Observer = Unobserved()
        # `hand_over`: events waiting for a chunk, the task forming chunks, the chunks whose
        # transaction is open and what tells it one ended.
        self._handing: list[Event] = []
        self._handing_task: asyncio.Task[None] | None = None
        self._open_chunks = 0
        self._chunk_ended = asyncio.Event()

    async def feed(self, event: Event) -> None:
        """Handles one event; safe to call concurrently and with redelivered updates."""
        if event.from_bot:
            return
        task = asyncio.current_task()
        if task is not None:
            # A stop waits for it (a kill cancels it) from the start: deciding its rate limit
            # may be a round trip to Redis, and its refusal sends a "slow down".
            self._inflight.add(task)
        try:
            await self._feed(event)
        finally:
            if task is not None:
                self._inflight.discard(task)

    async def _feed(self, event: Event) -> None:
        started, outcome = time.perf_counter(), "error"
        key = event.user.id
        # Counted from the start: a batch that comes meanwhile leaves this person's later
        # updates to come after this one (`feed_batch`).
        self._waiting[key] += 1
        try:
            allowed, warn = True, False
            async with self._locks[key]:
                # Asked under the person's lock, in the order of their updates (a batch's chunk
                # asks it holding the lock too): what goes over the limit is their later ones.
                # An update handed over again (NotYet) was counted when it first came.
                if is_limited(event) and event.update_id not in self._deferrals:
                    allowed, warn = await self._acquire(key)
                if allowed:
                    outcome = await self._handle(event)
            if not allowed:
                outcome = "refused"
                await self._refuse(event, warn)
                return
            await self._handled(event, outcome)
        finally:
            self._done(event, outcome, started)
            self._release(key)

    async def _acquire(self, user_id: int) -> tuple[bool, bool]:
        """The rate limit's decision (allowed, warn); a limiter that raises lets the update
        through: a limit must never cost an update (mid-chunk, those refused before it went
        unanswered and the rest waited for a restart). The shared limiter already falls back
        to this worker's own limit when Redis fails (bot/shared_limits.py): this is the last
        resort."""
        try:
            return await self.limiter.acquire(user_id)
        except Exception:
            log.exception("the rate limiter failed: an update of %s let through", user_id)
            return True, False

    async def _refuse(self, event: Event, warn: bool) -> None:
        """An update over the rate limit: forgotten, and answered with "slow down" — best
        effort: its failure must not leave a batch's chunk, whose other updates follow."""
        await self._forget(event)
        try:
            await self._slow_down(event, warn)
        except Exception:
            log.exception("could not say slow down to %s", event.user.id)

    async def _handled(self, event: Event, outcome: str) -> None:
        """What follows an update's outcome: a replayed press answered, a deferral."""
        if outcome == "duplicate":
            await self._answer_replayed_press(event)
        elif outcome == "deferred":
            self._defer(event)
        if outcome != "deferred":
            self._deferrals.pop(event.update_id, None)

    def _done(self, event: Event, outcome: str, started: float) -> None:
        log_update(event, outcome, started)
        seconds = None if outcome == "refused" else time.perf_counter() - started
        self.observer.update_done(update_kind(event), outcome, seconds)

    def _release(self, key: int) -> None:
        self._waiting[key] -= 1
        if not self._waiting[key]:
            del self._waiting[key]
            self._locks.pop(key, None)

    def spawn_batch(self, events: Sequence[Event]) -> None:
        """Handles a getUpdates batch's events in a task of its own (`feed_batch`), which
        `drain` waits for (the runtimes)."""
        if len(events) == 1:
            self.spawn(events[0])
            return
        self.track(asyncio.ensure_future(self.feed_batch(events)))

    def hand_over(self, events: Sequence[Event]) -> None:
        """`spawn_batch` as a group commit (the webhook's: each request brings one update and a
        worker's group write only the few that arrived together — a third as many with three
        workers behind the proxy). At most HANDING_OVER_OPEN of the chunks it forms have their
        transaction open at once; what is handed over meanwhile waits, in order, and makes the
        next chunk (up to BATCH_MOST), so that a busy worker handles a storm in chunks as full
        as a polling batch's whatever its share of the requests, and an idle one at once.
        `drain` waits for what is waiting (a kill cancels it: it stays in the inbox, handled
        at the next start)."""
        self._handing.extend(events)
        if self._handing_task is None or self._handing_task.done():
            self._handing_task = asyncio.ensure_future(self._form_chunks())
            self.track(self._handing_task)

    async def _form_chunks(self) -> None:
        while self._handing:
            while self._open_chunks >= HANDING_OVER_OPEN:
                self._chunk_ended.clear()
                await self._chunk_ended.wait()
            events = self._handing[:BATCH_MOST]
            del self._handing[:BATCH_MOST]
            await self.feed_batch(events, counted=True)

    def _end_chunk(self) -> None:
        self._open_chunks -= 1
        self._chunk_ended.set()

    async def feed_batch(self, events: Sequence[Event], *, counted: bool = False) -> None:
        """Handles several updates, in order, in as few transactions as it may (issue 17: a
        storm's updates cost a transaction each — its BEGIN, its COMMIT, a session, a trip
        through SQLite's write gate — as much again as their own statements).

        Up to BATCH_MOST updates share one transaction, one after the other, and their replies
        are recorded in one statement; after its commit each is answered and its replies
        sent, one person's in order (`_feed_together`, in a task of its own: the next chunk
        need not wait for the sends). A person whose earlier update is still being handled
        (or an update handed over again after NotYet) is handled alone, after it, as are a
        person's updates beyond a full chunk. Returns once every chunk holds its people's
        locks, without yielding. With `counted`, its chunks count as open until their
        transaction ends (`hand_over`)."""
        # A person's updates go in the chunk of their first, or alone once it is full: the
        # chunks' people are disjoint and none of them is waiting, so that every lock below
        # is free and taking them never yields. (A person of a later chunk whose lock was
        # taken only after waiting for an earlier chunk could be overtaken meanwhile by their
        # next update: the next batch's, a webhook's.)
        chunks: list[list[Event]] = []
        chunk_of: dict[int, list[Event]] = {}
        alone: set[int] = set()  # people whose updates of this batch are spawned, in order
        ids: set[int] = set()
        for event in events:
            if event.from_bot or event.update_id in ids:  # the same update twice: once
                continue
            ids.add(event.update_id)
            key = event.user.id
            chunk = chunk_of.get(key)
            if (
                key in alone
                or (chunk is not None and len(chunk) >= BATCH_MOST)
                or (chunk is None and (key in self._waiting or event.update_id in self._deferrals))
            ):
                # After the person's earlier update, by its lock; their later ones of this
                # batch too (a spawned task counts them waiting only once it starts).
                alone.add(key)
                self.spawn(event)
                continue
            if chunk is None:
                if not chunks or len(chunks[-1]) >= BATCH_MOST:
                    chunks.append([])
                chunk = chunk_of[key] = chunks[-1]
            self._waiting[key] += 1  # from now on, later updates come after this one
            chunk.append(event)
        for chunk in chunks:
            people = list(dict.fromkeys(event.user.id for event in chunk))
            for key in people:
                await self._locks[key].acquire()  # free: returns at once
            entered: list[bool] = []
            ended = self._end_chunk if counted else None
            if counted:
                self._open_chunks += 1
            task = asyncio.ensure_future(self._chunk(chunk, people, entered, ended))
            task.add_done_callback(partial(self._unlock_unstarted, chunk, people, entered, ended))
            self.track(task)

    async def _chunk(
        self,
        events: list[Event],
        people: list[int],
        entered: list[bool],
        ended: Callable[[], None] | None,
    ) -> None:
        entered.append(True)
        try:
            await self._feed_together(events, ended)
        finally:
            self._unlock(events, people)

    def _unlock_unstarted(
        self,
        events: list[Event],
        people: list[int],
        entered: list[bool],
        ended: Callable[[], None] | None,
        _: object,
    ) -> None:
        """A chunk cancelled before its first step (a kill) never ran its `finally`."""
        if not entered:
            self._unlock(events, people)
            if ended is not None:
                ended()

    def _unlock(self, events: list[Event], people: list[int]) -> None:
        for key in people:
            self._locks[key].release()
        for event in events:
            self._release(event.user.id)

    async def _feed_together(
        self, events: list[Event], ended: Callable[[], None] | None = None
    ) -> None:
        """One chunk of `feed_batch`, its people's locks held. If anything in the shared
        transaction raises — a failure, input no handler caught, NotYet, a lost lock — it is
        rolled back and each of its updates is handled alone, in order, exactly as `feed`
        would: its failure then costs only itself. Duplicates are found by each update's
        claim, as alone. `ended` is called once the shared transaction has ended."""
        started = time.perf_counter()
        refused: list[tuple[Event, bool]] = []
        try:
            allowed, contexts, duplicates, alone = await self._transact_together(events, refused)
        finally:
            if ended is not None:
                ended()
        for event, warn in refused:  # after: a "slow down" may wait seconds for Telegram
            try:
                await self._refuse(event, warn)
            finally:
                self._done(event, "refused", started)
        handled = {ctx.event.update_id: ctx for ctx in contexts}

        async def finish(event: Event) -> None:
            outcome = "error"
            try:
                if alone:
                    outcome = await self._handle(event)
                elif event.update_id in duplicates:
                    outcome = "duplicate"
                else:
                    await self._after_commit(handled[event.update_id])
                    outcome = "handled"
                await self._handled(event, outcome)
            except Exception:
                log.exception("update %s failed after its commit", event.update_id)
            finally:
                self._done(event, outcome, started)

        async def one_person(theirs: list[Event]) -> None:
            for event in theirs:
                await finish(event)

        by_person: defaultdict[int, list[Event]] = defaultdict(list)
        for event in allowed:
            by_person[event.user.id].append(event)
        await asyncio.gather(*(one_person(theirs) for theirs in by_person.values()))

    async def _transact_together(
        self, events: list[Event], refused: list[tuple[Event, bool]]
    ) -> tuple[list[Event], list[Context], set[int], bool]:
        """`_feed_together`'s shared transaction: the updates allowed by the rate limit (the
        others added to `refused`, with whether to warn, for the caller to refuse), the
        contexts handled, the ids found handled before, and whether it rolled back (each
        then goes alone)."""
        allowed: list[Event] = []
        for event in events:
            if is_limited(event):
                ok, warn = await self._acquire(event.user.id)
                if not ok:
                    refused.append((event, warn))
                    continue
            allowed.append(event)
        contexts: list[Context] = []
        duplicates: set[int] = set()
        try:
            async with self.services.sessionmaker() as session, session.begin():
                claims = await self._take_together(session, allowed)
                # The contexts of each person's first update, in one statement; a person's
                # later ones are read after their first has run (it may have changed them).
                firsts: dict[int, Event] = {}
                for event in allowed:
                    if event.update_id in claims:
                        firsts.setdefault(event.user.id, event)
                people = await person_context.load_many(
                    session, [(event.user.id, event.chat.id) for event in firsts.values()]
                )
                for event in allowed:
                    if event.update_id not in claims:
                        duplicates.add(event.update_id)
                        continue
                    first = firsts[event.user.id] is event
                    person = people[(event.user.id, event.chat.id)] if first else None
                    ctx = await self._context_for(session, event, claimed=True, person=person)
                    if ctx is None:
                        duplicates.add(event.update_id)
                        continue
                    await self._route(ctx)
                    contexts.append(ctx)
                await self._record_replies(contexts)
        except Exception as exc:
            log.info("%s updates rolled back together (%r): each alone now", len(allowed), exc)
            return allowed, contexts, duplicates, True
        return allowed, contexts, duplicates, False

    def _defer(self, event: Event) -> None:
        """Hands an update over again after DEFER_DELAYS[n] seconds (NotYet). Its inbox row was
        kept (the transaction rolled back), so a crash meanwhile loses nothing either."""
        tries = self._deferrals.get(event.update_id, 0)
        self._deferrals[event.update_id] = tries + 1
        delay = DEFER_DELAYS[min(tries, len(DEFER_DELAYS) - 1)]

        async def again() -> None:
            await asyncio.sleep(delay)
            await self.feed(event)

        self.track(asyncio.ensure_future(again()))

    def spawn(self, event: Event) -> asyncio.Task[None]:
        """Handles an event in a task of its own, which `drain` waits for (the runtimes)."""
        task = asyncio.create_task(self.feed(event))
        self.track(task)
        return task

    def track(self, task: asyncio.Future[None]) -> None:
        """Makes `drain` wait for a task that handles updates (or is about to)."""
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _forget(self, event: Event) -> None:
        """Removes an update refused by the rate limit from the inbox: it is done with."""
        try:
            async with self.services.sessionmaker() as session, session.begin():
                await inbox.remove(session, event.update_id)
        except Exception:
            log.exception("could not remove refused update %s from the inbox", event.update_id)

    async def drain(self, grace: float, *, cancel: bool = False) -> None:
        """Waits for the updates being handled (a graceful stop), or cancels them (a kill),
        so that no reply goes out after the messenger is closed."""
        current = asyncio.current_task()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace

        def running() -> set[asyncio.Future[Any]]:
            return {t for t in self._inflight if t is not current and not t.done()}

        while not cancel and (tasks := running()) and (left := deadline - loop.time()) > 0:
            await asyncio.wait(tasks, timeout=left)  # a task may start others: look again
        tasks = running()
        if not tasks:
            return
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks, timeout=grace)

    async def _answer_replayed_press(self, event: Event) -> None:
        """Answers a button press seen before, silently, so the person's spinner stops.

        The first delivery was handled and answered (or its answer was lost with a crash);
        Telegram refuses a second answer to the same callback query ("query is too old … or
        query ID is invalid"), which is harmless and only logged."""
        if event.callback_id is None:
            return
        try:
            await self.services.messenger.answer_button(event.callback_id, None, False)
        except MessengerError as exc:
            log.info("replayed press %s not answered again: %r", event.update_id, exc)

    async def _slow_down(self, event: Event, warn: bool) -> None:
        """Answers an update over the rate limit: "slow down" once a window, else silently."""
        log.info("rate limit: update %s from %s dropped", event.update_id, event.user.id)
        text: str | None = None
        if warn:
            async with self.services.sessionmaker() as session:
                volunteer = await volunteers.get(session, event.user.id)
                preference = await preferences.get(session, event.user.id)
            locale = (
                (volunteer.language if volunteer else None)
                or (preference.language if preference else None)
                or normalise_locale(event.user.language_code, self.services.settings.default_locale)
            )
            text = translator(locale)("errors.slow_down")
        messenger = self.services.messenger
        try:
            # Best effort, and brief: the messenger waits out flood control (up to 90 s), which
            # a notice to someone sending too much is not worth — and a stop would wait for it.
            async with asyncio.timeout(SLOW_DOWN_WAIT):
                if event.callback_id is not None:
                    await messenger.answer_button(event.callback_id, text, bool(text))
                elif text is not None:
                    await messenger.send_message(event.chat.id, text, thread_id=event.thread_id)
        except (MessengerError, TimeoutError) as exc:
            log.info("could not say slow down to %s: %r", event.user.id, exc)

    async def _handle(self, event: Event) -> str:
        """Handles one update; returns its outcome: "handled", "duplicate", "invalid" (input
        that no handler caught, answered by `_refuse_input`) or "error"."""
        made: list[Context] = []
        ctx: Context | None = None
        try:
            try:
                ctx = await self._transact(event, made)
            except DBAPIError as exc:
                if not connection_lost(exc):
                    raise
                # The database closed the connection under the transaction (a restart, a
                # failover, a connection that rested: storage/db.py `ping_when_idle`):
                # nothing was kept, or the claim finds what was. Once more, on another.
                log.warning("update %s lost its database connection: once more", event.update_id)
                made.clear()
                ctx = await self._transact(event, made)
            if ctx is None:
                return "duplicate"
        except NotYet:
            log.info("update %s refers to something not recorded yet: later", event.update_id)
            return "deferred"
        except InvalidInput as problem:
            ctx = made[-1] if made else None
            if ctx is None:  # only routes raise it; were it raised earlier, it is a failure
                return await self._failed(event, ctx)
            return await self._refuse_input(ctx, problem)
        except Exception:
            return await self._failed(event, made[-1] if made else None)
        await self._after_commit(ctx)
        return "handled"

    async def _transact(self, event: Event, made: list[Context]) -> Context | None:
        """`_handle`'s transaction: the update's context (appended to `made` as soon as it
        exists), routed, its replies recorded; None for a duplicate."""
        async with self.services.sessionmaker() as session, session.begin():
            ctx = await self._context_for(session, event)
            if ctx is None:
                return None
            made.append(ctx)
            await self._route(ctx)
            await self._record_replies([ctx])
        return ctx

    async def _after_commit(self, ctx: Context) -> None:
        """An update's transaction committed: its button press answered, its replies sent."""
        if ctx.event.kind is EventKind.CALLBACK and not ctx.answered:
            ctx.answer()
        await self.flush(ctx.outbox, ctx.event)

    async def _take_together(self, session: AsyncSession, events: list[Event]) -> set[int]:
        """Claims a chunk's updates in one statement; returns the ids claimed (the others were
        handled before). Raises NotYet when a person's earlier update is another worker's
        still (PostgreSQL): the chunk rolls back, and each of its updates goes alone."""
        now = self.services.clock.now()
        if not self._several_workers(session):  # SQLite: one worker, whose locks keep order
            return await updates.take_many(session, [event.update_id for event in events], now)
        taken = await updates.take_chunk(
            session, [(event.update_id, event.user.id) for event in events], now, now - ORDER_WAIT
        )
        if updates.Taken.AFTER_EARLIER in taken.values():
            raise NotYet
        return {update_id for update_id, one in taken.items() if one is updates.Taken.CLAIMED}

    async def _context_for(
        self,
        session: AsyncSession,
        event: Event,
        *,
        claimed: bool = False,
        person: person_context.PersonContext | None = None,
    ) -> Context | None:
        """Claims one update in `session`'s transaction (unless `claimed` already) and reads
        what its route needs (unless given `person`): its context, or None when it was handled
        before. Raises NotYet when the person's earlier update is another worker's still (the
        caller rolls back)."""
        services = self.services
        now = services.clock.now()
        may_defer = self._deferrals.get(event.update_id, 0) < len(DEFER_DELAYS)
        postgres = self._several_workers(session)
        ordered = may_defer and postgres
        if claimed:
            taken = updates.Taken.CLAIMED
        elif postgres:  # the claim and the person's context in one statement
            taken, person = await person_context.take_and_load(
                session,
                event.update_id,
                now,
                event.user.id,
                event.chat.id,
                ordered=ordered,
                received_after=now - ORDER_WAIT,
            )
        else:
            taken = await updates.take(session, event.update_id, now)
        if taken is updates.Taken.DUPLICATE:
            return None
        if taken is updates.Taken.AFTER_EARLIER:
            raise NotYet  # the person's earlier update first (another worker has it)
        on_behalf = behalf_roles(event.on_behalf)
        if person is None:
            person = await person_context.load(session, event.user.id, event.chat.id)
        volunteer = None if on_behalf is not None else person.volunteer
        held = (
            on_behalf
            if on_behalf is not None
            else held_roles(event.user.id, person.roles, services.settings.admin_ids)
        )
        preference = person.preference
        if preference and event.kind is EventKind.MESSAGE and event.chat.is_private:
            # They wrote to the bot: whatever a 403 said, it can write to them now.
            await preferences.reachable_again(session, preference, now)
        locale = (
            (volunteer.language if volunteer else None)
            or (preference.language if preference else None)
            or normalise_locale(event.user.language_code, services.settings.default_locale)
        )
        if on_behalf is not None:  # no person: the group's language, if it has one
            group = await group_store.get(session, event.chat.id)
            chosen = (group.settings or {}).get("locale") if group is not None else None
            locale = normalise_locale(chosen if isinstance(chosen, str) else None, locale)
        dialog = person.dialog
        if (
            event.chat.is_group
            and event.kind in (EventKind.MESSAGE, EventKind.CALLBACK)
            and on_behalf is None
        ):
            await group_store.seen(
                session,
                event.chat.id,
                event.chat.title or "",
                event.chat.type.value,
                event.user.id,
                now,
            )
        ctx = Context(
            event=event,
            session=session,
            services=services,
            t=translator(locale),
            volunteer=volunteer,
            roles=frozenset(held),
            dialog=dialog,
            may_defer=may_defer,
        )
        return ctx

    @staticmethod
    def _several_workers(session: AsyncSession) -> bool:
        """Whether other workers may handle this person's updates side by side: on PostgreSQL
        (SQLite allows one worker, whose per-person lock keeps the order)."""
        return session.bind is not None and session.bind.dialect.name == "postgresql"

    async def fire_timer(self, timer_id: int) -> bool:
        """Runs a due timer's handler exactly once; one later than its grace is logged, not run."""
        return await self._fire_timer(timer_id, retried=False)

    async def _fire_timer(self, timer_id: int, *, retried: bool) -> bool:
        services = self.services
        ctx: Context | None = None
        try:
            async with services.sessionmaker() as session, session.begin():
                now = services.clock.now()
                timer = await timers.get(session, timer_id)
                if timer is None or timer.status != timers.PENDING or timer.due_at > now:
                    return False
                late = (now - timer.due_at).total_seconds()
                kind = timer.kind
                if timer.grace_seconds is not None and late > timer.grace_seconds:
                    await timers.claim(session, timer_id, timers.MISSED, now)
                    self.observer.timer_done(kind, "dropped", late)
                    log.warning(
                        "timer %s %s skipped: %.0f s late, grace %s s",
                        timer.kind,
                        timer.key,
                        late,
                        timer.grace_seconds,
                    )
                    return False
                if not await timers.claim(session, timer_id, timers.DONE, now):
                    return False
                chat_id = timer.chat_id or 0
                event = Event(
                    0,
                    EventKind.TIMER,
                    SYSTEM,
                    Chat(chat_id, ChatType.GROUP if chat_id < 0 else ChatType.PRIVATE),
                    data=timer.kind,
                    payload={
                        **timer.payload,
                        "key": timer.key,
                        "late_seconds": late,
                        # due before this process started: missed because the bot was down
                        "offline": services.started_at is not None
                        and timer.due_at < services.started_at,
                    },
                )
                ctx = Context(
                    event=event,
                    session=session,
                    services=services,
                    t=translator(services.settings.default_locale),
                    volunteer=None,
                    roles=frozenset(),
                    dialog=None,
                )
                await self._run_events(f"timer:{timer.kind}", ctx)
                await self._record_replies([ctx])
        except Exception as exc:
            if not retried and connection_lost(exc):  # as `_handle`: once more, on another
                log.warning("timer %s lost its database connection: once more", timer_id)
                return await self._fire_timer(timer_id, retried=True)
            log.exception("timer %s failed", timer_id)
            async with services.sessionmaker() as session, session.begin():
                await timers.claim(session, timer_id, "failed", services.clock.now())
            if ctx is not None:
                self.observer.timer_done(kind, "failed", late)
            return False
        self.observer.timer_done(kind, "fired", late)
        await self.flush(ctx.outbox, ctx.event)
        return True

    async def run_due_timers(self) -> int:
        """Fires every timer whose moment has come (the scheduler's catch-up, and tests')."""
        async with self.services.sessionmaker() as session:
            due = await timers.due(session, self.services.clock.now())
        fired = 0
        for timer_id in due:
            fired += await self.fire_timer(timer_id)
        return fired

    async def _route(self, ctx: Context) -> None:
        event = ctx.event
        table = self.router
        if event.kind is EventKind.CALLBACK:
            await self._route_button(ctx)
            return
        if event.kind is EventKind.MESSAGE and event.media is not None:
            await self._route_media(ctx)
            return
        if event.kind is EventKind.MESSAGE and event.text is not None:
            command = parse_command(event.text, ctx.settings.bot_username)
            if command is not None:
                name, ctx.args = command
                route = table.commands.get(name)
                if route is not None:
                    await route(ctx)
                else:
                    await self._run_events("unknown_command", ctx)
                return
            if ctx.dialog is not None and ctx.dialog.flow in table.dialogs:
                await table.dialogs[ctx.dialog.flow](ctx)
                return
            await self._run_events("text", ctx)
            return
        await self._run_events(event.kind.value, ctx)

    async def _route_media(self, ctx: Context) -> None:
        """A sticker, photo, location… : a dialog says it needs text and asks its question
        again; in a private chat, a short hint; in a group, where people talk to each other,
        nothing (as for their text that is no command)."""
        table = self.router
        if ctx.dialog is not None and ctx.dialog.flow in table.dialogs:
            await table.dialogs[ctx.dialog.flow](ctx)  # the form engine (forms.on_text)
        elif ctx.event.chat.is_private:
            ctx.reply(ctx.t("media.hint", kind=media_words(ctx.t, ctx.event.media)))

    async def _route_button(self, ctx: Context) -> None:
        try:
            route: Route | None = self.router.buttons.get(prefix_of(ctx.event.data or ""))
            if route is None:
                raise StaleButton(ctx.event.data)
            await route(ctx)
        except StaleButton:
            log.info("stale or forged button %r from %s", ctx.event.data, ctx.user_id)
            ctx.outbox.clear()
            ctx.answered = False
            ctx.answer(ctx.t("errors.stale_button"), alert=True)

    async def _run_events(self, kind: str, ctx: Context) -> None:
        for route in self.router.events.get(kind, []):
            await route(ctx)

    async def _failed(self, event: Event, ctx: Context | None) -> str:
        """Logs the failure being handled, then claims the update and apologises."""
        log.exception(
            "handler failed on update %s (%s)",
            event.update_id,
            event.kind.value,
            extra={"update_id": event.update_id, "kind": event.kind.value},
        )
        await self._after_failure(event, ctx)
        return "error"

    async def _refuse_input(self, ctx: Context, problem: InvalidInput) -> str:
        """Answers input that no handler caught, once, in the person's language.

        Whatever the handler wrote is rolled back (the exception left the transaction); the
        update is claimed on its own so a redelivery does not answer twice. Typed text gets the
        explanation with the exception's keyboard; a pressed button gets it as an alert (the
        Bot API layer makes toasts plain text). Other updates are only logged.
        """
        event = ctx.event
        log.info("input refused on update %s: %s", event.update_id, problem.key)
        ctx.outbox.clear()
        ctx.answered = False
        if event.kind is EventKind.CALLBACK:
            ctx.answer(problem.text(ctx.t), alert=True)
        elif event.kind is EventKind.MESSAGE:
            ctx.reply(problem.text(ctx.t), problem.keyboard)
        async with self.services.sessionmaker() as session, session.begin():
            await inbox.remove(session, event.update_id)
            if not await updates.claim(session, event.update_id, self.services.clock.now()):
                return "duplicate"
            ctx.session = session
            await self._record_replies([ctx])  # the explanation is a reply like any other
        await self.flush(ctx.outbox, event)
        return "invalid"

    async def _after_failure(self, event: Event, ctx: Context | None) -> None:
        """Marks a failed update processed (so a replay does not crash again) and apologises."""
        services = self.services
        try:
            async with services.sessionmaker() as session, session.begin():
                await inbox.remove(session, event.update_id)
                await updates.claim(session, event.update_id, services.clock.now())
        except Exception:
            log.exception("could not record failed update %s", event.update_id)
        t = ctx.t if ctx is not None else translator(services.settings.default_locale)
        try:
            if event.callback_id is not None:
                await services.messenger.answer_button(
                    event.callback_id, t("errors.internal"), True
                )
            elif event.kind is EventKind.MESSAGE and event.chat.is_private:
                await services.messenger.send_message(event.chat.id, t("errors.internal"))
        except MessengerError:
            log.warning("could not apologise for update %s", event.update_id)

    def _reply_sender(self) -> ReplySender | None:
        """The delivery engine, when one runs (always in the bot; not in handler tests)."""
        delivery = self.services.delivery
        return cast(ReplySender, delivery) if hasattr(delivery, "send_reply") else None

    async def _record_replies(self, contexts: list[Context]) -> None:
        """Records the replies (sends and edits) of updates handled in one transaction in the
        outbox, in that transaction (one statement), so that a crash after the commit cannot
        lose them (docs/delivery.md)."""
        if self._reply_sender() is None:
            return
        replies = [action for ctx in contexts for action in ctx.outbox if isinstance(action, Reply)]
        if not replies:
            return
        now = contexts[0].now()
        recorded = await outbox.add_replies(contexts[0].session, [r.message for r in replies], now)
        for reply, item in zip(replies, recorded, strict=True):
            reply.claimed = item

    async def flush(self, actions: list[AfterCommit], event: Event) -> None:
        """Sends the replies, in order. A recorded reply goes to the delivery engine, which
        keeps it until delivered or refused for good; anything else is sent here: a person
        found unreachable is recorded with why, a 429 waited out once."""
        sender = self._reply_sender()
        for action in actions:
            if sender is not None and isinstance(action, Reply) and action.claimed is not None:
                await sender.send_reply(action.claimed)
                continue
            try:
                await self._deliver(action)
            except Forbidden as exc:
                log.info("reply to update %s refused: %r", event.update_id, exc)
                person = exc.chat_id
                if person is None and event.kind is not EventKind.TIMER:
                    person = event.user.id
                if exc.unreachable is not None and person is not None and person > 0:
                    await self._record_unreachable(person, exc.unreachable)
            except MessengerError as exc:
                log.warning("reply to update %s failed: %r", event.update_id, exc)

    async def _deliver(self, action: AfterCommit) -> None:
        messenger = self.services.messenger
        try:
            await action(messenger)
        except RetryAfter as exc:
            await asyncio.sleep(min(exc.seconds, MAX_REPLY_RETRY_WAIT))
            await action(messenger)

    async def _record_unreachable(self, user_id: int, reason: str) -> None:
        async with self.services.sessionmaker() as session, session.begin():
            await preferences.set_unreachable(session, user_id, reason, self.services.clock.now())

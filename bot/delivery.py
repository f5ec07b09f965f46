"""The delivery engine: sends the outbox at Telegram's pace, resumes after a crash.

- Pacing: one global schedule spaces sends at `rate × safety` per second (30/s by default,
  up to 1000/s in paid-broadcast mode), and each chat gets at most one message a second
  (one every three seconds for groups: 20 a minute). A 429 pauses the whole sender for its
  `retry_after`.
- Bookkeeping: rows are claimed in batches (pending → sending, one UPDATE … RETURNING), sent
  concurrently, and their results written back in batched UPDATEs every 50 ms.
- Crash safety: at most `window` rows are ever in state 'sending'. After a crash they go back
  to pending and are sent again — the only possible duplicates (see docs/delivery.md).
- Errors: 403 fails the row and every pending row to that chat; a person who blocked the bot,
  deleted their account or never started it is recorded so, with the reason (a group the bot
  left is not a person); 5xx, timeouts and dropped connections are retried with exponential backoff
  (up to `max_attempts`); a permanent 400 is recorded with Telegram's description. An edit whose
  message is gone ("message to edit not found") is posted anew, once, as a new message; an edit
  of a message of a group that became a supergroup is dropped (ids start afresh there).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.kernel.ports import (
    ChatMigrated,
    ChatNotFound,
    Clock,
    Forbidden,
    MessageGone,
    Messenger,
    MessengerError,
    NotInChat,
    RetryAfter,
    TransientError,
)
from storage import outbox
from storage.outbox import Claimed, Results
from storage.people import preferences

log = logging.getLogger(__name__)
T = TypeVar("T")


async def _wait(event: asyncio.Event, seconds: float) -> None:
    """Waits for `event` at most `seconds`; raises TimeoutError after. Not asyncio.wait_for:
    on Python 3.11 it can swallow a cancellation that arrives as the event is set, and a loop
    around it then never stops (a killed bot's delivery engine hung in abort())."""
    async with asyncio.timeout(seconds):
        await event.wait()


PERSON_UNREACHABLE = (preferences.BLOCKED, preferences.DEACTIVATED, preferences.NOT_STARTED)

FREE_RATE = 30.0
CHAT_BUSY_RECHECK = 0.02  # seconds: how soon a row whose chat has a send in flight looks again
RECLAIM = 0.1  # seconds: after a claim that found the outbox empty, before the next one (unwoken)
OnFlush = Callable[[set[str]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    """How fast and how carefully to send."""

    rate: float = FREE_RATE  # messages per second, overall
    paid: bool | None = None  # allow_paid_broadcast; None: when rate is over 30/s
    safety: float = 0.97  # pace a little under the limit
    window: int | None = None  # most rows in flight ('sending'); None: rate/5 + 8
    max_in_flight: int | None = None  # concurrent HTTP requests; None: `concurrency`
    private_interval: float = 1.0
    group_interval: float = 3.0
    max_attempts: int = 5
    reply_attempts: int = 20  # a reply to a person: 5xx retried for about 15 minutes
    retry_base: float = 1.0  # seconds before the first retry; doubles each time, at most 60
    flush_interval: float = 0.05
    report_interval: float = 0.5
    idle_poll: float = 5.0
    paced: bool = True
    # Several workers (PostgreSQL): seconds a row claimed by a worker stays its own without
    # renewal (renewed every lease/4); rows of a dead worker are sent again after it. None:
    # the only worker (SQLite), for which every row in flight at start is an orphan.
    lease: float | None = None

    @property
    def paid_mode(self) -> bool:
        """Whether sends ask for paid broadcast (Telegram's limit lifted to 1000/s)."""
        return self.paid if self.paid is not None else self.rate > FREE_RATE

    @property
    def pace(self) -> float:
        """The rate actually aimed at."""
        return self.rate * self.safety

    @property
    def concurrency(self) -> int:
        """The most HTTP requests in flight: 64, or an eighth of a second's sends at high
        rates (125 at 1000/s). A pace needs rate × latency requests open at once: with 64 at
        1000/s, answers slower than 64 ms (a loaded machine, a busy Bot API) held the paid
        broadcast at 64 / latency — 640/s at 100 ms (make bench, measured waits)."""
        return self.max_in_flight or max(64, math.ceil(self.rate / 8))

    @property
    def in_flight_window(self) -> int:
        """The most rows in state 'sending' at once: the bound on duplicates after a crash."""
        return self.window or math.ceil(self.rate / 5) + 8


class Transport(Protocol):
    """Sends one outbox row; raises the messenger's neutral errors."""

    async def send(self, item: Claimed, paid: bool) -> int:
        """Sends the row's message and returns its message id."""
        ...


class MessengerTransport:
    """A transport over any messenger port (tests, the ptb runtime): simple, not the fastest."""

    def __init__(self, messenger: Messenger) -> None:
        self.messenger = messenger

    async def send(self, item: Claimed, paid: bool) -> int:
        """Sends (or, for an edit, edits) through the messenger."""
        if item.edit_of is not None and item.keyboard_only:
            await self.messenger.edit_keyboard(item.chat_id, item.edit_of, item.keyboard)
            return item.edit_of
        if item.edit_of is not None:
            await self.messenger.edit_message(item.chat_id, item.edit_of, item.text, item.keyboard)
            return item.edit_of
        sent = await self.messenger.send_message(
            item.chat_id, item.text, item.keyboard, thread_id=item.thread_id
        )
        return sent.message_id


def _failure(exc: Forbidden) -> str:
    """The outbox failure of a 403: why a person is unreachable, or what else it was."""
    if exc.unreachable is not None:
        return exc.unreachable
    return "not_in_chat" if isinstance(exc, NotInChat) else "forbidden"


@dataclass(slots=True)
class Stats:
    """What the engine did since it started."""

    sent: int = 0
    failed: int = 0  # blocked included
    blocked: int = 0  # 403 of any kind: blocked, deactivated, not started, not in the group
    retried: int = 0
    rate_limited: int = 0
    recovered: int = 0
    superseded: int = 0  # queued edits of a message dropped for a later one (replies)


class SharedSchedule(Protocol):
    """One pace for several workers (bot/shared_limits.py, on Redis): each send reserves the
    next free slot of one schedule spaced at the overall rate, and a place in one window that
    frees a second after its answer (the cap held on arrival, whatever the jitter)."""

    async def reserve(self) -> tuple[float, str] | None:
        """(seconds to wait for the slot reserved (≤ 0: now), the ticket to pass to
        `answered`); None when the schedule cannot be reached (the worker then keeps its own
        pace)."""
        ...

    def answered(self, ticket: str) -> None:
        """The send of `ticket` was answered (or failed): its place frees a second later."""
        ...


class Pacer:
    """Spaces sends evenly at a rate, keeps Telegram's one-second window, pauses after a 429.

    The schedule is drift-free (a late wake-up is made up for within CATCH_UP seconds, so the
    pace holds at high rates). The window guard is exact whatever the jitter: the `limit`-th
    send before this one had its answer at `answered`, so it reached Telegram before then; this
    one leaves after `answered + 1 s`, so no second holds more than `limit` arrivals. Sends
    waiting at once queue in order and take their slots one after the other (one interval
    apart); only the first watches the clock and the window, woken by the answer it waits for.
    """

    CATCH_UP = 0.1
    MARGIN = 0.005
    IN_FLIGHT = math.inf

    def __init__(
        self,
        rate: float,
        limit: float,
        *,
        monotonic: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.interval = 1.0 / rate
        self.cap = max(1, int(limit))
        self.next_at = 0.0
        self.paused_until = 0.0
        self._recent: deque[list[Any]] = deque()  # [answered at, ticket] of the last `cap` sends
        self.shared: SharedSchedule | None = None  # several workers: one schedule for all
        self._monotonic = monotonic  # seconds; None: the event loop's clock (tests move theirs)
        self._sleep = sleep
        self._turn = asyncio.Lock()  # the send watching the schedule; the others queue (FIFO)
        # The oldest send of a full window, still in flight, and what its answer wakes.
        self._watched: tuple[list[Any], asyncio.Future[None]] | None = None

    def _now(self) -> float:
        return asyncio.get_running_loop().time() if self._monotonic is None else self._monotonic()

    async def slot(self) -> list[Any]:
        """Waits for the next free slot; returns the mark to pass to `answered`.

        Sends wait their turn in order (first come, first served): only the send whose turn it
        is watches the schedule and the window, the others sleep until the one before them
        has its slot (each wakes about once, however full the window)."""
        booking: list[Any] = [None, None]  # [loop time of the reserved slot, its ticket]
        while True:
            seen = self.paused_until  # the pause the reservation was made after
            if self.shared is not None:
                *booking[:], seen = await self._reserve()
            try:
                async with self._turn:
                    found = await self._free_slot(booking, seen)
            except BaseException:  # cancelled: no slot was taken; the place is given back
                self._give_back(booking)
                raise
            if found is not None:
                break
            # Paused (a 429) after the reservation: its slot would lie in the past when the
            # pause ends, and every send holding one would leave at that moment. It is given
            # back and made again out of turn: waiting for a place while holding the turn, it
            # held up the sends queued behind, which held the places it waited for.
            self._give_back(booking)
        start, now = found
        if booking[0] is None:
            self.next_at = (start if now - start <= self.CATCH_UP else now) + self.interval
        mark: list[Any] = [self.IN_FLIGHT, booking[1]]
        recent = self._recent
        recent.append(mark)
        if len(recent) > self.cap:
            recent.popleft()
        return mark

    async def _free_slot(self, booking: list[Any], seen: float) -> tuple[float, float] | None:
        """(When the slot starts, now) once it is free: the schedule's time has come, no pause
        holds it, and the window has room. None: the reservation in `booking` was made before
        a pause that began since (`seen`: the pause it was made after), to be made again."""
        recent = self._recent
        while True:
            reserved = booking[0]
            planned = self.next_at if reserved is None else reserved
            now = self._now()
            if reserved is not None and self.paused_until != seen and self.paused_until > reserved:
                return None
            start = max(planned, self.paused_until)
            if len(recent) >= self.cap:
                oldest = recent[0]
                if oldest[0] == self.IN_FLIGHT:  # woken by its answer (answered), not polling
                    await self._answer_to(oldest)
                    continue
                start = max(start, oldest[0] + 1.0)
            if start <= now + 0.002:
                return start, now
            await self._sleep(start - now + (self.MARGIN if start > planned else 0.0))

    def _give_back(self, booking: list[Any]) -> None:
        """Gives a reservation that was not used back to the shared window (never sent: its
        place frees a second later) and empties `booking`."""
        ticket = booking[1]
        booking[:] = [None, None]
        if ticket is not None and self.shared is not None:
            self.shared.answered(ticket)

    async def _answer_to(self, mark: list[Any]) -> None:
        """Returns once `mark` is answered."""
        answer = asyncio.get_running_loop().create_future()
        self._watched = (mark, answer)
        try:
            await answer
        finally:
            self._watched = None

    async def _reserve(self) -> tuple[float | None, str | None, float]:
        """The loop time of the slot reserved on the shared schedule and its ticket (None,
        None: not reachable), once any pause is over: a slot reserved during a pause would be
        spent in a burst of every waiting send (all their slots past) just after Telegram
        asked to slow down."""
        assert self.shared is not None
        left = self.paused_until - self._now()
        while left > 0:  # a pause may grow meanwhile (another 429)
            await self._sleep(left + self.MARGIN)
            left = self.paused_until - self._now()
        seen = self.paused_until  # a pause beginning while Redis answers comes after it
        granted = await self.shared.reserve()
        if granted is None:
            return None, None, seen
        wait, ticket = granted
        return self._now() + wait, ticket, seen

    def answered(self, mark: list[Any]) -> None:
        """Records when the answer to a send came back (on the shared window too)."""
        mark[0] = self._now()
        if mark[1] is not None and self.shared is not None:
            self.shared.answered(mark[1])
        watched = self._watched
        if watched is not None and watched[0] is mark and not watched[1].done():
            watched[1].set_result(None)

    def pause(self, seconds: float) -> None:
        """Nothing is sent for `seconds`."""
        until = self._now() + seconds
        self.paused_until = max(self.paused_until, until)


class DeliveryEngine:
    """Works through the outbox: the `Wakeable` the handlers nudge after queueing messages."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        transport: Transport,
        clock: Clock,
        config: DeliveryConfig | None = None,
        on_flush: OnFlush | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.transport = transport
        self.clock = clock
        self.config = config or DeliveryConfig()
        self.on_flush = on_flush
        self.stats = Stats()
        self.window = self.config.in_flight_window
        self._pacer = Pacer(self.config.pace, self.config.rate)
        self._claim_size = max(1, min(self.window // 2, 200))
        self._claim_wanted = 0
        self._semaphore = asyncio.Semaphore(self.config.concurrency)
        self._wakeup = asyncio.Event()
        self._flush_now = asyncio.Event()
        self._results = Results()
        self._report_refs: set[str] = set()
        self._last_report = 0.0
        self._reporting: asyncio.Task[None] | None = None  # `_report`, when it runs
        self._outstanding = 0
        self._ready: deque[Claimed] = deque()
        self._deferred: list[tuple[float, int, Claimed]] = []
        self._chat_next: dict[int, float] = {}
        # chat → the row being sent to it (until its answer; a 429'd row keeps it while it waits
        # its turn again): a chat's next row waits, so that a slow answer followed by a 429
        # cannot let a later message overtake an earlier one (the welcome after the question).
        self._chat_sending: dict[int, int] = {}
        # (chat, message) → (row, buttons only) of the newest queued reply editing it.
        self._newest_edit: dict[tuple[int, int], tuple[int, bool]] = {}
        # chat → (why, the highest row id held then): answered 403; the rows to it claimed by
        # then fail unsent, those queued after are tried (the person may unblock the bot).
        self._unreachable: dict[int, tuple[str, int]] = {}
        self._sends: set[asyncio.Task[None]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._database_calls: set[asyncio.Task[Any]] = set()
        self._flushed = asyncio.Event()
        self._held: set[int] = set()  # rows this engine claimed and has no result for yet
        # Several workers: told of each 429 (bot/shared_limits.py tells the others to pause).
        self.on_rate_limited: Callable[[float], None] | None = None
        self._renewed_at = 0.0

    # lifecycle

    def wake(self) -> None:
        """New rows may be waiting."""
        self._wakeup.set()

    def pause(self, seconds: float) -> None:
        """Sends nothing for `seconds` (another worker got a 429)."""
        self._pacer.pause(seconds)

    def share_pace(self, schedule: SharedSchedule) -> None:
        """Paces every send (broadcasts and replies) on a schedule shared with the other
        workers, so that `config.rate` holds for all of them together."""
        self._pacer.shared = schedule

    async def send_reply(self, item: Claimed) -> None:
        """Sends a reply now (the fast path), in the same pace as everything else.

        `item` was recorded in the handler's transaction, already 'sending'
        (storage.outbox.add_replies). It waits for a slot of the global pace (and any 429
        pause), not for its chat's interval: Telegram lets a conversation answer at once. A
        429 or a 5xx leaves it with the engine, which sends it again, paced, until it is
        delivered or refused for good (403, 400); its result is written with the others.
        """
        self._outstanding += 1
        self._held.add(item.id)
        chat = item.chat_id
        if self._chat_sending.get(chat, item.id) != item.id:
            # The chat's previous message has no answer yet (or met a 429 and waits): this one
            # goes behind it, through the queue, never ahead of it.
            if item.edit_of is not None:
                self._newest_edit[(chat, item.edit_of)] = (item.id, item.keyboard_only)
            self._ready.append(item)
            self._wakeup.set()
            return
        self._chat_sending[chat] = item.id
        mark = await self._slot(self.config.paced)
        now = asyncio.get_running_loop().time()
        self._chat_next[chat] = max(self._chat_next.get(chat, 0.0), now + self._interval(chat))
        await self._send(item, mark)
        self._flush_now.set()  # written at once: the window for a second copy stays small

    @property
    def running(self) -> bool:
        """Whether the engine is started and its loops are alive (for /healthz)."""
        return bool(self._tasks) and not any(task.done() for task in self._tasks)

    async def start(self) -> None:
        """Puts rows left in flight by a crash back in the queue, then starts working."""
        async with self.sessionmaker() as session, session.begin():
            recovered = await outbox.recover(session, self._stale_before())
        if recovered:
            self.stats.recovered = recovered
            log.warning(
                "%s outbox messages were in flight when Chorus stopped: sending them again "
                "(those Telegram had already accepted arrive twice)",
                recovered,
            )
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._run()), loop.create_task(self._flush_loop())]

    async def stop(self) -> None:
        """Stops gracefully: waits for requests in flight, records every result."""
        if not self._tasks:
            return
        main, flusher = self._tasks
        main.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await main
        await self._database_calls_done()
        if self._sends:
            await asyncio.wait(set(self._sends), timeout=10.0)
        flusher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await flusher
        await self._database_calls_done()
        await self._flush()
        await self._reports_done(10.0)
        if self._reporting is not None:
            self._reporting.cancel()
            await asyncio.gather(self._reporting, return_exceptions=True)
        unsent = [item.id for item in self._ready] + [entry[2].id for entry in self._deferred]
        if unsent:
            async with self.sessionmaker() as session, session.begin():
                await outbox.release(session, unsent)
            self._held.difference_update(unsent)
        self._ready.clear()
        self._deferred.clear()
        self._tasks = []

    async def _uncancelled(self, call: Coroutine[Any, Any, T]) -> T:
        """Runs a database call that cancelling the loop awaiting it does not interrupt.

        A graceful stop cancels the engine's loops; an SQLite call cancelled halfway would leave
        its connection inside a transaction, holding the database's write lock until collected
        (the next start then fails with "database is locked"). The call runs on as its own task;
        stop() waits for it.
        """
        task = asyncio.get_running_loop().create_task(call)
        self._database_calls.add(task)
        task.add_done_callback(self._database_calls.discard)
        return await asyncio.shield(task)

    async def _database_calls_done(self) -> None:
        if self._database_calls:
            await asyncio.wait(set(self._database_calls))

    async def _claim_ready(self, limit: int) -> int:
        """Claims up to `limit` rows into the ready queue (where stop() releases them)."""
        items = await self._claim(limit)
        self._ready.extend(items)
        return len(items)

    async def abort(self) -> None:
        """Stops at once, recording nothing more: what a crash does (a killed bot, tests)."""
        tasks = [*self._tasks, *self._sends, *self._database_calls]
        if self._reporting is not None:
            tasks.append(self._reporting)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)  # let open transactions roll back
        self._tasks = []

    async def drain(self) -> int:
        """Sends everything due now, one by one and unpaced (tests and tools); returns how many."""
        handled = 0
        while True:
            items = await self._claim(1000)
            if not items and not self._ready:
                return handled
            self._ready.extend(items)
            while self._ready:
                item = self._ready.popleft()
                await self._semaphore.acquire()
                await self._send(item)
                handled += 1
            await self._flush()
            await self._reports_done(60.0)

    async def wait_for_flush(self) -> None:
        """Returns after the next batch of results is recorded."""
        self._flushed.clear()
        await self._flushed.wait()

    async def wait_until_idle(self, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Returns once nothing is pending or in flight (checked after each recorded batch)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self._flushed.clear()
            if self._outstanding > 0 and self._tasks:  # rows in hand: surely not idle yet
                with contextlib.suppress(TimeoutError):
                    await _wait(self._flushed, min(max(deadline - loop.time(), 0.0), 1.0))
                if loop.time() < deadline:
                    continue
            async with self.sessionmaker() as session:
                idle = await outbox.next_due(session) is None
                idle = idle and not await outbox.in_flight(session)
            if idle:
                await self._reports_done(deadline - loop.time())
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError("the outbox is still not empty")
            with contextlib.suppress(TimeoutError):
                await _wait(self._flushed, min(remaining, 1.0))

    # the work

    async def _claim(self, limit: int) -> list[Claimed]:
        async with self.sessionmaker() as session, session.begin():
            items = await outbox.claim(session, limit, self.clock.now())
        self._outstanding += len(items)
        self._held.update(item.id for item in items)
        return items

    def _stale_before(self) -> datetime | None:
        """Claims renewed before this moment are a dead worker's (None: one worker)."""
        lease = self.config.lease
        return None if lease is None else self.clock.now() - timedelta(seconds=lease)

    async def _keep_claims(self) -> None:
        """Several workers: renews this engine's claims, and puts a dead worker's rows back."""
        lease = self.config.lease
        loop = asyncio.get_running_loop()
        if lease is None or loop.time() - self._renewed_at < lease / 4:
            return
        self._renewed_at = loop.time()
        async with self.sessionmaker() as session, session.begin():
            await outbox.renew(session, set(self._held), self.clock.now())
            recovered = await outbox.recover(session, self._stale_before())
        if recovered:
            self.stats.recovered += recovered
            log.warning("%s outbox messages of a stopped worker: sending them again", recovered)
            self._wakeup.set()

    def _interval(self, chat_id: int) -> float:
        return self.config.group_interval if chat_id < 0 else self.config.private_interval

    def _claim_behind(self, wanted: int) -> asyncio.Task[int]:
        """Claims up to `wanted` rows into the ready queue in a task of its own, which the
        sends do not wait for (a claim waits for the database's write lock and its thread: on a
        loaded machine, tens of milliseconds the pace lost when the loop awaited it). Like
        every database call of the engine, stop() waits for it and abort() cancels it."""
        task = asyncio.get_running_loop().create_task(self._claim_ready(wanted))
        self._database_calls.add(task)
        task.add_done_callback(self._database_calls.discard)
        self._claim_wanted = wanted
        return task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        paced = self.config.paced
        exhausted, exhausted_at = False, 0.0  # the last claim found fewer rows than it asked
        claiming: asyncio.Task[int] | None = None
        while True:
            now = loop.time()
            while self._deferred and self._deferred[0][0] <= now:
                self._ready.append(heapq.heappop(self._deferred)[2])
            if claiming is not None and claiming.done():
                got, claiming = claiming.result(), None  # a failed claim stops the loop, as before
                if got < self._claim_wanted:
                    exhausted, exhausted_at = True, now
            room = self.window - self._outstanding
            if (
                claiming is None
                and room > 0
                and len(self._ready) < self._claim_size // 2 + 1
                and (not exhausted or self._wakeup.is_set() or now - exhausted_at > RECLAIM)
            ):
                exhausted = False
                self._wakeup.clear()  # the claim sees whatever a wake-up announced
                claiming = self._claim_behind(min(room, self._claim_size))
            if not self._ready:
                if claiming is not None:
                    await asyncio.wait((claiming,))
                    continue
                await self._idle(exhausted and room > 0)
                exhausted = False
                continue
            item = self._ready.popleft()
            unreachable = self._unreachable.get(item.chat_id)
            if unreachable is not None and item.id <= unreachable[1]:
                why = unreachable[0]
                self._fail(item, why, f"unreachable: {why}")
                self.stats.blocked += 1
                self._flush_now.set()
                continue
            if self._superseded(item):
                continue
            sending = self._chat_sending.get(item.chat_id)
            if sending is not None and sending != item.id:  # an earlier row's answer first
                heapq.heappush(self._deferred, (loop.time() + CHAT_BUSY_RECHECK, item.id, item))
                continue
            ready_at = self._chat_next.get(item.chat_id, 0.0)
            if paced and ready_at > loop.time():
                heapq.heappush(self._deferred, (ready_at, item.id, item))
                continue
            self._chat_sending[item.chat_id] = item.id
            if item.edit_of is not None:
                edited = (item.chat_id, item.edit_of)
                if self._newest_edit.get(edited, (None, False))[0] == item.id:
                    del self._newest_edit[edited]  # the newest edit goes: none queued now
            mark = await self._slot(paced)
            self._chat_next[item.chat_id] = loop.time() + self._interval(item.chat_id)
            if len(self._chat_next) > 50_000:
                self._forget_old_chats(loop.time())
            task = loop.create_task(self._send(item, mark))
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)

    def _superseded(self, item: Claimed) -> bool:
        """Whether a queued reply that edits a message is done with because a later edit of
        the same message is queued behind it (the whole message, or its buttons when this one
        changes only the buttons): a volunteer pressing Can't, Maybe, Can't in a second saw
        their card go through every answer again, one edit a second, for seconds after the
        last. Its row is deleted as a delivered reply's is."""
        if not item.reply or item.edit_of is None:
            return False
        newest = self._newest_edit.get((item.chat_id, item.edit_of))
        if newest is None or newest[0] == item.id:
            return False
        newest_id, newest_keyboard_only = newest
        if newest_id < item.id or (newest_keyboard_only and not item.keyboard_only):
            return False  # an older record, or this one also changes the text: it goes
        self._results.replied.append(item.id)
        self.stats.superseded += 1
        self._flush_now.set()
        return True

    async def _slot(self, paced: bool) -> list[Any] | None:
        """A slot of the pace (None: unpaced), then a place among the requests in flight. A
        cancellation in between counts the slot as answered: its mark, in flight for ever,
        would hold the pacer's window once it is the oldest."""
        mark = await self._pacer.slot() if paced else None
        try:
            await self._semaphore.acquire()
        except BaseException:
            if mark is not None:
                self._pacer.answered(mark)
            raise
        return mark

    def _forget_old_chats(self, now: float) -> None:
        self._chat_next = {chat: t for chat, t in self._chat_next.items() if t > now}

    async def _idle(self, look_ahead: bool) -> None:
        loop = asyncio.get_running_loop()
        # Before the look ahead: a wake-up that comes while it runs (a row committed after
        # the query read the outbox) must not be lost, or the row waits for idle_poll.
        self._wakeup.clear()
        timeout = self.config.idle_poll
        if self._deferred:
            timeout = min(timeout, self._deferred[0][0] - loop.time())
        if look_ahead:
            due = await self._uncancelled(self._next_due())
            if due is not None:
                timeout = min(timeout, (due - self.clock.now()).total_seconds())
        if self._outstanding == 0:
            self._unreachable.clear()
        with contextlib.suppress(TimeoutError):
            await _wait(self._wakeup, max(timeout, 0.01))

    async def _next_due(self) -> datetime | None:
        async with self.sessionmaker() as session:
            return await outbox.next_due(session)

    async def _send(self, item: Claimed, mark: list[Any] | None = None) -> None:
        try:
            try:
                # A reply is never a paid broadcast (allow_paid_broadcast costs Stars).
                paid = self.config.paid_mode and not item.reply
                message_id = await self.transport.send(item, paid)
            finally:
                if mark is not None:
                    self._pacer.answered(mark)
        except RetryAfter as exc:
            self.stats.rate_limited += 1
            log.warning(
                "429 from Telegram after %s sends: pausing every send for %s s",
                self.stats.sent,
                exc.seconds,
            )
            self._pacer.pause(exc.seconds)
            if self.on_rate_limited is not None:
                self.on_rate_limited(exc.seconds)
            self._ready.appendleft(item)  # keeps its chat: nothing later to it goes first
            self._wakeup.set()
            return
        except Forbidden as exc:
            why = _failure(exc)
            self._fail(item, why, exc.description)
            self.stats.blocked += 1
            self._results.unreachable[item.chat_id] = why
            # the rows claimed with it (ids up to the highest held now) fail unsent; rows
            # queued after the 403 (the person may unblock the bot) are tried
            self._unreachable[item.chat_id] = (why, max(self._held, default=item.id))
        except ChatMigrated as exc:
            if item.edit_of is None:
                self._results.moved.append((item.id, exc.new_chat_id))
            else:  # its message is in the old chat: the new one numbers its messages afresh
                self._fail(item, "migrated", exc.description)
        except MessageGone as exc:
            if item.edit_of is not None and not item.keyboard_only:
                self._results.reposted.append(item.id)  # posted anew, never edited forever
            else:
                self._fail(item, "bad_request", exc.description)
        except TransientError as exc:
            self._retry(item, exc.description)
        except ChatNotFound as exc:
            self._fail(item, "chat_not_found", exc.description)
        except MessengerError as exc:
            self._fail(item, "bad_request", exc.description)
        except Exception as exc:
            log.exception("sending outbox row %s failed unexpectedly", item.id)
            self._retry(item, repr(exc))
        else:
            self.stats.sent += 1
            if item.reply:
                self._results.replied.append(item.id)
            else:
                self._results.sent.append((item.id, message_id))
        finally:
            self._semaphore.release()
        if self._chat_sending.get(item.chat_id) == item.id:
            del self._chat_sending[item.chat_id]
        # Always the current batch: one being written may not grow (see _flush).
        results = self._results
        if item.ref:
            results.refs.add(item.ref)
        if len(results) >= 200:
            self._flush_now.set()

    def _fail(self, item: Claimed, why: str, detail: str) -> None:
        self.stats.failed += 1
        self._results.failed.append((item.id, why, detail or why))

    def _retry(self, item: Claimed, detail: str) -> None:
        limit = self.config.reply_attempts if item.reply else self.config.max_attempts
        if item.attempts >= limit:
            self._fail(item, "transient", detail)
            return
        self.stats.retried += 1
        delay = min(self.config.retry_base * 2.0 ** (item.attempts - 1), 60.0)
        log.info(
            "outbox row %s: attempt %s failed (%s); next in %.0f s",
            item.id,
            item.attempts,
            detail,
            delay,
        )
        self._results.retry.append((item.id, self.clock.now() + timedelta(seconds=delay)))

    async def _flush_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await _wait(self._flush_now, self.config.flush_interval)
            self._flush_now.clear()
            try:
                await self._uncancelled(self._flush())
            except Exception:
                log.exception("recording delivery results failed; will try again")
            try:
                await self._uncancelled(self._keep_claims())
            except Exception:
                log.exception("renewing the outbox claims failed; will try again")

    async def _flush(self) -> None:
        if self._unreachable:
            # A chat answered 403 stays unreachable for the rows claimed with it (they would
            # each be refused), forgotten once none of them is held. It was cleared only once
            # nothing was out, never during a long broadcast, and held every later row too: a
            # volunteer who unblocked the bot got none of their notices (a promotion, a
            # reminder) until the outbox ran dry.
            lowest = min(self._held, default=math.inf)
            self._unreachable = {
                chat: noted for chat, noted in self._unreachable.items() if noted[1] >= lowest
            }
        results = self._results
        if not len(results):
            return
        self._results = Results()
        try:
            async with self.sessionmaker() as session, session.begin():
                now = self.clock.now()
                await outbox.record(session, results, now)
                for chat_id, why in results.unreachable.items():
                    if chat_id > 0 and why in PERSON_UNREACHABLE:
                        await preferences.set_unreachable(session, chat_id, why, now)
        except BaseException:
            self._results.merge(results)
            raise
        was_full = self._outstanding >= self.window
        self._outstanding -= len(results)
        for done in (results.sent, results.failed, results.retry, results.moved):
            self._held.difference_update(entry[0] for entry in done)
        # Delivered replies and reposted edits are done with too: kept, the set grew with every
        # reply, and each renewal of the claims sent all of it (several workers).
        self._held.difference_update(results.replied)
        self._held.difference_update(results.reposted)
        if self._outstanding == 0:
            self._unreachable.clear()  # a chat found unreachable may be reached again
        if was_full or results.retry or results.moved or results.reposted:
            # The loop may claim again: room in the window, or rows back in the queue. Not
            # after replies delivered with room to spare: each such wake-up was a claim that
            # found nothing and a look at when the next row is due, four statements, and a
            # storm's replies flush dozens of times a second (a third of a webhook worker's
            # statements in the three-worker storm).
            self._wakeup.set()
        self._flushed.set()
        self._report_refs |= results.refs
        running = self._reporting is not None and not self._reporting.done()
        if self.on_flush is not None and self._report_refs and not running:
            self._reporting = asyncio.get_running_loop().create_task(self._report())

    async def _report(self) -> None:
        """Tells `on_flush` which refs had results (the broadcasts' progress reports), at most
        every `report_interval` seconds while rows are out, and once more when none are. In a
        task of its own (`_flush` starts it): editing a progress message can wait out a 429,
        and the flush that awaited it held every result, and so the window, meanwhile. Refs
        gathered while it ran are reported in turn once the engine is idle, else at the next
        flush."""
        loop = asyncio.get_running_loop()
        while self.on_flush is not None and self._report_refs:
            now = loop.time()
            idle = self._outstanding == 0
            if not idle and now - self._last_report < self.config.report_interval:
                return
            refs, self._report_refs = self._report_refs, set()
            self._last_report = now
            try:
                await self.on_flush(refs)
            except Exception:
                log.exception("delivery report failed")

    async def _reports_done(self, timeout: float) -> None:  # noqa: ASYNC109
        """Waits (up to `timeout` seconds) for the progress reports being made."""
        if self._reporting is not None and not self._reporting.done():
            await asyncio.wait({self._reporting}, timeout=max(timeout, 0.0))

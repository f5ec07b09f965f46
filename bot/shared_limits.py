"""Limits shared by several workers, on Redis (REDIS_URL; the `redis` extra).

- The per-person rate limit on commands and button presses: the `limits` library's moving
  window on Redis (one Lua script a decision), so a person who spreads presses over three
  workers still gets the budget of one: `burst` per `burst / per_second` seconds, the same
  average as the in-memory token bucket (handlers/kernel/dispatch.py). The "slow down" answer
  is itself limited to one per `warn_every` seconds, across workers. If Redis does not answer,
  the worker decides alone (its own in-memory bucket) and says so in the log.
- The 429 pause: a worker told by Telegram to retry after N seconds publishes N on a Redis
  channel; every worker (itself included) pauses its sends for N seconds.
- The broadcast pace: every send of every worker reserves the next slot of one schedule kept
  on Redis (a Lua script on Redis's own clock), spaced at BROADCAST_RATE × safety, and a place
  in a window of BROADCAST_RATE sends held until a second after its answer, so the overall
  rate holds on arrival at Telegram however many workers send. If Redis does not answer,
  each worker keeps its own pace meanwhile (and says so in the log).

Imported only when REDIS_URL is set: `pip install .` without extras never needs Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
from collections.abc import Callable
from typing import Any, NamedTuple

from bot.config import ConfigError
from handlers.kernel.dispatch import RateLimit, RateLimiter
from handlers.kernel.ports import Clock

log = logging.getLogger(__name__)
# Keys and channels are under a namespace: `namespace_for(token)` gives each bot its own, so two
# deployments (two coalitions' bots, or a staging bot) sharing one Redis database share nothing:
# Telegram's limits are per bot.
NAMESPACE = "chorus"
PAUSE_CHANNEL = "pause"
PACE_KEY = "pace"
# Redis's clock in µs, or the clock a test gives (an argument, '' for Redis's).
NOW = """
local now
if ARGV[#ARGV] ~= '' then now = tonumber(ARGV[#ARGV]) else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
"""
# KEYS: the schedule's next free slot, the window (a sorted set: ticket -> when its place
# frees). ARGV: the interval and how far behind a slot may be and still be used (a late
# wake-up is made up for, an idle schedule is not), the window's places, the lease, the
# tickets (one per send, in order), now (µs). Reserves a place and the next slot for as many
# tickets, in order, as the window has places. Returns {now, granted, slot..., [when the
# first place frees, if not all were granted]}.
RESERVE_SLOTS = (
    NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local wanted = #ARGV - 5
local granted = math.min(wanted, math.max(0, tonumber(ARGV[3]) - redis.call('ZCARD', KEYS[2])))
local out = {string.format('%d', now), granted}
if granted > 0 then
  local lease = string.format('%d', now + tonumber(ARGV[4]))
  local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
  if slot < now - tonumber(ARGV[2]) then slot = now end
  for i = 1, granted do
    redis.call('ZADD', KEYS[2], lease, ARGV[4 + i])
    out[#out + 1] = string.format('%d', slot)
    slot = slot + tonumber(ARGV[1])
  end
  redis.call('PEXPIRE', KEYS[2], 60000)
  redis.call('SET', KEYS[1], string.format('%d', slot), 'PX', 60000)
end
if granted < wanted then
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  out[#out + 1] = string.format('%d', tonumber(first[2]))
end
return out
"""
)
# KEYS: the window. ARGV: how long after now the places free, the tickets answered, now (µs).
# A ticket no longer (or never) in the window is left out: its place is free already.
ANSWERED = (
    NOW
    + """
local frees = string.format('%d', now + tonumber(ARGV[1]))
for i = 2, #ARGV - 1 do redis.call('ZADD', KEYS[1], 'XX', frees, ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], 60000)
return #ARGV - 2
"""
)


def namespace_for(token: str) -> str:
    """The Redis namespace of one bot: 'chorus:<bot id>' (the token's public part before ':',
    the bot's user id; never the secret after it)."""
    return f"{NAMESPACE}:{token.split(':', 1)[0]}"


def _imports() -> tuple[Any, Any]:
    try:
        import coredis
        import limits.aio
    except ImportError as exc:
        raise ConfigError(
            f"REDIS_URL needs the redis extra ({exc.name} is missing): pip install 'chorus[redis]'"
        ) from None
    return limits, coredis


class SharedRateLimiter:
    """The dispatcher's PersonLimiter on Redis: one budget per person across all workers."""

    # Seconds Redis may take to decide (no timeout by default): every command and press waits
    # for it, so a Redis that does not answer would leave them all unanswered.
    ANSWER_WITHIN = 0.5

    def __init__(
        self, redis_url: str, limit: RateLimit, clock: Clock, namespace: str = NAMESPACE
    ) -> None:
        limits, coredis = _imports()
        self.pool = coredis.ConnectionPool.from_url(redis_url)
        window = max(1, round(limit.burst / limit.per_second))
        self.item = limits.RateLimitItemPerSecond(int(limit.burst), window, namespace)
        self.warn_item = limits.RateLimitItemPerSecond(
            1, max(1, round(limit.warn_every)), namespace
        )
        storage = limits.aio.storage.RedisStorage(_async_uri(redis_url), connection_pool=self.pool)
        self.storage = storage
        self.strategy = limits.aio.strategies.MovingWindowRateLimiter(storage)
        self.local = RateLimiter(limit, clock)  # while Redis does not answer
        self._failing = False

    async def acquire(self, user_id: int) -> tuple[bool, bool]:
        """(allowed, warn), decided on Redis (or locally while Redis is unreachable)."""
        try:
            async with asyncio.timeout(self.ANSWER_WITHIN):
                allowed = await self.strategy.hit(self.item, "person", str(user_id))
                warn = False
                if not allowed:
                    warn = await self.strategy.hit(self.warn_item, "slow-down", str(user_id))
        except Exception:
            if not self._failing:
                log.exception("Redis did not answer: rate limits decided by this worker alone")
            self._failing = True
            return self.local.take(user_id)
        if self._failing:
            log.warning("Redis answers again: rate limits are shared again")
            self._failing = False
        return bool(allowed), bool(warn)

    async def check(self) -> None:
        """Raises ConfigError (one line) when Redis cannot be reached at start."""
        try:
            reachable = await self.storage.check()
        except Exception:
            reachable = False
        if not reachable:
            raise ConfigError("REDIS_URL: cannot reach Redis")

    async def close(self) -> None:
        """Closes the connections to Redis."""
        self.pool.disconnect()


def _async_uri(redis_url: str) -> str:
    """limits' name for an asyncio Redis URL (async+redis://…)."""
    return redis_url if redis_url.startswith("async+") else f"async+{redis_url}"


class SharedPause:
    """Telegram's 429 pause, told to every worker through a Redis channel."""

    def __init__(
        self, redis_url: str, apply: Callable[[float], None], namespace: str = NAMESPACE
    ) -> None:
        _, coredis = _imports()
        self.client = coredis.Redis.from_url(redis_url, decode_responses=True)
        self.apply = apply
        self.channel = f"{namespace}:{PAUSE_CHANNEL}"
        self.origin = f"{os.getpid()}:{id(self)}"
        self._task: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()
        self._publishing: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listens for the other workers' pauses."""
        self._task = asyncio.get_running_loop().create_task(self._listen())

    async def _listen(self) -> None:
        while True:
            try:
                async with self.client.pubsub(channels=[self.channel]) as pubsub:
                    async for message in pubsub:
                        if message["type"] == "subscribe":
                            self.subscribed.set()
                        elif message["type"] == "message":
                            self._received(str(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("listening for shared 429 pauses failed; trying again")
                self.subscribed.clear()
                await asyncio.sleep(1.0)

    def _received(self, data: str) -> None:
        origin, _, seconds = data.partition(" ")
        with contextlib.suppress(ValueError):
            if origin != self.origin:
                self.apply(float(seconds))

    def publish(self, seconds: float) -> None:
        """Tells the other workers to pause `seconds` (this one paused already)."""
        task = asyncio.get_running_loop().create_task(self._publish(seconds))
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    async def _publish(self, seconds: float) -> None:
        try:
            await self.client.publish(self.channel, f"{self.origin} {seconds}")
        except Exception:
            log.exception("could not tell the other workers about a 429 pause")

    async def stop(self) -> None:
        """Stops listening."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await asyncio.gather(*self._publishing, return_exceptions=True)
        self.client.connection_pool.disconnect()


class Slot(NamedTuple):
    """One answer of the shared schedule, in µs of its clock: `ticket` None means the window
    was full (`at`: when its first place frees); else `at` is the slot reserved for the send."""

    at: int
    now: int
    ticket: str | None


class SharedPace:
    """The delivery engines' SharedSchedule on Redis: one pace and one window for all workers.

    Spacing the sends' starts is not enough: requests from several processes reach Telegram
    with jitter, and a start spaced 34 ms after another may arrive in the same second as the
    thirty before it (2–3 % of a three-worker broadcast were answered 429). So each send also
    holds one of `limit` places of a window from its reservation until one second after its
    answer (Redis's clock when the answer is recorded). Any `limit` + 1 arrivals within one
    second would all hold a place at the last one's arrival, which the window never grants:
    the cap holds on arrival whatever the jitter. A worker that dies holding places gives
    them back after LEASE seconds.
    """

    CATCH_UP = 0.1  # seconds a slot may lie behind Redis's clock and still be used
    # Seconds a reservation (or the record of an answer) may take: coredis has no timeout of
    # its own, and every send (the replies too) waits for its slot, so a Redis that holds the
    # connection without answering would stop this worker's sends for good instead of leaving
    # it its own pace.
    ANSWER_WITHIN = 0.5
    ASK_AGAIN = 1.0  # seconds after Redis failed to answer before a reservation asks again
    LEASE = 15.0  # seconds a place stays held by a send whose answer was never recorded
    AFTER = 1.0  # Telegram's window: a place frees this long after the answer
    ANSWERS_MOST = 200  # answers recorded by one script
    RESERVE_MOST = 100  # sends reserved for by one script

    def __init__(
        self,
        redis_url: str,
        rate: float,
        limit: float | None = None,
        key: str | None = None,
        clock: Callable[[], float] | None = None,
        namespace: str = NAMESPACE,
    ) -> None:
        _, coredis = _imports()
        self.client = coredis.Redis.from_url(redis_url, decode_responses=True)
        self.interval_us = max(1, round(1_000_000 / rate))
        self.limit = max(1, int(limit if limit is not None else rate))
        self.key = key if key is not None else f"{namespace}:{PACE_KEY}"
        self.window_key = f"{self.key}:window"
        self.clock = clock  # seconds; None: Redis's own clock (tests inject one)
        self._tickets = itertools.count(1)
        self._origin = f"{os.getpid()}:{id(self)}"
        self._recording: set[asyncio.Task[None]] = set()
        self._answers: list[str] = []  # tickets answered, not yet recorded on Redis
        self._recorder: asyncio.Task[None] | None = None
        self._failing = False
        self._failed_at = 0.0  # loop time Redis last failed to answer a reservation
        # The sends waiting for a reservation, in order, and the one task that asks Redis for
        # them. Each send used to ask for itself, and ask again whenever a place was due to free
        # (all at the same moment, one of them granted): a storm of replies spent half a
        # worker's CPU asking, and the asking grew with the square of the queue.
        self._reserver: asyncio.Task[None] | None = None
        self._closed = False
        self._wanting: list[asyncio.Future[tuple[float, str] | None]] = []  # sends waiting

    def _now(self) -> str:
        return "" if self.clock is None else str(round(self.clock() * 1_000_000))

    async def reserve(self) -> tuple[float, str] | None:
        """(seconds until the slot reserved for one send (≤ 0: now), its ticket for
        `answered`), once the window has a place; None if Redis does not answer (the worker
        keeps its own pace meanwhile). A worker's sends reserve in order, through one task
        that reserves for every send waiting in one script (`reserve_slots`): a burst of
        replies costs a round trip to Redis, not one each, and while the window is full one
        question waits for its first place to free, not every send."""
        loop = asyncio.get_running_loop()
        if self._failing and loop.time() - self._failed_at < self.ASK_AGAIN:
            return None  # asked a moment ago in vain: the sends queued behind do not wait
        wanted: asyncio.Future[tuple[float, str] | None] = loop.create_future()
        self._wanting.append(wanted)
        if self._closed:
            return None
        if self._reserver is None or self._reserver.done():
            self._reserver = loop.create_task(self._reserve_wanted())
        try:
            # Cancelled before its place was granted, the future is too: the reserver gives
            # the place back when it is granted.
            return await wanted
        except asyncio.CancelledError:
            # Cancelled once granted, before this send went on: the place goes back now.
            if wanted.done() and not wanted.cancelled() and (granted := wanted.result()):
                self.answered(granted[1])
            raise

    async def _reserve_wanted(self) -> None:
        """Reserves for the sends waiting, in order, RESERVE_MOST a script, until none waits;
        when the window is full, waits for its first place to free."""
        while True:
            self._wanting = [future for future in self._wanting if not future.done()]
            batch = self._wanting[: self.RESERVE_MOST]
            if not batch:
                return
            tickets = self._new_tickets(len(batch))
            try:
                async with asyncio.timeout(self.ANSWER_WITHIN):
                    slots = await self._reserve_tickets(tickets)
            except Exception:
                # The script may have run and its answer come late: the places it may have
                # granted are given back (recorded as answered, only if they are there), not
                # left held for the lease, the window full for every worker.
                for ticket in tickets:
                    self.answered(ticket)
                if not self._failing:
                    log.exception("Redis did not answer: this worker keeps its own sending pace")
                self._failing = True
                self._failed_at = asyncio.get_running_loop().time()
                for future in self._wanting:
                    if not future.done():
                        future.set_result(None)
                self._wanting = []
                return
            if self._failing:
                log.warning("Redis answers again: the sending pace is shared again")
                self._failing = False
            granted = [slot for slot in slots if slot.ticket is not None]
            for future, slot in zip(batch, granted, strict=False):
                assert slot.ticket is not None
                if future.done():  # its send was cancelled meanwhile
                    self.answered(slot.ticket)
                else:
                    future.set_result(((slot.at - slot.now) / 1_000_000, slot.ticket))
            if len(granted) < len(batch):  # the window is full: ask when its first place frees
                full = slots[-1]
                await asyncio.sleep(min(full.at - full.now, 1_000_000) / 1_000_000)

    async def reserve_slot(self) -> Slot:
        """A place in the window and the next slot of the schedule, or when to ask again."""
        return (await self.reserve_slots(1))[0]

    async def reserve_slots(self, count: int) -> list[Slot]:
        """Places in the window and the next slots of the schedule for up to `count` sends,
        in one script: a Slot with a ticket for each granted, then, if the window could not
        take them all, one without (`at`: when its first place frees)."""
        return await self._reserve_tickets(self._new_tickets(count))

    def _new_tickets(self, count: int) -> list[str]:
        return [f"{self._origin}:{next(self._tickets)}" for _ in range(count)]

    async def _reserve_tickets(self, tickets: list[str]) -> list[Slot]:
        count = len(tickets)
        args = [
            self.interval_us,
            round(self.CATCH_UP * 1_000_000),
            self.limit,
            round(self.LEASE * 1_000_000),
            *tickets,
            self._now(),
        ]
        answer = await self.client.eval(RESERVE_SLOTS, keys=[self.key, self.window_key], args=args)
        now, granted = int(answer[0]), int(answer[1])
        slots = [Slot(int(at), now, tickets[i]) for i, at in enumerate(answer[2 : 2 + granted])]
        if granted < count:
            slots.append(Slot(int(answer[2 + granted]), now, None))
        return slots

    def answered(self, ticket: str) -> None:
        """The send of `ticket` was answered: its place frees one second from now (recorded in
        the background; the send does not wait for Redis). The answers that come while one
        record is on its way are recorded together by the next (one script for all: a storm's
        replies cost a round trip to Redis per batch of answers, not per answer); a place
        recorded a little later frees a little later, never earlier."""
        self._answers.append(ticket)
        if self._recorder is None or self._recorder.done():
            task = asyncio.get_running_loop().create_task(self._answered())
            self._recorder = task
            self._recording.add(task)
            task.add_done_callback(self._recording.discard)

    async def _answered(self) -> None:
        tried_again = False
        while self._answers:
            tickets = self._answers[: self.ANSWERS_MOST]
            del self._answers[: self.ANSWERS_MOST]
            try:
                async with asyncio.timeout(self.ANSWER_WITHIN):
                    await self.record_answer(*tickets)
            except Exception:
                if not tried_again:  # once more, with the answers that came meanwhile
                    tried_again = True
                    self._answers[:0] = tickets
                    continue
                # Their places free after LEASE instead.
                log.warning("could not record %s answers on Redis", len(tickets), exc_info=True)

    async def record_answer(self, *tickets: str) -> None:
        """Frees the places of `tickets` one second from now (Redis's clock), in one script."""
        if not tickets:
            return
        args = [round(self.AFTER * 1_000_000), *tickets, self._now()]
        await self.client.eval(ANSWERED, keys=[self.window_key], args=args)

    async def close(self) -> None:
        """Records the answers still on their way, then closes the connections to Redis."""
        self._closed = True
        if self._reserver is not None:
            self._reserver.cancel()
            await asyncio.gather(self._reserver, return_exceptions=True)
        for future in self._wanting:  # their sends keep the worker's own pace
            if not future.done():
                future.set_result(None)
        await asyncio.gather(*self._recording, return_exceptions=True)
        if self._answers:  # the recorder was cancelled with answers waiting
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.ANSWER_WITHIN):
                    await self.record_answer(*self._answers)
            self._answers = []
        self.client.connection_pool.disconnect()

"""The delivery pacer on manual time: how it spaces sends, keeps the window, and how often the
sends waiting for a slot wake up (issue 17: every waiter polled while the window was full)."""

from __future__ import annotations

import asyncio

import pytest

from bot.delivery import Pacer
from tests.support.timing import ManualTime, counted

ANSWER_AFTER = 0.003  # seconds: the fake Telegram's latency


class Storm:
    """`sends` concurrent sends through one pacer on manual time, each answered ANSWER_AFTER
    after it leaves; records when each left and how often the waiting ones woke up."""

    def __init__(self, rate: float, limit: float) -> None:
        self.time = ManualTime()
        self.pacer = Pacer(rate, limit, monotonic=self.time.monotonic, sleep=self.time.sleep)
        self.wakeups = [0]
        self.left: list[float] = []

    async def _one(self) -> None:
        mark = await counted(self.pacer.slot(), self.wakeups)
        self.left.append(self.time.now)
        await self.time.sleep(ANSWER_AFTER)
        self.pacer.answered(mark)

    async def run(self, sends: int) -> None:
        tasks = [asyncio.get_running_loop().create_task(self._one()) for _ in range(sends)]
        await self.time.advance(0)
        for _ in range(sends * 50):
            if all(task.done() for task in tasks):
                break
            due = self.time.next_due()
            assert due is not None, "sends wait for nothing that time brings"
            await self.time.advance(max(due - self.time.now, 0.0))
        await asyncio.gather(*tasks)

    def most_in_one_second(self) -> int:
        left, busiest, first = sorted(self.left), 0, 0
        for last, at in enumerate(left):
            while at - left[first] >= 1.0:
                first += 1
            busiest = max(busiest, last - first + 1)
        return busiest


async def test_sends_waiting_for_a_full_window_wake_up_about_once_each() -> None:
    """300 sends at once against a window of 10 a second: each waiting send used to sleep 5 ms
    and look again while the window's oldest send had no answer, and all of them woke whenever
    a place freed (a thundering herd: 25,642 wake-ups for 1,000 sends in a profile). Only the
    send at the head of the queue watches the window now."""
    storm = Storm(rate=1000, limit=10)
    await storm.run(300)
    assert len(storm.left) == 300
    assert storm.most_in_one_second() <= 10  # the window holds
    assert storm.wakeups[0] <= 4 * 300, storm.wakeups[0]


async def test_concurrent_sends_are_spaced_at_the_rate() -> None:
    """Sends waiting at once leave one interval apart (they all read the same next slot and
    left together, up to the window's cap)."""
    storm = Storm(rate=100, limit=1000)
    await storm.run(50)
    gaps = [later - earlier for earlier, later in zip(storm.left, storm.left[1:], strict=False)]
    assert min(gaps) >= 0.01 - 1e-9, sorted(gaps)[:5]
    assert storm.left[-1] - storm.left[0] == pytest.approx(49 * 0.01, abs=0.005)
    assert storm.wakeups[0] <= 3 * 50, storm.wakeups[0]


class Schedule:
    """An in-memory shared schedule on manual time: slots one interval apart, tickets
    recorded as reserved and as answered."""

    def __init__(self, time: ManualTime, interval: float) -> None:
        self.time = time
        self.interval = interval
        self.next = 0.0
        self.reserved: list[str] = []
        self.answered_tickets: list[str] = []

    async def reserve(self) -> tuple[float, str] | None:
        slot = max(self.next, self.time.now)
        self.next = slot + self.interval
        self.reserved.append(str(len(self.reserved) + 1))
        return slot - self.time.now, self.reserved[-1]

    def answered(self, ticket: str) -> None:
        self.answered_tickets.append(ticket)


async def test_a_cancelled_waiting_send_takes_no_slot_and_gives_its_reservation_back() -> None:
    """Sends cancelled while they wait (the one whose turn it is, and one queued behind it)
    leave the others their slots, in order, and give back their places in the shared window
    (held until the lease ran out)."""
    storm = Storm(rate=100, limit=1000)
    schedule = Schedule(storm.time, storm.pacer.interval)
    schedule.next = 0.05  # the first slot is a little ahead: the first send sleeps its turn
    storm.pacer.shared = schedule
    loop = asyncio.get_running_loop()
    waiting = [loop.create_task(storm.pacer.slot()) for _ in range(5)]
    await storm.time.advance(0)
    assert len(schedule.reserved) == 5
    waiting[0].cancel()  # its turn: sleeping until its slot
    waiting[2].cancel()  # queued behind
    await storm.time.advance(0)
    assert sorted(schedule.answered_tickets) == ["1", "3"]
    for _ in range(20):
        if all(task.done() for task in waiting):
            break
        due = storm.time.next_due()
        assert due is not None
        await storm.time.advance(due - storm.time.now)
    marks = [task.result() for task in (waiting[1], waiting[3], waiting[4])]
    assert [mark[1] for mark in marks] == ["2", "4", "5"]
    assert list(storm.pacer._recent) == marks  # no slot for the cancelled ones
    assert sorted(schedule.answered_tickets) == ["1", "3"]


async def test_a_reply_cancelled_after_its_slot_does_not_hold_the_window() -> None:
    """A reply cancelled after its slot, waiting for a place among the requests in flight,
    was never sent: its mark must not stay in flight, or the window (once it is the oldest)
    holds every later send for ever."""
    from bot.delivery import DeliveryConfig, DeliveryEngine
    from handlers.kernel.ports import SystemClock
    from storage.outbox import Claimed

    class Silent:
        async def send(self, item: Claimed, paid: bool) -> int:
            raise AssertionError("nothing is sent")

    engine = DeliveryEngine(None, Silent(), SystemClock(), DeliveryConfig(max_in_flight=1))  # type: ignore[arg-type]
    await engine._semaphore.acquire()  # the one request allowed is in flight
    reply = asyncio.get_running_loop().create_task(
        engine.send_reply(Claimed(1, 42, "hello", None, None, 0, reply=True))
    )
    for _ in range(10):
        await asyncio.sleep(0)
    assert len(engine._pacer._recent) == 1  # it has its slot, and waits for the request
    reply.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reply
    assert engine._pacer._recent[0][0] != Pacer.IN_FLIGHT


class WindowSchedule(Schedule):
    """`Schedule` with the shared window of bot/shared_limits.py: at most `limit` places, each
    held from its reservation until a second after its answer (or until its lease runs out,
    LEASE seconds, when no answer comes); a reservation waits for a free place."""

    LEASE = 16.0

    def __init__(self, time: ManualTime, interval: float, limit: int) -> None:
        super().__init__(time, interval)
        self.limit = limit
        self.frees_at: dict[str, float] = {}

    async def reserve(self) -> tuple[float, str] | None:
        while True:
            now = self.time.now
            self.frees_at = {t: at for t, at in self.frees_at.items() if at > now}
            if len(self.frees_at) < self.limit:
                wait, ticket = await super().reserve()
                self.frees_at[ticket] = now + self.LEASE
                return wait, ticket
            await self.time.sleep(min(self.frees_at.values()) - now)

    def answered(self, ticket: str) -> None:
        super().answered(ticket)
        if ticket in self.frees_at:
            self.frees_at[ticket] = self.time.now + 1.0


async def test_a_send_paused_after_reserving_does_not_hold_the_others_while_it_waits() -> None:
    """A 429 pause begins after a send reserved its slot: it reserves again after the pause.
    It used to do so holding the pacer's turn, while the sends queued behind it held the
    window's places granted meanwhile: with a window of 2, nothing left for 16 s (until their
    leases ran out), then all three at once. It now waits for its new place out of turn."""
    storm = Storm(rate=100, limit=2)
    schedule = WindowSchedule(storm.time, storm.pacer.interval, limit=2)
    schedule.next = 0.05  # the first send's slot is a little ahead: it holds the turn, asleep
    storm.pacer.shared = schedule
    loop = asyncio.get_running_loop()
    first = loop.create_task(storm._one())
    await storm.time.advance(0)
    storm.pacer.pause(0.4)  # a 429, after the first send reserved its slot
    others = [loop.create_task(storm._one()) for _ in range(2)]
    await storm.time.advance(0)
    tasks = [first, *others]
    for _ in range(100):
        if all(task.done() for task in tasks):
            break
        due = storm.time.next_due()
        assert due is not None, "sends wait for nothing that time brings"
        await storm.time.advance(max(due - storm.time.now, 0.0))
    await asyncio.gather(*tasks)
    assert min(storm.left) >= 0.4  # nothing during the pause
    assert max(storm.left) < 3.0, storm.left  # no stall until the leases run out
    assert storm.most_in_one_second() <= 2, storm.left  # the window holds


class SlowSchedule(Schedule):
    """`Schedule` whose answer takes a moment (Redis's round trip, or a full window waiting
    for its first place to free: SharedPace._reserve_wanted sleeps up to a second)."""

    async def reserve(self) -> tuple[float, str] | None:
        await self.time.sleep(0.01)
        return await super().reserve()


async def test_a_pause_that_begins_while_a_send_reserves_is_seen() -> None:
    """A 429 pause begins while the sends wait for the shared schedule's answer. The pause they
    reserved after is the one before they asked: read once the answer came, their slots
    (inside the pause) counted as made after it, none was made again, and all three left at
    the moment the pause ended, together."""
    storm = Storm(rate=100, limit=1000)
    storm.pacer.shared = SlowSchedule(storm.time, storm.pacer.interval)
    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(storm._one()) for _ in range(3)]
    await storm.time.advance(0.005)  # the three are waiting for their reservations
    storm.pacer.pause(0.4)  # a 429 (told by another worker)
    for _ in range(100):
        if all(task.done() for task in tasks):
            break
        due = storm.time.next_due()
        assert due is not None
        await storm.time.advance(max(due - storm.time.now, 0.0))
    await asyncio.gather(*tasks)
    assert min(storm.left) >= 0.4
    gaps = [b - a for a, b in zip(storm.left, storm.left[1:], strict=False)]
    assert min(gaps) >= storm.pacer.interval - 1e-9, storm.left

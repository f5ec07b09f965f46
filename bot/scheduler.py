"""Timers on APScheduler 3: our `timers` table is the source of truth, jobs are rebuilt from it.

Why not APScheduler's SQLAlchemyJobStore: it is synchronous (it would block the event loop or
need a second, sync engine), it pickles its jobs (renaming a function breaks stored jobs), and a
job store "must never be shared between schedulers" — yet Chorus may run several workers on one
PostgreSQL database. Our table is claimed row by row (pending → done in one UPDATE), so any
number of workers can each run a scheduler over it and a timer still fires exactly once.

So APScheduler keeps a MemoryJobStore holding the timers due within a window, refilled at start,
every few minutes, and whenever this process changes a timer. Each job's misfire_grace_time is
None on purpose: APScheduler's 1-second default would silently drop a late run. Lateness is
judged instead against each timer's own grace (see Dispatcher.fire_timer), and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime, timedelta

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from handlers.kernel.dispatch import Dispatcher
from handlers.kernel.ports import Clock
from storage import timers

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=6)
RESYNC_EVERY = timedelta(minutes=5)
JOB_PREFIX = "timer-"
UNWIND_TIMEOUT = 5.0


class TimerScheduler:
    """Fires the handlers of due timers, on time, across restarts."""

    def __init__(self, dispatcher: Dispatcher, clock: Clock) -> None:
        self.dispatcher = dispatcher
        self.clock = clock
        self._scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        )
        self._sync_task: asyncio.Task[None] | None = None
        self._sync_again = False
        self._firing: set[asyncio.Task[object]] = set()
        self._closing = False
        self.synced_at: float | None = None  # time.monotonic() of the last complete sync
        self.standby = False  # another worker leads (bot/workers.py): this one fires nothing

    @property
    def running(self) -> bool:
        """Whether jobs are being scheduled (for /healthz); a follower is standing by."""
        return (self.standby or bool(self._scheduler.running)) and not self._closing

    async def start(self, resync_every: timedelta = RESYNC_EVERY) -> None:
        """Catches up on timers missed while stopped, then schedules the coming ones (again
        after standing by: this worker leads now). With several workers the leader resyncs
        more often (`resync_every`): timers set on the other workers reach it that way."""
        self.standby = False
        if self._scheduler.running:
            self._scheduler.resume()
        else:
            self._scheduler.start()
        self._scheduler.add_job(
            self._resync,
            "interval",
            seconds=resync_every.total_seconds(),
            id="timers-resync",
            replace_existing=True,
        )
        await self.sync()

    async def stand_by(self) -> None:
        """Another worker leads: fire nothing, schedule nothing, until `start` again."""
        self.standby = True
        if self._scheduler.running:
            self._scheduler.pause()
        for job in self._scheduler.get_jobs():
            if job.id.startswith(JOB_PREFIX):
                with contextlib.suppress(JobLookupError):
                    job.remove()

    async def _resync(self) -> None:
        """The periodic refill, through wake() so that shutdown knows of it."""
        self.wake()

    def wake(self) -> None:
        """Timers changed (or the clock moved): resynchronise soon, once. Not once shutting
        down: a sync started then would outlive the bot, holding a database connection."""
        if self._closing or self.standby:
            return
        if self._sync_task is not None and not self._sync_task.done():
            self._sync_again = True
            return
        self._sync_task = asyncio.get_running_loop().create_task(self._sync_loop())

    async def _sync_loop(self) -> None:
        while not self._closing:
            self._sync_again = False
            try:
                await self.sync()
            except Exception:
                log.exception("timer resync failed")
            if not self._sync_again:
                return

    def _real_time(self, due_at: datetime) -> datetime:
        """When, on the real clock, the (possibly shifted) clock reaches `due_at`."""
        return datetime.now(UTC) + (due_at - self.clock.now())

    async def sync(self) -> None:
        """Runs what is overdue, and puts the timers of the coming window on the schedule."""
        await self.dispatcher.run_due_timers()
        horizon = self.clock.now() + WINDOW
        async with self.dispatcher.services.sessionmaker() as session:
            upcoming = [t for t in await timers.pending(session) if t.due_at <= horizon]
        wanted = {f"{JOB_PREFIX}{t.id}": t for t in upcoming}
        for job in self._scheduler.get_jobs():
            if job.id.startswith(JOB_PREFIX) and job.id not in wanted:
                with contextlib.suppress(JobLookupError):
                    job.remove()
        for job_id, timer in wanted.items():
            self._scheduler.add_job(
                self._fire,
                "date",
                run_date=self._real_time(timer.due_at),
                id=job_id,
                args=[timer.id],
                replace_existing=True,
            )
        self.synced_at = time.monotonic()

    async def _fire(self, timer_id: int) -> None:
        task = asyncio.current_task()
        if self._closing or task is None:
            return
        self._firing.add(task)
        try:
            if not await self.dispatcher.fire_timer(timer_id):
                # Moved later, or the clock was shifted: let the schedule follow the table.
                self.wake()
        finally:
            self._firing.discard(task)

    async def shutdown(self, grace: float = 10.0) -> None:
        """Stops scheduling and lets the timers being fired finish (or cancels them after
        `grace` seconds), so none outlives the bot; timers stay in the table for the next start."""
        self._closing = True
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        tasks = [t for t in (self._sync_task, *self._firing) if t is not None and not t.done()]
        if tasks:
            if grace > 0:
                await asyncio.wait(tasks, timeout=grace)
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=UNWIND_TIMEOUT)  # let them roll back

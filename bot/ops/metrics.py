"""Prometheus metrics of a running Chorus, served at /metrics (see bot/ops/server.py).

Every counter lives here, fed through neutral seams so that no business code imports
prometheus_client: the dispatcher's `Observer` (updates and timers), the delivery engine's
`Stats` (read at scrape) and the outbox depth (queried at scrape). Each running bot has its own
registry, so two bots in one process (the tests) never mix their counts.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery import DeliveryEngine
from handlers.kernel.ports import Clock
from storage import outbox

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATE_AFTER = 60.0  # seconds: a timer fired later than this after its moment counts as late
UPDATE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LATENESS_BUCKETS = (1.0, 10.0, 60.0, 300.0, 1800.0, 3600.0, 6 * 3600.0, 86400.0)


class _Deliveries(Collector):
    """`chorus_deliveries_total{result}` from the delivery engine's own counters, at scrape."""

    def __init__(self) -> None:
        self.engine: DeliveryEngine | None = None

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "chorus_deliveries",
            "Outbox sends by result: sent; retry_after (429, paused and resent); blocked (403); "
            "failed (other permanent errors, or out of attempts); retried (5xx or network)",
            labels=["result"],
        )
        stats = self.engine.stats if self.engine is not None else None
        if stats is not None:
            family.add_metric(["sent"], stats.sent)
            family.add_metric(["retry_after"], stats.rate_limited)
            family.add_metric(["blocked"], stats.blocked)
            family.add_metric(["failed"], stats.failed - stats.blocked)
            family.add_metric(["retried"], stats.retried)
        yield family


class Metrics:
    """The metrics of one running bot; also the dispatcher's `Observer`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.updates = Counter(
            "chorus_updates",
            "Updates by kind (command, message, callback, poll_answer, …) and outcome "
            "(handled, duplicate, invalid input, error, refused by the rate limit)",
            ["kind", "outcome"],
            registry=registry,
        )
        self.update_seconds = Histogram(
            "chorus_update_handling_seconds",
            "Time to handle one update, transaction and replies included, by kind",
            ["kind"],
            buckets=UPDATE_BUCKETS,
            registry=registry,
        )
        self.timers = Counter(
            "chorus_timers",
            f"Due timers by kind and outcome: on_time, late (fired over {LATE_AFTER:.0f} s after "
            "its moment), dropped (later than its grace), failed",
            ["kind", "outcome"],
            registry=registry,
        )
        self.timer_lateness = Histogram(
            "chorus_timer_lateness_seconds",
            "How long after its moment a timer fired",
            buckets=LATENESS_BUCKETS,
            registry=registry,
        )
        self.outbox = Gauge(
            "chorus_outbox_messages",
            "Outbox rows waiting (pending) and in flight (sending), read at scrape",
            ["state"],
            registry=registry,
        )
        self.outbox_oldest = Gauge(
            "chorus_outbox_oldest_due_seconds",
            "How long the oldest due pending outbox row has waited (0 when none), read at scrape",
            registry=registry,
        )
        self._deliveries = _Deliveries()
        registry.register(self._deliveries)

    def watch_delivery(self, engine: DeliveryEngine) -> None:
        """Reports this engine's counters as chorus_deliveries_total."""
        self._deliveries.engine = engine

    def update_done(self, kind: str, outcome: str, seconds: float | None) -> None:
        """Counts an update (the dispatcher's Observer)."""
        self.updates.labels(kind, outcome).inc()
        if seconds is not None:
            self.update_seconds.labels(kind).observe(seconds)

    def timer_done(self, kind: str, outcome: str, late_seconds: float) -> None:
        """Counts a due timer (the dispatcher's Observer)."""
        if outcome == "fired":
            outcome = "late" if late_seconds > LATE_AFTER else "on_time"
        self.timers.labels(kind, outcome).inc()
        if outcome != "failed":
            self.timer_lateness.observe(max(0.0, late_seconds))

    def show_backlog(self, backlog: outbox.Backlog, clock: Clock) -> None:
        """Sets the outbox gauges."""
        self.outbox.labels("pending").set(backlog.pending)
        self.outbox.labels("sending").set(backlog.sending)
        waited = 0.0
        if backlog.oldest_due is not None:
            waited = max(0.0, (clock.now() - backlog.oldest_due).total_seconds())
        self.outbox_oldest.set(waited)

    async def refresh(self, sessionmaker: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        """Reads the outbox depth now; raises SQLAlchemyError when the database cannot answer."""
        async with sessionmaker() as session:
            self.show_backlog(await outbox.backlog(session), clock)

    def exposition(self) -> bytes:
        """The Prometheus text format of every metric."""
        return generate_latest(self.registry)

"""Operations: /healthz and /metrics of a running bot, backups and restores of its database."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery import DeliveryEngine
from bot.ops.health import HealthCheck, Heartbeat
from bot.ops.metrics import Metrics
from bot.ops.server import OpsServer
from bot.scheduler import TimerScheduler
from handlers.kernel.dispatch import Dispatcher
from handlers.kernel.ports import Clock


async def serve_ops(
    host: str,
    port: int | None,
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    heartbeat: Heartbeat | None,
    dispatcher: Dispatcher,
    scheduler: TimerScheduler,
    delivery: DeliveryEngine | None,
) -> OpsServer | None:
    """Counts the bot's work and serves /healthz and /metrics on host:port; None when the port
    is 0 or unset (turned off) or cannot be bound (logged)."""
    metrics = Metrics()
    dispatcher.observer = metrics
    if delivery is not None:
        metrics.watch_delivery(delivery)
    if not port:
        return None
    health = HealthCheck(sessionmaker, clock, heartbeat, scheduler, delivery)
    server = OpsServer(host, port, health, metrics)
    return server if await server.start() else None


__all__ = ["HealthCheck", "Heartbeat", "Metrics", "OpsServer", "serve_ops"]

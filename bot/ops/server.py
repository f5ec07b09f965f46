"""The operations endpoint: an aiohttp server on METRICS_HOST:METRICS_PORT with /healthz and
/metrics (loopback by default: put a reverse proxy or Prometheus on the same host in front)."""

from __future__ import annotations

import json
import logging

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from bot.ops.health import HealthCheck
from bot.ops.metrics import CONTENT_TYPE, Metrics

log = logging.getLogger(__name__)


class OpsServer:
    """Serves /healthz and /metrics of one running bot."""

    def __init__(self, host: str, port: int, health: HealthCheck, metrics: Metrics) -> None:
        self.host = host
        self.port = port
        self.health = health
        self.metrics = metrics
        self._runner: web.AppRunner | None = None

    async def start(self) -> bool:
        """Listens; False (and one logged error) when the address cannot be bound, so that a
        busy metrics port never keeps the bot itself from running."""
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            log.error(
                "cannot serve /healthz and /metrics on %s:%s (%s); running without them "
                "(set METRICS_PORT to a free port, or 0 to turn them off)",
                self.host,
                self.port,
                exc.strerror or exc,
            )
            return False
        self._runner = runner
        log.info("health and metrics on http://%s:%s/healthz and /metrics", self.host, self.port)
        return True

    async def stop(self) -> None:
        """Stops listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, _: web.Request) -> web.Response:
        healthy, report = await self.health.run()
        return web.Response(
            text=json.dumps(report, sort_keys=True),
            status=200 if healthy else 503,
            content_type="application/json",
        )

    async def _metrics(self, _: web.Request) -> web.Response:
        health = self.health
        try:
            await self.metrics.refresh(health.sessionmaker, health.clock)
        except SQLAlchemyError as exc:
            log.warning("/metrics: cannot read the outbox depth (shown as before): %r", exc)
        response = web.Response(body=self.metrics.exposition())
        response.headers["Content-Type"] = CONTENT_TYPE
        return response

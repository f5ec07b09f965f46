"""Operations end to end: /healthz and /metrics scraped from a running bot after real work."""

from __future__ import annotations

import asyncio
import socket
from datetime import timedelta

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import PATIENCE, ChorusUnderTest
from tests.e2e.test_actions import _create_meeting, _says, _volunteer


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def samples(exposition: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a Prometheus text exposition: (name, labels) → value."""
    found = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    """One sample's value (0 when absent)."""
    return found.get((name, frozenset(labels.items())), 0.0)


async def test_healthz_and_metrics_after_a_start_and_a_broadcast(chorus: ChorusUnderTest) -> None:
    chorus.metrics_port = free_port()
    await chorus.restart()
    base = f"http://127.0.0.1:{chorus.metrics_port}"
    ana = await _volunteer(chorus, "Ana")
    when = (chorus.clock.now() + timedelta(days=3)).strftime("%Y-%m-%d 18:00")
    await _create_meeting(chorus.coordinator, when)
    await chorus.coordinator.press("✅ Send it")
    await _says(chorus.coordinator, "Sending finished")
    await _says(ana, "Vigil & march")
    async with aiohttp.ClientSession() as http:
        # The last reply ("Sending finished") may still be in flight, its result not yet
        # written: the outbox settles within a flush (a few tenths of a second).
        for _ in range(int(PATIENCE / 0.1)):
            async with http.get(f"{base}/healthz") as answer:
                assert answer.status == 200
                health = await answer.json()
            if health["outbox"]["sending"] == 0:
                break
            await asyncio.sleep(0.1)
        async with http.get(f"{base}/metrics") as answer:
            assert answer.status == 200
            assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            found = samples(await answer.text())
    checks = health["checks"]
    assert health["status"] == "ok"
    assert {name for name, check in checks.items() if check["ok"]} == {
        "database",
        "polling",
        "scheduler",
        "delivery",
    }
    assert checks["polling"]["answered"] is True
    assert health["outbox"] == {"pending": 0, "sending": 0, "oldest_due_seconds": 0.0}
    # Ana's /start and the coordinator's /newaction; the dialog's answers and presses.
    assert value(found, "chorus_updates_total", kind="command", outcome="handled") >= 2
    assert value(found, "chorus_updates_total", kind="callback", outcome="handled") >= 5
    assert value(found, "chorus_updates_total", kind="message", outcome="handled") >= 3
    assert value(found, "chorus_update_handling_seconds_count", kind="command") >= 2
    assert value(found, "chorus_deliveries_total", result="sent") >= 1  # the broadcast to Ana
    assert value(found, "chorus_deliveries_total", result="blocked") == 0
    assert value(found, "chorus_outbox_messages", state="pending") == 0
    assert ("chorus_timer_lateness_seconds_count", frozenset()) in found

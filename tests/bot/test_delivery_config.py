"""The delivery engine's derived settings."""

from __future__ import annotations

from bot.delivery import DeliveryConfig


def test_enough_requests_in_flight_for_the_pace_at_high_rates() -> None:
    """At 1000/s, 64 requests in flight held the pace at 64 / latency (640/s when answers took
    100 ms): above 512/s an eighth of a second's sends may be in flight."""
    assert DeliveryConfig(rate=30).concurrency == 64
    assert DeliveryConfig(rate=1000).concurrency == 125
    assert DeliveryConfig(rate=1000, max_in_flight=10).concurrency == 10
    assert DeliveryConfig(rate=1000).in_flight_window == 208  # the duplicate bound: unchanged

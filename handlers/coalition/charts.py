"""The /stats picture: members over time and the response rate of recent actions, as a PNG.

matplotlib with the Agg backend (no display), drawn in a worker thread: rendering takes tens of
milliseconds and must not hold up the event loop. Labels come translated from the caller.
matplotlib is the optional `charts` extra: it is imported only when a picture is drawn, and
without it `render` raises `ChartsUnavailable` (the caller says so in the reader's language).
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from datetime import date
from itertools import accumulate

EXTRA = "charts"


class ChartsUnavailable(Exception):
    """matplotlib (the `charts` extra: pip install 'chorus[charts]') is not installed."""


@dataclass(frozen=True, slots=True)
class ChartData:
    """What the picture shows, with its labels already in the reader's language."""

    days: list[date]
    joined: list[int]  # registrations on each of `days`
    actions: list[str]  # short labels ("#12")
    rates: list[float]  # response rate of each action, 0..1
    members_title: str
    rates_title: str


def render(data: ChartData) -> bytes:
    """Draws the two panels and returns the PNG; raises ChartsUnavailable without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ChartsUnavailable(EXTRA) from exc
    figure = Figure(figsize=(8, 6), dpi=100)
    top, bottom = figure.subplots(2, 1)
    if data.days:
        top.step(data.days, list(accumulate(data.joined)), where="post", color="#2b6cb0")
        top.fill_between(
            data.days, list(accumulate(data.joined)), step="post", alpha=0.2, color="#2b6cb0"
        )
    top.set_title(data.members_title.replace("\u200f", ""))
    top.grid(alpha=0.3)
    figure.autofmt_xdate()
    percents = [round(rate * 100, 1) for rate in data.rates]
    bottom.bar(data.actions, percents, color="#38a169")
    bottom.set_ylim(0, 100)
    bottom.set_title(data.rates_title.replace("\u200f", ""))
    bottom.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


async def render_png(data: ChartData) -> bytes:
    """Renders in a worker thread; raises ChartsUnavailable without matplotlib."""
    return await asyncio.to_thread(render, data)

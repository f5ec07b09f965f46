"""Browser tests of the sandbox page: `chorus sandbox` in the test process, headless Chromium.

The sandbox (emulator, ready-made people, saved world, Chorus) starts as `chorus sandbox` starts
it, on a free port and a fresh database, with its clock set to a fixed moment so that what the
page shows (and the README's screenshot) is the same from run to run. Playwright drives Debian's
Chromium (/usr/bin/chromium, or CHORUS_CHROMIUM); without it these tests skip with the reason.
A failing test leaves a screenshot in test-artifacts/.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.sandbox_app import Sandbox
from bot.sandbox_people import PEOPLE
from botapi_emulator.client import Person, SandboxClient
from handlers.kernel.ports import ShiftedClock

pytestmark = pytest.mark.browser

CHROMIUM = Path(os.environ.get("CHORUS_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# A Monday afternoon in London: no ready-made person is in their quiet hours (Lucía, in Bogotá,
# would be at 04:00 at 09:00 UTC and her messages held until her morning).
SANDBOX_START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
TIMEOUT_MS = 15_000
REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()

playwright_api = pytest.importorskip("playwright.async_api", reason="playwright is not installed")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keeps each phase's report on the test item, for the screenshot on failure."""
    report = yield
    item.stash.setdefault(REPORTS, {})[report.when] = report
    return report


@pytest.fixture
def chromium() -> Path:
    """Debian's Chromium, or a skip that says how to get it."""
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (or set CHORUS_CHROMIUM)")
    return CHROMIUM


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    """`chorus sandbox` on a free port, a fresh database and a clock set to SANDBOX_START."""
    settings = Settings(
        sandbox_database_url=f"sqlite+aiosqlite:///{tmp_path / 'sandbox.sqlite3'}",
        admin_ids=frozenset(),
        metrics_port=0,
        _env_file=None,  # type: ignore[call-arg]
    )
    clock = ShiftedClock(SANDBOX_START - datetime.now(UTC))
    running = Sandbox(settings, port=0, clock=clock)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def people(sandbox: Sandbox) -> AsyncIterator[dict[str, Person]]:
    """The ready-made people, to act outside the page (through the control API) by first name."""
    async with SandboxClient(sandbox.url, timeout=30.0) as client:
        users = {u["id"]: u for u in await client.request("GET", "/control/users")}
        yield {p.first_name: Person(client, users[p.user_id]) for p in PEOPLE}


@pytest.fixture
async def page(
    chromium: Path, sandbox: Sandbox, request: pytest.FixtureRequest
) -> AsyncIterator[Any]:
    """A fresh browser page on the sandbox page; a screenshot is kept if the test fails."""
    errors: list[str] = []
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS
        )
        try:
            context = await browser.new_context(
                viewport={"width": 1280, "height": 800}, locale="en-GB", timezone_id="UTC"
            )
            context.set_default_timeout(TIMEOUT_MS)
            playwright_api.expect.set_options(timeout=TIMEOUT_MS)
            opened = await context.new_page()
            opened.on("pageerror", lambda error: errors.append(str(error)))
            await opened.goto(sandbox.url + "/")
            await opened.locator("body[data-ready=yes]").wait_for()
            yield opened
            reports = request.node.stash.get(REPORTS, {})
            if "call" in reports and reports["call"].failed:
                ARTIFACTS.mkdir(exist_ok=True)
                name = re.sub(r"[^\w.-]+", "_", request.node.name)
                await opened.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
            await context.close()
        finally:
            await browser.close()
    assert errors == [], f"the page raised: {errors}"

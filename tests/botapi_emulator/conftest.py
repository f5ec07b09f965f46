"""Fixtures for the emulator tests: a running emulator, an aiogram Bot on it, a sandbox client.

Every request a test makes through the `emulator` fixture is checked against the Bot API spec
when the test ends (when the spec file is present), so each test is also a conformance test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Bot

from botapi_emulator import EmulatorState, RunningEmulator, SandboxClient, start_emulator
from botapi_emulator.models import User
from tests.botapi_emulator.helpers import make_bot
from tests.support.bot_api_spec import load_spec


def pytest_configure(config: pytest.Config) -> None:
    """Registers the marker for tests that send malformed requests on purpose."""
    config.addinivalue_line(
        "markers", "nonconforming: the test sends requests off the Bot API spec on purpose"
    )


@pytest.fixture
async def unchecked_emulator() -> AsyncIterator[RunningEmulator]:
    """An emulator whose request log is not checked (for deliberately malformed requests)."""
    emulator = await start_emulator()
    try:
        yield emulator
    finally:
        await emulator.stop()


@pytest.fixture
async def emulator(
    unchecked_emulator: RunningEmulator, request: pytest.FixtureRequest
) -> AsyncIterator[RunningEmulator]:
    """A running emulator; its whole request log must conform to the Bot API spec."""
    yield unchecked_emulator
    spec = load_spec()
    if spec is not None and request.node.get_closest_marker("nonconforming") is None:
        problems = spec.check_log(unchecked_emulator.state.request_log)
        assert not problems, "requests or results off the Bot API spec:\n" + "\n".join(problems)


@pytest.fixture
def state(emulator: RunningEmulator) -> EmulatorState:
    """The emulator's state, for direct set-up."""
    return emulator.state


@pytest.fixture
async def bot(emulator: RunningEmulator) -> AsyncIterator[Bot]:
    """The real aiogram Bot, talking to the emulator."""
    real_bot = make_bot(emulator)
    try:
        yield real_bot
    finally:
        await real_bot.session.close()


@pytest.fixture
async def sandbox(emulator: RunningEmulator) -> AsyncIterator[SandboxClient]:
    """A client acting as people through the control API."""
    async with SandboxClient(emulator.url, timeout=30.0) as client:  # never waited out when green
        yield client


@pytest.fixture
def started_user(state: EmulatorState) -> User:
    """A person who has already written /start to the bot."""
    user = state.create_user("Alice", "Martin", "alice", "fr")
    state.send_text(user.id, "/start")
    return user

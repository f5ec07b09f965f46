"""A Telegram Bot API emulator for tests and the sandbox: `start_emulator()` and SandboxClient."""

from .client import Channel, Group, Person, SandboxClient, Topic
from .client_models import (
    Button,
    CallbackAnswer,
    SandboxError,
    SandboxFile,
    SandboxMessage,
    SandboxPoll,
)
from .emulator import RunningEmulator, build_app, fake_token, start_emulator
from .faults import FaultRule
from .limits import RateLimits
from .state import EmulatorState

__all__ = [
    "Button",
    "CallbackAnswer",
    "Channel",
    "EmulatorState",
    "FaultRule",
    "Group",
    "Person",
    "RateLimits",
    "RunningEmulator",
    "SandboxClient",
    "SandboxError",
    "SandboxFile",
    "SandboxMessage",
    "SandboxPoll",
    "Topic",
    "build_app",
    "fake_token",
    "start_emulator",
]

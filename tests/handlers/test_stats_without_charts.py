"""/stats on an installation without the `charts` extra: the figures, then one clear line."""

from __future__ import annotations

import sys

import pytest

from bot.app import Storage
from handlers.kernel.ports import ShiftedClock
from tests.conftest import COORDINATOR_ID
from tests.support.coalition import make_member, someone
from tests.support.recording import Conversation


async def test_stats_without_matplotlib_gives_the_figures_and_names_the_extra(
    conversation: Conversation,
    storage: Storage,
    clock: ShiftedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails
    await make_member(storage, 9001, now=clock.now(), name="Amira", skills=["media"])
    coral = someone(conversation, COORDINATOR_ID, "Coral")
    await coral.send("/stats")
    figures, refusal = coral.messages[-2:]
    assert "Media: 1" in figures.text
    assert refusal.document is None
    assert "No chart" in refusal.text and "pip install 'chorus[charts]'" in refusal.text

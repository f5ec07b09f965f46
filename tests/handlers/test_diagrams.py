"""Every state diagram a module mentions exists beside it (tests/handlers/test_forms.py checks
that each form's diagram names its steps)."""

from __future__ import annotations

import re
from pathlib import Path

HANDLERS = Path(__file__).resolve().parents[2] / "handlers"
MENTION = re.compile(r"\b([a-z_]+\.mmd)\b")


def test_every_mentioned_diagram_exists() -> None:
    mentioned = {
        (module.name, name)
        for module in HANDLERS.glob("*.py")
        for name in MENTION.findall(module.read_text(encoding="utf-8"))
    }
    assert mentioned, "the scan finds the mentions"
    missing = [(module, name) for module, name in mentioned if not (HANDLERS / name).exists()]
    assert missing == []

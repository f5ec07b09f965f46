"""Every state diagram a module mentions exists beside it (tests/handlers/test_forms.py checks
that each form's diagram names its steps)."""

from __future__ import annotations

import re
from pathlib import Path

HANDLERS = Path(__file__).resolve().parents[2] / "handlers"
MENTION = re.compile(r"\b([a-z_]+\.mmd)\b")


def test_every_mentioned_diagram_exists() -> None:
    mentioned = {
        (module, name)
        for module in HANDLERS.rglob("*.py")
        for name in MENTION.findall(module.read_text(encoding="utf-8"))
    }
    assert mentioned, "the scan finds the mentions"
    missing = [(m.name, name) for m, name in mentioned if not (m.parent / name).exists()]
    assert missing == []

"""The one rule of the architecture: handlers/ and storage/ never import a Telegram framework."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("aiogram", "telegram")


def _imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_handlers_and_storage_do_not_import_telegram_frameworks() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for package in ("handlers", "storage")
        for path in sorted((ROOT / package).rglob("*.py"))
        for name in _imported_modules(path)
        if name.split(".")[0] in FORBIDDEN
    ]
    assert offenders == []


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom aiogram.types import Message\nimport telegram.ext\n")
    assert [n for n in _imported_modules(sample) if n.split(".")[0] in FORBIDDEN] == [
        "aiogram.types",
        "telegram.ext",
    ]


def test_the_emulator_imports_nothing_from_chorus() -> None:
    """The Bot API emulator models Telegram, not Chorus: it stands alone (issue 10)."""
    chorus = ("bot", "handlers", "storage", "tests")
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / "botapi_emulator").rglob("*.py"))
        for name in _imported_modules(path)
        if name.split(".")[0] in chorus
    ]
    assert offenders == []

"""The architecture: no Telegram framework in handlers/ or storage/; feature areas on one kernel."""

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


AREAS = ("people", "actions", "decisions", "coalition")


def _area_modules_used(path: Path) -> list[tuple[str, str]]:
    """(area, module) for each module of a handlers area that a file imports."""
    used = []
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] != "handlers" or len(parts) < 2 or parts[1] not in AREAS:
                continue
            if len(parts) == 2:  # from handlers.people import fields, profile
                used += [(parts[1], alias.name) for alias in node.names]
            else:  # from handlers.people.fields import Question
                used.append((parts[1], parts[2]))
    return used


def _published(area: str) -> set[str]:
    """The modules an area offers to the others: the `__all__` of its package."""
    tree = ast.parse((ROOT / "handlers" / area / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign)
            else []
        )
        value = getattr(node, "value", None)
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets) and isinstance(
            value, ast.List | ast.Tuple
        ):
            return {ast.literal_eval(element) for element in value.elts}
    return set()


def test_the_kernel_uses_no_area() -> None:
    """handlers/kernel is what the areas build on: it imports none of them."""
    offenders = [
        f"{path.relative_to(ROOT)} imports handlers.{area}.{module}"
        for path in sorted((ROOT / "handlers" / "kernel").rglob("*.py"))
        for area, module in _area_modules_used(path)
    ]
    assert offenders == []


def test_areas_use_each_other_only_through_what_they_publish() -> None:
    """An area uses the kernel, storage, and only the modules another area lists in `__all__`."""
    offenders = [
        f"{path.relative_to(ROOT)} imports handlers.{other}.{module}"
        for area in AREAS
        for path in sorted((ROOT / "handlers" / area).rglob("*.py"))
        for other, module in _area_modules_used(path)
        if other != area and module not in _published(other)
    ]
    assert offenders == []


def test_the_architecture_checks_see_an_offence(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from handlers.people import fields, registration\n")
    assert _area_modules_used(sample) == [("people", "fields"), ("people", "registration")]


def test_storage_knows_nothing_of_handlers_or_bot() -> None:
    """Storage sits below the handlers: it may use their neutral value types (ports), no more."""
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in sorted((ROOT / "storage").rglob("*.py"))
        for name in _imported_modules(path)
        if name.split(".")[0] in ("handlers", "bot") and name != "handlers.kernel.ports"
    ]
    assert offenders == []


def test_no_module_name_is_shared_between_handlers_and_storage() -> None:
    """A handler never needs an import alias to tell two modules apart (issue 10)."""

    def names(package: str) -> set[str]:
        return {p.stem for p in (ROOT / package).rglob("*.py") if p.stem != "__init__"}

    assert names("handlers") & names("storage") == set()

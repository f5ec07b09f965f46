"""Where the catalogues are found, and what happens when they are not there."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from handlers.kernel.i18n import locales_dir, reload_catalogues, translator

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def _fresh_catalogues() -> Iterator[None]:
    reload_catalogues()
    yield
    reload_catalogues()


def test_the_catalogues_are_the_top_level_locales_folder() -> None:
    assert locales_dir() == ROOT / "locales"
    assert (locales_dir() / "en" / "LC_MESSAGES" / "core.po").is_file()


@pytest.mark.usefixtures("_fresh_catalogues")
def test_missing_catalogues_stop_the_bot_instead_of_sending_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHORUS_LOCALES_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="no gettext catalogues"):
        translator("fr")

"""The command line: a blank token is no token (for `make run` too); one sandbox per world."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from bot import cli
from bot.config import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.usefixtures("restored_logging")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("BOT_TOKEN", "ADMIN_IDS", "BOT_RUNTIME", "SANDBOX_DATABASE_URL", "SANDBOX_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def sandboxes(monkeypatch: pytest.MonkeyPatch) -> list[int | None]:
    """Records the sandboxes `chorus` would run, instead of running them."""
    ran: list[int | None] = []

    async def run_sandbox(settings: Settings, *, port: int | None, **_: object) -> None:
        ran.append(port)

    monkeypatch.setattr("bot.sandbox_app.run_sandbox", run_sandbox)
    return ran


@pytest.mark.parametrize("where", ["environment", ".env"])
def test_a_blank_token_is_no_token(
    where: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    sandboxes: list[int | None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    if where == "environment":
        monkeypatch.setenv("BOT_TOKEN", "   ")
    else:
        (tmp_path / ".env").write_text("BOT_TOKEN=  \t \n")
    assert load_settings().bot_token is None
    assert cli.main(["run"]) == 2
    assert "BOT_TOKEN is not set" in capsys.readouterr().err
    assert cli.main(["run", "--or-sandbox"]) == 0  # what `make run` does
    assert sandboxes == [None]


def test_make_run_lets_chorus_decide() -> None:
    shown = subprocess.run(
        ["make", "--dry-run", "--silent", "-C", str(ROOT), "run", "BOT_TOKEN=   "],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert shown.strip().splitlines()[-1].endswith("/chorus run --or-sandbox")


def test_a_second_sandbox_on_the_same_world_is_refused_in_one_line(
    tmp_path: Path, sandboxes: list[int | None], capsys: pytest.CaptureFixture[str]
) -> None:
    world = tmp_path / "sandbox.world.json"
    with cli._only_sandbox_on(world, 8081):
        assert cli.main(["sandbox", "--port", "8082"]) == 2
        assert capsys.readouterr().err.strip().splitlines() == [
            "chorus: configuration error: SANDBOX_DATABASE_URL: the sandbox on port 8081 "
            f"(process {os.getpid()}) already uses sandbox.world.json and its "
            "database; give this one its own "
            "(SANDBOX_DATABASE_URL=sqlite+aiosqlite:///other.sqlite3)"
        ]
    assert sandboxes == []
    assert cli.main(["sandbox", "--port", "8082"]) == 0  # once the first has stopped
    assert sandboxes == [8082]


def test_sandboxes_with_their_own_databases_run_side_by_side(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sandboxes: list[int | None]
) -> None:
    with cli._only_sandbox_on(tmp_path / "sandbox.world.json", 8081):
        monkeypatch.setenv("SANDBOX_DATABASE_URL", "sqlite+aiosqlite:///second.sqlite3")
        assert cli.main(["sandbox", "--port", "8082"]) == 0
    assert sandboxes == [8082]


def test_a_crash_is_logged_through_the_masking_log(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    token = "123456789:AAE" + "s" * 32
    monkeypatch.setenv("BOT_TOKEN", token)

    async def crash(settings: Settings) -> None:
        raise OSError(f"cannot connect to http://127.0.0.1:9/bot{token}/getMe")

    monkeypatch.setattr(cli, "_run", crash)
    assert cli.main(["run"]) == 1
    err = capsys.readouterr().err
    assert "CRITICAL chorus: chorus run stopped on an unexpected error" in err
    assert "OSError: cannot connect to http://127.0.0.1:9/bot123456789:***/getMe" in err
    assert token.partition(":")[2] not in err

"""`chorus db backup` and `chorus db restore` from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.app import open_storage
from bot.cli import main


@pytest.fixture(autouse=True)
def _no_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's


async def test_backup_then_restore_with_yes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'chorus.sqlite3'}"
    storage = await open_storage(url)
    await storage.engine.dispose()
    monkeypatch.setenv("DATABASE_URL", url)
    copy = tmp_path / "copy.sqlite3"
    assert main(["db", "backup", str(copy)]) == 0
    assert "Backed up to" in capsys.readouterr().out and copy.exists()
    assert main(["db", "restore", str(copy)]) == 1
    assert "add --yes" in capsys.readouterr().err
    assert main(["db", "restore", str(copy), "--yes"]) == 0
    assert "Restored" in capsys.readouterr().out
    assert main(["db", "backup", str(tmp_path / "chorus.sqlite3")]) == 1
    assert "is the database itself" in capsys.readouterr().err


def test_backup_of_a_missing_database_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'none.sqlite3'}")
    assert main(["db", "backup", str(tmp_path / "copy.sqlite3")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "none.sqlite3").exists()


def test_postgresql_gets_the_pg_dump_and_pg_restore_commands_without_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://chorus:s3cret@db.example.org:5433/co")
    assert main(["db", "backup", "/var/backups/chorus.dump"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "s3cret" not in err
    assert (
        "pg_dump --format=custom --file=/var/backups/chorus.dump "
        "postgresql://chorus@db.example.org:5433/co (password: PGPASSWORD or ~/.pgpass)"
    ) in err
    assert main(["db", "restore", "/var/backups/chorus.dump", "--yes"]) == 1
    assert (
        "pg_restore --clean --if-exists --no-owner "
        "--dbname=postgresql://chorus@db.example.org:5433/co /var/backups/chorus.dump"
    ) in capsys.readouterr().err

"""Settings: validated once, with one clear line for every mistake."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings

GOOD_TOKEN = "123456789:AAE" + "x" * 32


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("BOT_TOKEN", "ADMIN_IDS", "BOT_RUNTIME", "DATABASE_URL", "DEFAULT_TIMEZONE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults_need_no_configuration() -> None:
    settings = load_settings()
    assert settings.bot_token is None
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.bot_runtime == "aiogram"


def test_admin_ids_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_IDS", " 12, 34 ,56")
    assert load_settings().admin_ids == frozenset({12, 34, 56})


def test_token_is_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_TOKEN", GOOD_TOKEN)
    settings = load_settings()
    assert GOOD_TOKEN not in repr(settings)
    assert settings.bot_token is not None
    assert settings.bot_token.get_secret_value() == GOOD_TOKEN


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("BOT_TOKEN", "not-a-token", "BOT_TOKEN: malformed token"),
        ("BOT_RUNTIME", "telethon", "BOT_RUNTIME: Input should be 'aiogram' or 'ptb'"),
        ("ADMIN_IDS", "12,alice", "ADMIN_IDS: must be comma-separated Telegram user ids"),
        ("DEFAULT_TIMEZONE", "Mars/Olympus", "DEFAULT_TIMEZONE: unknown time zone"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL: must start with sqlite+aiosqlite://"),
    ],
)
def test_bad_setting_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_env_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ADMIN_IDS=7\nDEFAULT_LOCALE=fr\n")
    settings = load_settings()
    assert settings.admin_ids == frozenset({7})
    assert settings.default_locale == "fr"


def _chorus(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _env(**values: str) -> dict[str, str]:
    import os

    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "PYTHONPATH", "LANG")}
    keep["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    return {**keep, **values}


def test_cli_stops_with_one_line_on_a_bad_setting(tmp_path: Path) -> None:
    result = _chorus("run", env=_env(BOT_RUNTIME="telethon"), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "chorus: configuration error: BOT_RUNTIME: Input should be 'aiogram' or 'ptb'"
    ]


def test_cli_run_without_token_says_how_to_try_the_sandbox(tmp_path: Path) -> None:
    result = _chorus("run", env=_env(), cwd=tmp_path)
    assert result.returncode == 2
    assert "BOT_TOKEN is not set" in result.stderr
    assert "chorus sandbox" in result.stderr


def test_cli_unreachable_database_is_one_line(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://nobody@127.0.0.1:1/none"
    result = _chorus("db", "upgrade", env=_env(DATABASE_URL=url), cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("chorus: configuration error: DATABASE_URL: cannot open")


def test_cli_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}"
    result = _chorus("db", "upgrade", env=_env(DATABASE_URL=url), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout
    assert (tmp_path / "x.sqlite3").exists()


def test_ptb_runtime_without_the_extra_says_how_to_install_it(tmp_path: Path) -> None:
    shadow = tmp_path / "shadow" / "telegram"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('No module named telegram')\n")
    env = _env(BOT_RUNTIME="ptb", BOT_TOKEN=GOOD_TOKEN)
    env["PYTHONPATH"] = f"{tmp_path / 'shadow'}:{env['PYTHONPATH']}"
    result = _chorus("run", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "chorus: configuration error: BOT_RUNTIME=ptb needs python-telegram-bot: "
        "pip install 'chorus[ptb]'"
    ]


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("https://bot.example.org/telegram", True),
        ("http://127.0.0.1:8080/hook", True),  # a local Bot API server or the emulator
        ("http://bot.example.org/telegram", False),  # Telegram posts only over HTTPS
        ("ftp://bot.example.org/", False),
    ],
)
def test_webhook_url_is_https_or_loopback(url: str, accepted: bool) -> None:
    if accepted:
        assert load_settings(webhook_url=url).webhook_url == url
    else:
        with pytest.raises(ConfigError, match=r"^WEBHOOK_URL: must be the public https://"):
            load_settings(webhook_url=url)


def test_webhook_secret_is_telegrams_alphabet_or_derived_from_the_token() -> None:
    with pytest.raises(ConfigError, match=r"^WEBHOOK_SECRET: must be 1 to 256 characters"):
        load_settings(webhook_secret="not allowed!")
    assert load_settings(webhook_secret="s3cr3t_-").webhook_secret_token(GOOD_TOKEN) == "s3cr3t_-"
    derived = load_settings().webhook_secret_token(GOOD_TOKEN)
    assert derived == load_settings().webhook_secret_token(GOOD_TOKEN)  # every worker agrees
    assert derived != load_settings().webhook_secret_token(GOOD_TOKEN[:-1] + "y")
    assert GOOD_TOKEN not in derived and len(derived) == 64

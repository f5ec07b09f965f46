"""Settings from the environment and an optional .env file, validated once at start-up."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

TOKEN_PATTERN = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{30,64}$")
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///chorus.sqlite3"
SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,256}")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class Settings(BaseSettings):
    """Every setting of Chorus; .env.example documents each one."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    database_url: str = DEFAULT_DATABASE_URL
    admin_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    bot_runtime: Literal["aiogram", "ptb"] = "aiogram"
    default_locale: Literal["en", "fr", "es", "ar"] = "en"
    default_timezone: str = "UTC"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    broadcast_rate: float = Field(default=30.0, gt=0, le=1000)
    sandbox_port: int = Field(default=8081, ge=0, le=65535)
    sandbox_database_url: str = "sqlite+aiosqlite:///sandbox.sqlite3"
    # Operations (bot/ops): /healthz and /metrics, and how long old rows are kept.
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = Field(default=9464, ge=0, le=65535)  # 0 or empty: off
    retention_outbox_days: int = Field(default=30, ge=0)  # 0: for ever
    retention_updates_days: int = Field(default=2, ge=1, le=6)  # ids repeat after a week
    retention_audit_days: int = Field(default=365, ge=0)  # 0: for ever
    # Webhook mode (bot/webhook.py): Telegram posts updates to WEBHOOK_URL, which a reverse
    # proxy forwards to WEBHOOK_HOST:WEBHOOK_PORT (same path). Unset: long polling.
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None  # unset: derived from the token (same on all workers)
    webhook_host: str = "127.0.0.1"
    webhook_port: int = Field(default=8080, ge=0, le=65535)
    webhook_max_connections: int = Field(default=40, ge=1, le=100)
    # Several workers: the per-person rate limit and Telegram's 429 pause shared on Redis
    # (bot/shared_limits.py; the `redis` extra). Unset: each worker keeps its own, in memory.
    redis_url: str | None = None

    @field_validator("metrics_port", mode="before")
    @classmethod
    def _empty_port(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("webhook_url", mode="before")
    @classmethod
    def _webhook_url(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        url = str(value).strip()
        parts = urlsplit(url)
        loopback = parts.hostname in LOOPBACK_HOSTS
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            raise ValueError(
                "must be the public https:// URL Telegram posts updates to"
                " (http:// only on loopback, for a local Bot API server or the emulator)"
            )
        return url

    @field_validator("redis_url", mode="before")
    @classmethod
    def _redis_url(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        url = str(value).strip()
        if not re.match(r"^rediss?://", url):
            raise ValueError(
                "must start with redis:// or rediss://, such as redis://127.0.0.1:6379/0"
            )
        return url

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        secret = value.get_secret_value().strip() if value is not None else ""
        if not secret:
            return None
        if not SECRET_PATTERN.fullmatch(secret):
            raise ValueError("must be 1 to 256 characters among A-Z, a-z, 0-9, _ and -")
        return SecretStr(secret)

    def webhook_secret_token(self, token: str) -> str:
        """The X-Telegram-Bot-Api-Secret-Token every worker checks: WEBHOOK_SECRET, or one
        derived from the token (so that all workers agree without configuring one)."""
        if self.webhook_secret is not None:
            return self.webhook_secret.get_secret_value()
        return hashlib.sha256(f"chorus-webhook:{token}".encode()).hexdigest()

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        token = value.get_secret_value().strip() if value is not None else ""
        if not token:
            return None  # empty or blank: unset, as for `make run` (chorus run --or-sandbox)
        if not TOKEN_PATTERN.match(token):
            raise ValueError("malformed token: expected digits, a colon, then 35 characters")
        return SecretStr(token)

    @field_validator("telegram_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http(s) URL such as https://api.telegram.org")
        return value.rstrip("/")

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",") if part.strip()]
            if not all(re.fullmatch(r"\d+", part) for part in parts):
                raise ValueError("must be comma-separated Telegram user ids, such as 1234,5678")
            return frozenset(int(part) for part in parts)
        if isinstance(value, int):
            return frozenset({value})
        return value

    @field_validator("default_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("database_url", "sandbox_database_url")
    @classmethod
    def _database(cls, value: str) -> str:
        if not re.match(r"^(sqlite\+aiosqlite|postgresql\+asyncpg)://", value):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value


class ConfigError(Exception):
    """A setting is wrong; the message is one line a person can act on."""


def load_settings(**overrides: object) -> Settings:
    """Reads and validates the settings, or raises ConfigError with one clear line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "setting"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{name}: {message}") from None


def sqlite_path(url: str) -> Path | None:
    """The file behind an SQLite URL (None for other databases or in-memory)."""
    prefix = "sqlite+aiosqlite:///"
    if not url.startswith(prefix) or url == prefix or ":memory:" in url:
        return None
    return Path(url.removeprefix(prefix))

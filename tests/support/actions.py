"""Helpers for the tests of calls to action: volunteers made directly, the outbox drained."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.app import Storage
from bot.delivery import DeliveryConfig, DeliveryEngine, MessengerTransport
from handlers.actions.broadcasts import refresh_refs
from handlers.kernel.context import Services
from storage.people import volunteers


async def make_volunteer(
    storage: Storage,
    user_id: int,
    *,
    now: datetime,
    name: str = "Volunteer",
    language: str = "en",
    country: str = "LB",
    timezone: str = "Asia/Beirut",
    kind: str = "individual",
    skills: list[str] | None = None,
    discreet: bool = False,
    **extra: Any,
) -> None:
    """Registers a volunteer without the dialog."""
    profile: dict[str, Any] = {
        "kind": kind,
        "display_name": name,
        "country": country,
        "language": language,
        "timezone": timezone,
        "skills": skills or [],
        "discreet": discreet,
        **extra,
    }
    async with storage.sessionmaker() as session, session.begin():
        await volunteers.register(
            session,
            user_id,
            profile,
            pledge_accepted_at=now,
            consent_given_at=now,
            status="active",
            now=now,
        )


def engine_for(services: Services) -> DeliveryEngine:
    """A delivery engine over the services' messenger, unpaced (for `drain`), with reports."""

    async def report(refs: set[str]) -> None:
        await refresh_refs(services, refs)

    return DeliveryEngine(
        services.sessionmaker,
        MessengerTransport(services.messenger),
        services.clock,
        DeliveryConfig(paced=False),
        on_flush=report,
    )

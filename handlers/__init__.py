"""What the bot does, framework-neutral: one router assembled from every conversation area."""

from __future__ import annotations

from handlers import common, groups, profile, registration
from handlers.guards import private_only
from handlers.routing import Router


def build_router() -> Router:
    """The root router: shared rules applied once per area."""
    root = Router("chorus")
    private = Router("private", guards=[private_only])
    private.include(common.router)
    private.include(registration.router)
    private.include(profile.router)
    root.include(private)
    root.include(common.events)
    root.include(groups.router)
    return root


__all__ = ["build_router"]

"""What the bot does, framework-neutral: one router assembled from every conversation area."""

from __future__ import annotations

from handlers import (
    action_dialog,
    actions,
    audit,
    checkins,
    common,
    consensus,
    decisions,
    directory,
    groups,
    membership,
    nudges,
    polls,
    privacy,
    profile,
    registration,
    reminders,
    retention,
    roles,
    roster,
    rsvp,
    stats,
)
from handlers.permissions import enforce
from handlers.routing import Router


def build_router() -> Router:
    """The root router: every area's routes, each command, button and dialog checked against
    the one permission table (handlers/permissions.py) — who may use it, and where."""
    root = Router("chorus")
    for area in (
        common.router,
        registration.router,
        profile.router,
        action_dialog.router,
        actions.router,
        roster.router,
        rsvp.router,
        polls.router,
        consensus.router,
        decisions.router,
        consensus.private,
        nudges.private,
        roles.router,
        membership.router,
        directory.router,
        checkins.router,
        privacy.router,
        audit.router,
        stats.router,
    ):
        root.include(area)
    for events in (
        common.events,
        groups.router,
        reminders.router,
        polls.events,
        decisions.events,
        nudges.events,
        checkins.events,
        retention.events,
    ):
        root.include(events)
    return enforce(root)


__all__ = ["build_router"]

"""What the bot does, framework-neutral: one router assembled from every conversation area."""

from __future__ import annotations

from handlers.actions import (
    action_dialog,
    action_list,
    attendance,
    digests,
    from_decision,
    ics,
    live,
    reminders,
    roster,
    rsvp,
    safety,
    slots,
)
from handlers.coalition import (
    audit,
    checkins,
    directory,
    groups,
    membership,
    organisations,
    retention_timer,
    roles,
    stats,
)
from handlers.decisions import (
    consensus,
    decision_list,
    group_changes,
    nudges,
    outcomes,
    polls,
    proxies,
)
from handlers.kernel.permissions import enforce
from handlers.kernel.routing import Router
from handlers.people import common, privacy, profile, registration, reports


def build_router() -> Router:
    """The root router: every area's routes, each command, button and dialog checked against
    the one permission table (handlers/permissions.py) — who may use it, and where."""
    root = Router("chorus")
    for area in (
        common.router,
        registration.router,
        profile.router,
        action_dialog.router,
        from_decision.router,
        action_list.router,
        roster.router,
        rsvp.router,
        attendance.router,
        ics.router,
        slots.router,
        safety.router,
        polls.router,
        consensus.router,
        decision_list.router,
        outcomes.router,
        consensus.private,
        outcomes.private,
        nudges.private,
        proxies.router,
        roles.router,
        membership.router,
        organisations.router,
        directory.router,
        checkins.router,
        privacy.router,
        reports.router,
        audit.router,
        stats.router,
    ):
        root.include(area)
    for events in (
        common.events,
        groups.router,
        reminders.router,
        live.events,
        digests.events,
        polls.events,
        decision_list.events,
        group_changes.events,
        nudges.events,
        checkins.events,
        retention_timer.events,
    ):
        root.include(events)
    return enforce(root)


__all__ = ["build_router"]

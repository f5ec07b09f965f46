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
    menu,
    nudges,
    polls,
    privacy,
    profile,
    registration,
    reminders,
    roles,
    roster,
    rsvp,
    stats,
)
from handlers.guards import coordinator_only, group_only, private_only, registered_only
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
    coordinators = Router("coordinators", guards=[private_only, coordinator_only])
    coordinators.include(action_dialog.router)
    coordinators.include(actions.router)
    coordinators.include(roster.router)
    root.include(coordinators)
    volunteers = Router("volunteers", guards=[registered_only])
    volunteers.include(rsvp.router)
    root.include(volunteers)
    root.include(reminders.router)
    in_groups = Router("group-decisions", guards=[group_only])
    in_groups.include(polls.router)
    in_groups.include(consensus.router)
    in_groups.include(decisions.router)
    root.include(in_groups)
    root.include(polls.events)
    root.include(decisions.events)
    root.include(nudges.events)
    decisions_private = Router("decisions-private", guards=[private_only])
    decisions_private.include(consensus.private)
    decisions_private.include(nudges.private)
    root.include(decisions_private)
    # Running the coalition: every command, button and dialog checked against the permission
    # table in handlers/roles.py (enforce); /promote and /demote also work by reply in groups.
    menu.add(*roles.menu_entries())
    root.include(roles.enforce(roles.router))
    coalition = Router("coalition", guards=[private_only])
    for area in (membership, directory, checkins, privacy, audit, stats):
        coalition.include(roles.enforce(area.router))
    root.include(coalition)
    root.include(checkins.events)
    return root


__all__ = ["build_router"]

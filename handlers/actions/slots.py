"""Filling an event's empty roles (issue 14).

A set time before the event (INVITE_BEFORE, or halfway there when it is nearer), every role
nobody has taken yet is offered to the active volunteers who have its skill, read one of the
call's languages and live where it happens (its time zone, or a country of that zone) and were
not asked yet: not sent the call, not answered, not invited before. Each is invited once
(slot_invitations, in the same transaction as the messages, through the outbox); the host is
told who was invited, or that nobody matches.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from importlib import resources

from handlers.actions import action_views as views
from handlers.actions import live
from handlers.kernel import names, permissions
from handlers.kernel.context import Context
from handlers.kernel.i18n import Html, translator
from handlers.kernel.routing import Router
from storage.actions import action_store, broadcast_store
from storage.actions.action_models import Action
from storage.coalition import role_store
from storage.models import Volunteer
from storage.outbox import Outgoing
from storage.people import shown_names, volunteers

INVITE_BEFORE = timedelta(days=2)
TIMER = "slot_invite"
NAMES_SHOWN = 20

router = Router("slots")


@cache
def countries_of(zone: str) -> frozenset[str]:
    """The countries whose zones include `zone` (tzdata's zone.tab)."""
    text = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text("utf-8")
    found = set()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            columns = line.split("\t")
            if len(columns) > 2 and columns[2] == zone:
                found.add(columns[0])
    return frozenset(found)


async def schedule(ctx: Context, action: Action) -> None:
    """Puts the timer that invites people to the roles still empty before the event."""
    if action.at is None:
        return
    now = ctx.now()
    due = action.at - INVITE_BEFORE
    if due <= now:
        due = now + (action.at - now) / 2
    await ctx.schedule(
        TIMER, f"a{action.id}", due, payload={"action_id": action.id}, grace_seconds=None
    )


def _matches(volunteer: Volunteer, action: Action, skill: str | None, languages: set[str]) -> bool:
    if skill is not None and skill not in (volunteer.skills or []):
        return False
    if volunteer.language not in languages:
        return False
    return volunteer.timezone == action.timezone or volunteer.country in countries_of(
        action.timezone
    )


@router.timer(TIMER)
async def invite(ctx: Context) -> None:
    """Invites matching volunteers to each role nobody has taken, once, and tells the host."""
    payload = ctx.event.payload or {}
    action = await action_store.get(ctx.session, int(payload.get("action_id", 0)))
    if action is None or not views.is_live(action, ctx.now()):
        return
    standing = await action_store.standing(ctx.session, action.id)
    empty = [slot for slot in standing.slots if slot.going == 0]
    if not empty:
        return
    languages = set(views.languages_of(views.values_of(action))) or {ctx.settings.default_locale}
    asked = (
        set(await broadcast_store.delivered_to(ctx.session, action.id))
        | set(standing.answers)
        | await action_store.invited(ctx.session, action.id)
    )
    everyone = await action_store.active_volunteers(ctx.session)
    host = await volunteers.get(ctx.session, action.created_by)
    host_t = translator(host.language if host is not None else ctx.settings.default_locale)
    # Told in their private chat: discreet members named only if the host may see them now.
    host_roles = await role_store.of_user(ctx.session, action.created_by)
    host_sees = permissions.may_see_discreet(
        permissions.held_roles(action.created_by, host_roles, ctx.settings.admin_ids), True
    )
    for slot in empty:
        chosen = [
            v
            for v in everyone
            if v.user_id not in asked and _matches(v, action, slot.skill, languages)
        ]
        asked |= {v.user_id for v in chosen}
        await action_store.record_invitations(
            ctx.session, action.id, slot.id, [v.user_id for v in chosen], ctx.now()
        )
        messages = []
        for volunteer in chosen:
            t = translator(volunteer.language)
            text, keyboard = views.person_view(
                t, action, volunteer.timezone, ctx.now(), standing, volunteer.user_id
            )
            role = f"{slot.name}{views.skill_text(t, slot.skill)}"
            intro = t("actions.role_invitation", role=role)
            messages.append(Outgoing(volunteer.user_id, Html(intro + "\n\n" + text), keyboard))
        await ctx.enqueue(messages, purpose="notice", ref=live.invitations_ref(action.id))
        if chosen:
            shown = [names.in_words(host_t, shown_names.for_viewer(v, host_sees)) for v in chosen]
            report = host_t.plural(
                "actions.roles_invited",
                len(chosen),
                role=slot.name,
                title=action.title,
                people=host_t.join(shown[:NAMES_SHOWN]),
            )
        else:
            report = host_t("actions.roles_nobody", role=slot.name, title=action.title)
        ctx.send(action.created_by, report)

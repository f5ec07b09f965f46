"""Check-ins: every few months each volunteer confirms their skills and time, or updates them.

One daily sweep timer asks those whose last confirmation is `checkin_months` old (a coalition
setting) and marks inactive those who did not answer within `checkin_days`. Inactive volunteers
are kept, but broadcasts and votes leave them out; answering the check-in brings them back.
A check-in can wait: it is due at the end of the volunteer's quiet hours (issue 16).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from handlers.kernel import quiet_hours
from handlers.kernel.callbacks import CallbackData, StaleButton
from handlers.kernel.context import Context
from handlers.kernel.i18n import Html, translator
from handlers.kernel.ports import Button, Keyboard
from handlers.kernel.routing import Router
from handlers.people import profile
from storage.coalition import checkin_store, membership_store
from storage.outbox import Outgoing
from storage.people import volunteers

SWEEP = "checkin_sweep"
SWEEP_GRACE_SECONDS = None  # a late sweep still runs: it only looks at dates

router = Router("checkins")
events = Router("checkins-events")


class CheckinButton(CallbackData, prefix="ci"):
    """The answer to a check-in: ci:ok | ci:edit."""

    answer: Literal["ok", "edit"]


def next_sweep(now: datetime) -> datetime:
    """The next midnight (UTC) after `now`."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + timedelta(days=1)


async def ensure_sweep(ctx: Context) -> None:
    """Makes sure the daily sweep is scheduled (idempotent: always the next midnight)."""
    await ctx.schedule(SWEEP, "daily", next_sweep(ctx.now()), grace_seconds=SWEEP_GRACE_SECONDS)


async def start(ctx: Context, user_id: int) -> None:
    """Starts a new member's check-in clock."""
    await checkin_store.confirmed(ctx.session, user_id, ctx.now())
    await ensure_sweep(ctx)


def _keyboard(language: str) -> Keyboard:
    t = translator(language)
    return [
        [Button(t("checkin.still_right"), CheckinButton("ok").pack())],
        [Button(t("checkin.update"), CheckinButton("edit").pack())],
    ]


@events.timer(SWEEP)
async def sweep(ctx: Context) -> None:
    """Asks who is due for a check-in; marks inactive who did not answer in time."""
    settings = await membership_store.settings(ctx.session)
    months, days = int(settings["checkin_months"]), int(settings["checkin_days"])
    if months <= 0:
        return
    now = ctx.now()
    messages: list[Outgoing] = []
    for volunteer in await checkin_store.to_lapse(ctx.session, days, now):
        if volunteers.is_muted(volunteer, volunteers.CHECKINS):
            continue  # muted after being asked: nobody is made inactive for it
        await checkin_store.lapse(ctx.session, volunteer, now)
        t = translator(volunteer.language)
        messages.append(
            Outgoing(
                volunteer.user_id,
                t("checkin.lapsed"),
                _keyboard(volunteer.language),
                quiet_hours.held_until(volunteer.quiet_hours, volunteer.timezone, now),
            )
        )
    for volunteer in await checkin_store.to_ask(ctx.session, months, now):
        if volunteers.is_muted(volunteer, volunteers.CHECKINS):
            continue  # check-ins muted in /profile (issue 16)
        await checkin_store.mark_asked(ctx.session, volunteer, now)
        t = translator(volunteer.language)
        text = t.plural("checkin.ask", months, days=t.number(days))
        night = quiet_hours.held_until(volunteer.quiet_hours, volunteer.timezone, now)
        messages.append(Outgoing(volunteer.user_id, text, _keyboard(volunteer.language), night))
    if messages:
        await ctx.enqueue(messages, purpose="notice", ref="checkin")
    await ensure_sweep(ctx)


@router.button(CheckinButton)
async def answered(ctx: Context, button: CheckinButton) -> None:
    """Records the volunteer's check-in; an inactive volunteer becomes active again."""
    what = button.answer
    volunteer = ctx.volunteer
    if volunteer is None or volunteer.status not in (checkin_store.ACTIVE, checkin_store.INACTIVE):
        raise StaleButton("not a member")
    came_back = await checkin_store.come_back(ctx.session, volunteer, ctx.now())
    await ensure_sweep(ctx)
    ctx.answer()
    ctx.edit_keyboard(None)
    key = "checkin.welcome_back" if came_back else "checkin.thanks"
    if what == "ok":
        ctx.reply(ctx.t(key))
        return
    text, keyboard = profile.view(ctx, volunteer)
    ctx.reply(Html(ctx.t(key) + "\n\n" + text), keyboard)

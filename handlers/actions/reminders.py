"""Reminders before an action: timers in the timers table, sent through the paced outbox.

Events remind those who answered Going or Maybe; petitions and letters remind those who got
the action and have not marked it done. A reminder fires once (the timer row is claimed in the
same transaction that queues its messages), follows the action when its time moves, and is
dropped when the action is cancelled or closed. A late reminder still goes out until the action's
moment; of several overdue at once (after downtime), only the latest.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from handlers.actions import broadcasts as sending
from handlers.actions.action_views import is_event, relative_text
from handlers.kernel.context import Context
from handlers.kernel.i18n import Translator
from handlers.kernel.routing import Router
from storage.actions import action_store, broadcast_store
from storage.actions.action_models import Action

log = logging.getLogger(__name__)

KIND = "action_reminder"

router = Router("reminders")


def grace_seconds(minutes_before: int) -> int:
    """How late a reminder may still go out: until the action's moment (then it is useless)."""
    return minutes_before * 60


def _prefix(action_id: int) -> str:
    return f"a{action_id}:"


async def reschedule(ctx: Context, action: Action) -> int:
    """Puts the action's reminders on the timers (replacing the old ones); returns how many."""
    await ctx.cancel_timers(KIND, _prefix(action.id))
    if action.status != action_store.OPEN or action.at is None:
        return 0
    count = 0
    now = ctx.now()
    for minutes in action.reminder_minutes:
        due = action.at - timedelta(minutes=int(minutes))
        if due <= now:
            continue
        await ctx.schedule(
            KIND,
            f"{_prefix(action.id)}{int(minutes)}",
            due,
            payload={"action_id": action.id, "minutes": int(minutes)},
            grace_seconds=grace_seconds(int(minutes)),
        )
        count += 1
    return count


async def drop(ctx: Context, action: Action) -> None:
    """Cancels the action's pending reminders."""
    await ctx.cancel_timers(KIND, _prefix(action.id))


@router.timer(KIND)
async def remind(ctx: Context) -> None:
    """Reminds the volunteers concerned that the action is coming (or its deadline is)."""
    payload = ctx.event.payload or {}
    action = await action_store.get(ctx.session, int(payload.get("action_id", 0)))
    if action is None or action.status != action_store.OPEN or action.at is None:
        return
    if action.at <= ctx.now():  # the event started, the deadline passed: no longer useful
        return
    if await ctx.superseded(_prefix(action.id)):  # a later reminder is overdue too: it alone goes
        log.info("reminder of action %s superseded by a later one, also overdue", action.id)
        return
    if is_event(action.kind):
        people = await action_store.responders(
            ctx.session, action.id, (action_store.GOING, action_store.MAYBE)
        )
        key = "actions.reminder_event"
    else:
        done = await action_store.user_ids_with(ctx.session, action.id, (action_store.DONE,))
        reached = [
            u for u in await broadcast_store.delivered_to(ctx.session, action.id) if u not in done
        ]
        people = await action_store.recipients(ctx.session, reached)
        key = "actions.reminder_deadline"
    if not people:
        log.info("reminder of action %s: nobody to remind", action.id)
        return
    delta = action.at - ctx.now()

    def intro(t: Translator) -> str:
        return t(key, delta=relative_text(t, delta))

    await sending.send_about(ctx, action, people, "reminder", intro=intro)

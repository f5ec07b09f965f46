"""Daily or weekly digests of calls to action, for volunteers who chose them in /profile.

An announcement keeps the action for each such volunteer (storage/actions/digest_store.py) and
schedules their "digest" timer at their next digest time (handlers/kernel/quiet_hours.py); when
it fires, one message lists what is still open with a button that opens each (its deep link,
which shows the action with its answer buttons), and the timer waits for the next action.
"""

from __future__ import annotations

from handlers.actions.action_views import KIND_ICONS, deep_link, is_event, when_text
from handlers.actions.broadcasts import DIGEST_TIMER, hold_until
from handlers.kernel import limits
from handlers.kernel.context import Context
from handlers.kernel.i18n import translator
from handlers.kernel.ports import Button
from handlers.kernel.routing import Router
from storage.actions import action_store, digest_store
from storage.actions.action_store import Recipient
from storage.outbox import Outgoing
from storage.people import volunteers

events = Router("digests-events")  # timers

MAX_BUTTONS = 20


@events.timer(DIGEST_TIMER)
async def digest_due(ctx: Context) -> None:
    """Sends a volunteer the calls to action kept for their digest, in one message."""
    user_id = int((ctx.event.payload or {}).get("key", 0))
    volunteer = await volunteers.get(ctx.session, user_id)
    actions = await digest_store.take(ctx.session, user_id)
    if volunteer is None or volunteer.status != "active":
        return
    now = ctx.now()
    still = [a for a in actions if a.status == action_store.OPEN and (a.at is None or a.at > now)]
    if not still:
        return
    t = translator(volunteer.language)
    lines = [t.plural("digest.title", len(still)), ""]
    buttons: list[list[Button]] = []
    for action in still:
        line = f"{KIND_ICONS.get(action.kind, '📌')} <b>{t.isolate(action.title)}</b>"
        if action.at is not None:
            key = "actions.line_when" if is_event(action.kind) else "actions.line_deadline"
            line += "\n" + t(key, when=when_text(t, action.at, volunteer.timezone))
        lines.append(line)
        if len(buttons) < MAX_BUTTONS:
            link = deep_link(ctx.settings.bot_username, action.code)
            label = f"{KIND_ICONS.get(action.kind, '📌')} {action.title}"
            buttons.append([Button(label, url=link)])
    person = Recipient(user_id, volunteer.language, volunteer.timezone, volunteer.quiet_hours)
    text = limits.fitted(t, lines, sep="\n\n")
    message = Outgoing(user_id, text, buttons, hold_until(person, now))
    await ctx.enqueue([message], purpose="digest", ref=f"digest:{user_id}")

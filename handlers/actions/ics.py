"""An "Add to calendar" file for an event (issue 14): an iCalendar (.ics, RFC 5545) event in
the reader's own time zone (with its VTIMEZONE), sent privately to whoever presses the button.

The file carries the action's current time and place; its UID stays the same for one action,
so a calendar that imports it again after a change updates the event instead of adding one.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from handlers.actions import action_views as views
from handlers.actions.action_views import CalendarButton
from handlers.kernel.callbacks import StaleButton
from handlers.kernel.context import Context
from handlers.kernel.ports import Messenger
from handlers.kernel.routing import Router
from storage.actions import action_store
from storage.actions.action_models import Action

router = Router("calendar")


def ics_bytes(action: Action, timezone: str, now: datetime, bot_username: str) -> bytes:
    """The event as an iCalendar file, its times in `timezone`."""
    assert action.at is not None
    zone = ZoneInfo(timezone)
    end = views.end_of(action) or action.at
    event = Event()
    event.add("uid", f"action-{action.id}-{action.code}@{bot_username}")
    event.add("dtstamp", now)
    event.add("dtstart", action.at.astimezone(zone))
    event.add("dtend", end.astimezone(zone))
    event.add("summary", action.title)
    event.add("description", action.description)
    if action.place:
        event.add("location", action.place)
    elif action.online and action.link:
        event.add("location", action.link)
    event.add("url", action.link or views.deep_link(bot_username, action.code))
    if action.status == action_store.CANCELLED:
        event.add("status", "CANCELLED")
    calendar = Calendar()
    calendar.add("prodid", "-//Chorus//Calls to action//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return bytes(calendar.to_ical())


@router.button(CalendarButton)
async def add_to_calendar(ctx: Context, button: CalendarButton) -> None:
    """Sends the event as a calendar file, in the person's time zone, to their private chat."""
    if button.action_id == 0:  # a button of a preview or a test (views.INERT)
        ctx.answer(ctx.t("actions.preview_button"))
        return
    action = await action_store.get(ctx.session, button.action_id)
    if action is None or action.at is None or not views.is_event(action.kind):
        raise StaleButton(ctx.event.data)
    zone = ctx.volunteer.timezone if ctx.volunteer is not None else action.timezone
    content = ics_bytes(action, zone, ctx.now(), ctx.settings.bot_username)
    caption = ctx.t("calendar.caption", title=action.title, zone=zone)
    chat_id = ctx.user_id
    name = f"action-{action.id}.ics"

    async def send_file(messenger: Messenger) -> None:
        await messenger.send_document(chat_id, name, content, caption)

    ctx.after_commit(send_file)
    ctx.answer(ctx.t("calendar.sent"))

"""/roster <action>: who answered what, for coordinators, with a CSV export.

Names are escaped. Volunteers in discreet mode are named, marked 🔒, in the list and in the file
alike, only to a reader the permission model lets see them (permissions.may_see_discreet:
coordinators, in their private chat, as the registration promises); to anyone else they appear
without their name.
"""

from __future__ import annotations

from handlers.actions.action_views import count_label
from handlers.coalition.audit import note
from handlers.kernel import csv_export, failures, limits, names, permissions
from handlers.kernel.callbacks import CallbackData, StaleButton
from handlers.kernel.context import Context
from handlers.kernel.i18n import Html, Translator
from handlers.kernel.ports import Button, Messenger, MessengerError
from handlers.kernel.routing import Router
from storage.actions import action_store
from storage.actions.action_models import Action, Rsvp
from storage.models import Volunteer
from storage.people import shown_names


class RosterButton(CallbackData, prefix="ro"):
    """Opens the roster of an action: ro:<action id>."""

    action_id: int


ORDER = (
    action_store.GOING,
    action_store.WAITLIST,
    action_store.MAYBE,
    action_store.DONE,
    action_store.CANT,
)
MAX_TEXT = limits.TEXT - 200  # room for the line that says how many are in the file

router = Router("roster")


def shown_name(t: Translator, volunteer: Volunteer | None, sees_discreet: bool) -> str:
    """How a volunteer appears on a roster, for a reader who may or may not see discreet
    members (permissions.may_see_discreet; storage.people.shown_names.for_viewer), in words."""
    return names.in_words(t, shown_names.for_viewer(volunteer, sees_discreet))


CSV_HEADER = ("name", "username", "kind", "country", "answer", "answered_at")


def csv_bytes(
    t: Translator, rows: list[tuple[Rsvp, Volunteer | None]], sees_discreet: bool
) -> bytes:
    """The roster as CSV (see handlers.csv_export); discreet volunteers named (🔒) only for a
    reader who may see them."""
    return csv_export.table(
        CSV_HEADER,
        (
            (
                shown_name(t, volunteer, sees_discreet),
                shown_names.username_for_viewer(volunteer, sees_discreet),
                volunteer.kind if volunteer else "",
                volunteer.country if volunteer else "",
                rsvp.status,
                rsvp.answered_at.isoformat(timespec="seconds"),
            )
            for rsvp, volunteer in rows
        ),
    )


async def show(ctx: Context, action: Action) -> None:
    """Sends the counts and the list of an action, then the CSV file."""
    t = ctx.t
    sees = permissions.may_see_discreet(ctx.roles, ctx.event.chat.is_private)
    rows = await action_store.roster(ctx.session, action.id)
    counts = await action_store.counts(ctx.session, action.id)
    lines: list[str] = [t("roster.title", id=action.id, title=action.title)]
    length = limits.length(lines[0])
    omitted = 0
    for status in ORDER:
        group = [(r, v) for r, v in rows if r.status == status]
        if not group:
            continue
        label = count_label(t, action.kind, status)
        heading = f"\n<b>{label}</b> ({t.number(counts.get(status, 0))})"
        lines.append(heading)
        length += limits.length(heading) + 1
        for _, volunteer in group:
            line = f"• {t.isolate(shown_name(t, volunteer, sees))}"
            size = limits.length(line) + 1
            if length + size > MAX_TEXT:
                omitted += 1
                continue
            lines.append(line)
            length += size
    if not rows:
        lines.append(t("roster.empty"))
    if omitted:
        lines.append(t.plural("roster.more_in_file", omitted))
    ctx.reply(Html("\n".join(lines)))
    if rows:
        await note(ctx, "roster.export", action=action.id, title=action.title, count=len(rows))
        content = csv_bytes(t, rows, sees)
        chat_id = ctx.chat_id
        caption = t("roster.file_caption", title=action.title)
        name = csv_export.file_name(f"roster-{action.id}", ctx.now(), ctx.user_id)

        services, thread = ctx.services, ctx.event.thread_id

        async def send_file(messenger: Messenger) -> None:
            try:
                await messenger.send_document(chat_id, name, content, caption, thread_id=thread)
            except MessengerError as exc:  # flood control already waited out: say so
                text = t("roster.file_failed", reason=failures.reason(t, exc))
                await failures.tell(services, chat_id, text, thread_id=thread)

        ctx.after_commit(send_file)


@router.command("roster")
async def roster(ctx: Context) -> None:
    """Shows the roster of the action named in the command, or asks which action."""
    if ctx.args:
        action = await action_store.find(ctx.session, ctx.args)
        if action is None:
            ctx.reply(ctx.t("roster.not_found", reference=ctx.args))
            return
        await show(ctx, action)
        return
    recent = await action_store.recent(ctx.session, 10)
    if not recent:
        ctx.reply(ctx.t("actions.none_yet"))
        return
    rows = [[Button(f"#{a.id} {a.title[:40]}", RosterButton(a.id).pack())] for a in recent]
    ctx.reply(ctx.t("roster.which"), rows)


@router.button(RosterButton)
async def roster_button(ctx: Context, button: RosterButton) -> None:
    """Shows the roster of the chosen action."""
    action = await action_store.get(ctx.session, button.action_id)
    if action is None:
        raise StaleButton(ctx.event.data)
    ctx.answer()
    await show(ctx, action)

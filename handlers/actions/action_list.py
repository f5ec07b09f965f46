"""/actions for coordinators: current and past actions with their counts; edit, cancel, close,
stop a broadcast. Also the deep link that shows an action to anyone who opens it.

Volunteers who answered are told when an action changes or is cancelled (through the outbox).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from handlers.actions import action_dialog, attendance, live, reminders, rsvp
from handlers.actions import action_views as views
from handlers.actions import broadcasts as sending
from handlers.actions.roster import RosterButton
from handlers.coalition.audit import note
from handlers.kernel import forms, limits
from handlers.kernel.callbacks import CallbackData, StaleButton
from handlers.kernel.context import Context
from handlers.kernel.forms import AnswerButton, Data, Message, Step
from handlers.kernel.i18n import Html, Translator
from handlers.kernel.invalid_input import InvalidInput
from handlers.kernel.ports import Button, Keyboard
from handlers.kernel.routing import Router
from handlers.people.registration import on_start_payload
from storage import outbox
from storage.actions import action_store, broadcast_store
from storage.actions.action_models import Action

EDIT_FLOW = "actionedit"
FIELDS = ("title", "description", "link", "when", "place", "capacity", "reminders")
Operation = Literal["open", "edit", "field", "stop", "close", "cancel", "cancel_yes", "cancel_no"]
CONCERNED = (action_store.GOING, action_store.MAYBE, action_store.WAITLIST, action_store.DONE)
LIST_LIMIT = 20

router = Router("actions")


class CardButton(CallbackData, prefix="ac"):
    """A button of an action's card: ac:<operation>:<action id>[:<field>] (field for "field")."""

    operation: Operation
    action_id: int
    field: str = ""

    def __post_init__(self) -> None:
        if self.field not in (FIELDS if self.operation == "field" else ("",)):
            raise ValueError(self.field)


def _is_current(action: Action, now: datetime) -> bool:
    return views.is_live(action, now)


async def _counts_line(ctx: Context, action: Action) -> str:
    t = ctx.t
    counts = await action_store.counts(ctx.session, action.id)
    names = [*views.answers_for(action.kind)]
    if action.capacity is not None:
        names.append(action_store.WAITLIST)
    parts = [f"{views.count_label(t, action.kind, n)} {t.number(counts.get(n, 0))}" for n in names]
    return " · ".join(parts)


async def _delivery_line(ctx: Context, action: Action) -> str:
    totals: dict[str, int] = {}
    for broadcast in await broadcast_store.of_action(ctx.session, action.id):
        if broadcast.purpose == broadcast_store.ANNOUNCE:
            for state, count in (
                await outbox.counts(ctx.session, broadcast_store.ref(broadcast.id))
            ).items():
                totals[state] = totals.get(state, 0) + count
    t = ctx.t
    return t(
        "actions.delivery_line",
        sent=t.number(totals.get(outbox.SENT, 0)),
        total=t.number(sum(totals.values())),
        failed=t.number(totals.get(outbox.FAILED, 0)),
    )


@router.command("actions")
async def list_actions(ctx: Context) -> None:
    """Lists current and past actions with their counts, each with a button to open it."""
    t = ctx.t
    found = await action_store.recent(ctx.session, LIST_LIMIT)
    if not found:
        ctx.reply(t("actions.none_yet"))
        return
    now = ctx.now()
    current = [a for a in found if _is_current(a, now)]
    past = [a for a in found if not _is_current(a, now)]
    lines: list[str] = []
    for key, group in (("actions.list_current", current), ("actions.list_past", past)):
        if not group:
            continue
        lines += ["", t(key)]
        for action in group:
            status = t(f"actions.status_{views.shown_status(action, now)}")
            lines.append(
                f"#{action.id} <b>{_short(t, action.title)}</b> — {status}\n"
                f"   {await _counts_line(ctx, action)}"
            )
    rows = [
        [Button(f"#{a.id} {a.title[:40]}", CardButton("open", a.id).pack())]
        for a in [*current, *past]
    ]
    ctx.reply(Html("\n".join([t("actions.list_title"), *lines])), rows)


def _short(t: Translator, title: str) -> str:
    return t.isolate(title if len(title) <= 60 else title[:59] + "…")


async def card(ctx: Context, action: Action) -> tuple[Html, Keyboard]:
    """An action as a coordinator manages it: the text, the counts, the buttons."""
    t = ctx.t
    status = views.shown_status(action, ctx.now())
    standing = await action_store.standing(ctx.session, action.id)
    lines = [
        views.render(t, action, action.timezone, standing=standing),
        "",
        t("actions.card_status", id=action.id, status=t(f"actions.status_{status}")),
        await _counts_line(ctx, action),
        await _delivery_line(ctx, action),
        t("actions.card_reminders", when=views.reminders_text(t, action.reminder_minutes)),
        t("actions.card_link", link=views.deep_link(ctx.settings.bot_username, action.code)),
    ]
    rows: list[list[Button]] = [[Button(t("actions.roster"), RosterButton(action.id).pack())]]
    if views.is_event(action.kind) and action.status != action_store.CANCELLED:
        check_in = attendance.CheckButton(action.id, 0, "v").pack()
        rows.append([Button(t("attendance.open_roster"), check_in)])
    if action.status == action_store.OPEN:
        rows.insert(0, [Button(t("actions.edit"), CardButton("edit", action.id).pack())])
        running = [
            b
            for b in await broadcast_store.of_action(ctx.session, action.id)
            if b.state == "running"
        ]
        if running:
            rows.append([Button(t("broadcast.stop"), CardButton("stop", action.id).pack())])
        rows.append(
            [
                Button(t("actions.close"), CardButton("close", action.id).pack()),
                Button(t("actions.cancel_action"), CardButton("cancel", action.id).pack()),
            ]
        )
    return limits.fitted(t, lines), rows


@router.button(CardButton)
async def on_card(ctx: Context, button: CardButton) -> None:
    """Opens an action, or edits, stops, closes or cancels it."""
    operation = button.operation
    action = await action_store.get(ctx.session, button.action_id)
    if action is None:
        raise StaleButton(ctx.event.data)
    ctx.answer()
    t = ctx.t
    if operation == "open":
        ctx.reply(*await card(ctx, action))
        return
    if operation == "cancel_no":  # "No, keep it": the question goes, nothing else changes
        ctx.edit(t("actions.cancel_kept", title=action.title))
        return
    if action.status != action_store.OPEN:
        ctx.reply(t("actions.not_open", status=t(f"actions.status_{action.status}")))
        return
    if operation == "edit":
        names = [f for f in FIELDS if views.is_event(action.kind) or f not in ("place", "capacity")]
        rows = [
            [Button(t(f"actions.field_{f}"), CardButton("field", action.id, f).pack())]
            for f in names
        ]
        ctx.reply(t("actions.ask_edit_field"), rows)
    elif operation == "field":
        field = button.field
        data = {
            "action_id": action.id,
            "timezone": action.timezone,
            "reminders": list(action.reminder_minutes),
        }
        await forms.start(ctx, EDIT_FORM, data, field)
    elif operation == "stop":
        stopped = await broadcast_store.stop_all(ctx.session, action.id, sending.rows_to_plan)
        ctx.reply(t.plural("broadcast.stopped", stopped))
        _refresh_reports_after_commit(
            ctx, [b.id for b in await broadcast_store.of_action(ctx.session, action.id)]
        )
    elif operation == "close":
        await _end(ctx, action, action_store.CLOSED)
    elif operation == "cancel":
        yes = Button(t("actions.cancel_confirm"), CardButton("cancel_yes", action.id).pack())
        keep = Button(t("actions.cancel_keep"), CardButton("cancel_no", action.id).pack())
        ctx.reply(t("actions.cancel_question", title=action.title), [[yes], [keep]])
    else:
        ctx.edit_keyboard(None)
        await _end(ctx, action, action_store.CANCELLED)


def _question(t: Translator, data: Data, field: str) -> str:
    if field == "when":
        return t("actions.ask_new_when", zone=data["timezone"])
    if field == "reminders":
        return t("actions.ask_reminders", now=views.reminders_text(t, data["reminders"]))
    if field == "capacity":
        return t("actions.ask_new_capacity")
    if field == "link":
        return t("actions.ask_new_link")
    return t(
        f"actions.ask_{field}",
        max=views.TITLE_LIMITS[1] if field == "title" else views.DESCRIPTION_LIMITS[1],
    )


def _refresh_reports_after_commit(ctx: Context, broadcast_ids: list[int]) -> None:
    services = ctx.services

    async def refresh(_: Any) -> None:
        for broadcast_id in broadcast_ids:
            await sending.refresh(services, broadcast_id, force=True)

    ctx.after_commit(refresh)


async def _end(ctx: Context, action: Action, status: str) -> None:
    """Closes or cancels an action: no more answers, no reminders, nothing more sent."""
    await action_store.change(ctx.session, action, {"status": status}, ctx.now())
    kind = "action.close" if status == action_store.CLOSED else "action.cancel"
    await note(ctx, kind, action=action.id, title=action.title)
    await reminders.drop(ctx, action)
    await attendance.drop(ctx, action, keep_thanks=status == action_store.CLOSED)
    await ctx.cancel_timers(action_dialog.PUBLISH_TIMER, f"a{action.id}")
    await broadcast_store.stop_all(ctx.session, action.id, sending.rows_to_plan)
    await live.refresh(ctx, action)
    if status == action_store.CANCELLED:
        people = await action_store.responders(ctx.session, action.id, CONCERNED)
        await sending.send_about(
            ctx,
            action,
            people,
            "cancel",
            intro=lambda t: t("actions.cancelled_notice"),
            buttons=False,
        )
    ctx.reply(ctx.t(f"actions.{status}_done", title=action.title))


@router.button(sending.StopButton)
async def stop_broadcast(ctx: Context, button: sending.StopButton) -> None:
    """Stops a broadcast from its progress message."""
    broadcast = await broadcast_store.get(ctx.session, button.broadcast_id)
    if broadcast is None:
        raise StaleButton(ctx.event.data)
    if broadcast.state != broadcast_store.RUNNING:
        ctx.answer(ctx.t("broadcast.already_finished"))
        return
    stopped = await broadcast_store.stop(ctx.session, broadcast, sending.rows_to_plan)
    ctx.answer(ctx.t.plural("broadcast.stopped", stopped))
    _refresh_reports_after_commit(ctx, [broadcast.id])


def _edit_step(field: str) -> Step:
    def ask(t: Translator, data: Data, kind: type[AnswerButton]) -> Message:
        return _question(t, data, field), None

    def read_text(ctx: Context, data: Data, text: str, kind: type[AnswerButton]) -> str:
        _changes(ctx, str(data["timezone"]), field, text)
        return text

    return Step(field, ask, read_text=read_text, key="text", then=lambda data, value: forms.FINISH)


async def apply_edit(ctx: Context, data: Data) -> None:
    """Applies the new value of a field and tells the volunteers who answered."""
    field = ctx.dialog.step if ctx.dialog is not None else ""
    # Locked: more places promote from the waitlist by the counts, which presses move meanwhile.
    action = await action_store.get(ctx.session, int(data.get("action_id", 0)), lock=True)
    if action is None or action.status != action_store.OPEN:
        await ctx.clear_dialog()
        ctx.reply(ctx.t("actions.not_open", status=ctx.t("actions.status_closed")))
        return
    try:
        changes = _changes(ctx, action.timezone, field, str(data["text"]))
    except InvalidInput as problem:
        ctx.reply(problem.text(ctx.t))
        ctx.reply(_question(ctx.t, data, field))
        return
    old_capacity = action.capacity
    if "at" in changes and action.ends_at is not None and action.at is not None:
        changes["ends_at"] = action.ends_at + (changes["at"] - action.at)
    change = _change(field, {name: getattr(action, name) for name in changes}, changes)
    await note(ctx, "action.edit", action=action.id, title=action.title, **change)
    await action_store.change(ctx.session, action, changes, ctx.now())
    await ctx.clear_dialog()
    if field in ("when", "reminders"):
        await reminders.reschedule(ctx, action)
    if field == "when":
        await attendance.schedule(ctx, action)
    if field == "capacity" and (action.capacity is None or (old_capacity or 0) < action.capacity):
        await rsvp.promote(ctx, action)
    if field != "reminders":
        await live.refresh(ctx, action, outdate=True)
        people = await action_store.responders(ctx.session, action.id, CONCERNED)
        declined = await action_store.responders(ctx.session, action.id, (action_store.CANT,))
        label = field

        def intro(t: Translator) -> str:
            return t("actions.changed_notice", field=t(f"actions.field_{label}"))

        def intro_declined(t: Translator) -> str:
            return t("actions.changed_notice_cant", field=t(f"actions.field_{label}"))

        await sending.send_about(ctx, action, people, "update", intro=intro)
        if declined:
            await sending.send_about(ctx, action, declined, "update", intro=intro_declined)
        ctx.reply(ctx.t.plural("actions.saved_told", len(people) + len(declined)))
    else:
        ctx.reply(ctx.t("profile.saved"))
    ctx.reply(*await card(ctx, action))


EDIT_FORM = forms.Form(
    flow=EDIT_FLOW,
    button=AnswerButton,  # typed only
    steps={field: _edit_step(field) for field in FIELDS},
    order=lambda data: list(FIELDS),
    finish=apply_edit,
    diagram="actionedit.mmd",
)
forms.route(EDIT_FORM, router)


def _change(field: str, before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """An edit for the audit log: the field and its value from → to (every changed column when
    several change together, as a place that became "online")."""
    changed = [name for name in after if before[name] != after[name]] or list(after)
    if len(changed) == 1:
        (name,) = changed
        return {"field": field, "from_": before[name], "to": after[name]}
    return {
        "field": field,
        "from_": {name: before[name] for name in changed},
        "to": {name: after[name] for name in changed},
    }


def _changes(ctx: Context, zone: str, field: str, text: str) -> dict[str, Any]:
    t = ctx.t
    if field == "when":
        local = views.parse_local_time(text, ctx.now(), zone)
        moment = views.to_utc(local, zone)
        if moment <= ctx.now():
            raise InvalidInput("actions.in_the_past")
        return {"at": moment}
    if field == "capacity" and text.strip().lower() in (
        "none",
        "0",
        t("actions.none_word").lower(),
    ):
        return {"capacity": None}
    if field == "place" and text.strip().lower() == t("actions.online").lower():
        return {"place": None, "online": True}
    values = action_dialog.parse_field(ctx, field, text)
    if field == "reminders":
        return {"reminder_minutes": values["reminders"]}
    return values


@on_start_payload("a_")
async def open_from_link(ctx: Context, code: str) -> None:
    """Shows the action behind a deep link, with its buttons."""
    action = await action_store.by_code(ctx.session, code.lower()) if code.isalnum() else None
    if action is None:
        ctx.reply(ctx.t("actions.link_unknown"))
        return
    if action.status != action_store.OPEN:
        ctx.reply(ctx.t("actions.not_open", status=ctx.t(f"actions.status_{action.status}")))
        return
    zone = ctx.volunteer.timezone if ctx.volunteer else action.timezone
    standing = await action_store.standing(ctx.session, action.id)
    ctx.reply(*views.person_view(ctx.t, action, zone, ctx.now(), standing, ctx.user_id))

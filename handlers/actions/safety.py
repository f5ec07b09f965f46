"""The safety check-in after a risky action (issue 16, the safety kit for members at risk).

A coordinator marks an event as risky (`/safety <action>`): a stunt, a vigil where arrests are
possible. Then:

- the people Going are told, and each may name a **buddy**: they get an invitation to forward
  (a t.me link with a secret, single use); whoever opens it becomes their buddy. Nobody looks
  anyone up: no name or @username search that would tell a stranger who is a member.
- At the end of the action each participant (Going, or checked in) is asked "Are you safe?",
  at once, whatever their quiet hours (a safety message is urgent).
- "🆘 I need help" alerts their buddy and the action's host (its creator) at once;
  no answer within the plan's wait (1 hour by default) alerts them too; a later "I am safe"
  tells them all is well.

The ask and the alert are timers (`safety_ask` at the end, `safety_alert` after the wait), so
a restart loses neither; if the action's end moved later since it was marked, the ask moves
with it when it comes due. Alerts name the participant by the name they show to others (their
pseudonym if they chose one): the buddy was chosen by them, the host is a coordinator.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from handlers.actions import action_views as views
from handlers.coalition.audit import note
from handlers.kernel.callbacks import CallbackData, StaleButton
from handlers.kernel.context import Context
from handlers.kernel.i18n import Html, Translator, translator
from handlers.kernel.ports import Button, Keyboard
from handlers.kernel.routing import Router
from handlers.people.registration import on_start_payload
from storage.actions import action_store, safety_store
from storage.actions.action_models import Action
from storage.actions.safety_models import SafetyCheck
from storage.models import Volunteer
from storage.outbox import Outgoing
from storage.people import shown_names, volunteers

router = Router("safety")

DEFAULT_WAIT = 60  # minutes without an answer before the buddy and host are alerted
WAITS = (30, 60, 120)
INVITE_PREFIX = "bd_"  # t.me/<bot>?start=bd_<secret>
PARTICIPANTS = (action_store.GOING,)
TIMERS = ("safety_ask", "safety_alert")


class SafetyButton(CallbackData, prefix="sf"):
    """A coordinator marks an action risky with a wait in minutes (sf:<action>:<minutes>), or
    not risky (sf:<action>:0)."""

    action_id: int
    minutes: int


class BuddyButton(CallbackData, prefix="sb"):
    """A participant asks for a buddy invitation: sb:<action>."""

    action_id: int


class SafeButton(CallbackData, prefix="sk"):
    """The answer to "Are you safe?": sk:<action>:<safe|help>."""

    action_id: int
    answer: Literal["safe", "help"]


def _key(action_id: int) -> str:
    return f"action:{action_id}"


def _public(volunteer: Volunteer | None, fallback: str) -> str:
    """The name a participant shows to others (their pseudonym if they chose one)."""
    return shown_names.public_name(volunteer) if volunteer is not None else fallback


def _waited(t: Translator, minutes: int) -> str:
    """A wait in words: "30 minutes", "1 hour", "2 hours"."""
    if minutes % 60 == 0:
        return t.plural("safety.hours", minutes // 60)
    return t.plural("safety.minutes", minutes)


# the coordinator's side


@router.command("safety")
async def safety(ctx: Context) -> None:
    """Shows whether an action is marked risky, with the buttons to change it; without an
    action, the upcoming events to choose from."""
    if not ctx.args:
        now = ctx.now()
        upcoming = [
            a
            for a in await action_store.recent(ctx.session, 20)
            if views.is_event(a.kind) and a.at is not None and views.is_live(a, now)
        ]
        if not upcoming:
            ctx.reply(ctx.t("safety.no_events"))
            return
        risky = await safety_store.plans(ctx.session, [a.id for a in upcoming])
        rows = [
            [
                Button(
                    ("⚠️ " if a.id in risky else "") + f"#{a.id} {a.title[:40]}",
                    SafetyButton(a.id, 1).pack(),
                )
            ]
            for a in upcoming[:10]
        ]
        ctx.reply(ctx.t("safety.which"), rows)
        return
    action = await action_store.find(ctx.session, ctx.args)
    if action is None:
        ctx.reply(ctx.t("roster.not_found", reference=ctx.args))
        return
    await _show(ctx, action, edit=False)


async def _show(ctx: Context, action: Action, *, edit: bool) -> None:
    t = ctx.t
    if not views.is_event(action.kind) or action.at is None:
        text: Html = t("safety.not_event", title=action.title)
        keyboard: Keyboard = []
    else:
        found = await safety_store.plan(ctx.session, action.id)
        if found is None:
            text = t("safety.status_off", title=action.title)
            keyboard = [
                [
                    Button(
                        t("safety.button_mark", wait=_waited(t, m)),
                        SafetyButton(action.id, m).pack(),
                    )
                    for m in WAITS
                ]
            ]
        else:
            checks = await safety_store.checks(ctx.session, action.id)
            buddies = sum(1 for c in checks if c.buddy_id is not None)
            text = t(
                "safety.status_on",
                title=action.title,
                wait=_waited(t, found.wait_minutes),
                buddies=buddies,
            )
            keyboard = [[Button(t("safety.button_unmark"), SafetyButton(action.id, 0).pack())]]
    if edit:
        ctx.edit(text, keyboard)
    else:
        ctx.reply(text, keyboard)


@router.button(SafetyButton)
async def safety_pressed(ctx: Context, button: SafetyButton) -> None:
    """Marks the action risky (with its wait), or not; `minutes` 1 only opens its screen."""
    action = await action_store.get(ctx.session, button.action_id, lock=True)
    if action is None:
        raise StaleButton(ctx.event.data)
    if button.minutes == 1:
        ctx.answer()
        await _show(ctx, action, edit=False)
        return
    if button.minutes not in (0, *WAITS):
        raise StaleButton(ctx.event.data)
    now = ctx.now()
    end = views.end_of(action)
    if not views.is_event(action.kind) or end is None:
        raise StaleButton(ctx.event.data)
    if button.minutes == 0:
        await safety_store.unmark(ctx.session, action.id)
        for kind in TIMERS:
            await ctx.cancel_timers(kind, _key(action.id))
        await note(ctx, "action.safety_off", action=action.id, title=action.title)
        ctx.answer(ctx.t("safety.unmarked"))
        await _show(ctx, action, edit=True)
        return
    if not views.is_live(action, now):
        ctx.answer(ctx.t("safety.over"), alert=True)
        return
    first = await safety_store.plan(ctx.session, action.id) is None
    await safety_store.mark(ctx.session, action.id, button.minutes, ctx.user_id, now)
    await ctx.schedule("safety_ask", _key(action.id), end, payload={"action_id": action.id})
    await note(ctx, "action.safety_on", action=action.id, title=action.title)
    if first:
        await _tell_participants(ctx, action, button.minutes)
    ctx.answer(ctx.t("safety.marked"))
    await _show(ctx, action, edit=True)


async def _tell_participants(ctx: Context, action: Action, minutes: int) -> None:
    """Tells the people Going that the action is risky and offers each a buddy invitation."""
    people = await action_store.responders(ctx.session, action.id, PARTICIPANTS)
    messages = []
    for person in people:
        t = translator(person.language)
        when = t.datetime_text(
            views.end_of(action) or ctx.now(), person.timezone or action.timezone
        )
        text = t("safety.announce", title=action.title, end=when, wait=_waited(t, minutes))
        button = Button(t("safety.button_buddy"), BuddyButton(action.id).pack())
        messages.append(Outgoing(person.user_id, text, [[button]]))
    await ctx.enqueue(messages, purpose="safety", ref=f"safety:{action.id}")


# the participant's side: a buddy


@router.command("buddy")
async def buddy(ctx: Context) -> None:
    """Lists the person's upcoming risky actions, with their buddy and an invitation button."""
    now = ctx.now()
    rows: list[list[Button]] = []
    lines: list[str] = [ctx.t("buddy.title")]
    for action, check in await _my_risky_actions(ctx, now):
        lines.append(await _buddy_line(ctx, action, check))
        label = ctx.t("buddy.button_invite", number=action.id)
        rows.append([Button(label, BuddyButton(action.id).pack())])
    if not rows:
        ctx.reply(ctx.t("buddy.none"))
        return
    ctx.reply(Html("\n".join(lines)), rows)


async def _my_risky_actions(ctx: Context, now: datetime) -> list[tuple[Action, SafetyCheck | None]]:
    found = []
    for action in await action_store.recent(ctx.session, 50):
        if not views.is_event(action.kind) or not views.is_live(action, now):
            continue
        if await safety_store.plan(ctx.session, action.id) is None:
            continue
        answer = await action_store.answer_of(ctx.session, action.id, ctx.user_id)
        if answer is None or answer.status not in PARTICIPANTS:
            continue
        found.append((action, await safety_store.check_of(ctx.session, action.id, ctx.user_id)))
    return found


async def _buddy_line(ctx: Context, action: Action, check: SafetyCheck | None) -> str:
    if check is None or check.buddy_id is None:
        return ctx.t("buddy.line_none", number=action.id, title=action.title)
    mate = await volunteers.get(ctx.session, check.buddy_id)
    name = _public(mate, ctx.t("buddy.someone"))
    return ctx.t("buddy.line", number=action.id, title=action.title, name=name)


@router.button(BuddyButton)
async def invite_pressed(ctx: Context, button: BuddyButton) -> None:
    """Sends the participant an invitation to forward to their buddy."""
    action = await action_store.get(ctx.session, button.action_id)
    if action is None or await safety_store.plan(ctx.session, action.id) is None:
        raise StaleButton(ctx.event.data)
    if not views.is_live(action, ctx.now()):
        ctx.answer(ctx.t("safety.over"), alert=True)
        return
    answer = await action_store.answer_of(ctx.session, action.id, ctx.user_id)
    if answer is None or answer.status not in PARTICIPANTS:
        ctx.answer(ctx.t("buddy.not_going"), alert=True)
        return
    ctx.answer()
    check = await safety_store.ensure(ctx.session, action.id, ctx.user_id, ctx.now())
    secret = await safety_store.invitation(ctx.session, check)
    link = f"https://t.me/{ctx.settings.bot_username}?start={INVITE_PREFIX}{secret}"
    me = _public(ctx.volunteer, ctx.event.user.full_name)
    ctx.reply(
        ctx.t("buddy.invitation", name=me, title=action.title),
        [[Button(ctx.t("buddy.button_accept"), url=link)]],
    )
    ctx.reply(ctx.t("buddy.forward_hint"))


@on_start_payload(INVITE_PREFIX)
async def invitation_opened(ctx: Context, secret: str) -> None:
    """Whoever opens a buddy invitation becomes that participant's buddy (once)."""
    check = await safety_store.by_invite(ctx.session, secret)
    action = await action_store.get(ctx.session, check.action_id) if check else None
    if check is None or action is None or not views.is_live(action, ctx.now()):
        ctx.reply(ctx.t("buddy.invalid"))
        return
    if check.user_id == ctx.user_id:
        ctx.reply(ctx.t("buddy.self"))
        return
    check.buddy_id = ctx.user_id
    check.invite = None
    await ctx.session.flush()
    participant = await volunteers.get(ctx.session, check.user_id)
    plan = await safety_store.plan(ctx.session, action.id)
    wait = plan.wait_minutes if plan is not None else DEFAULT_WAIT
    ctx.reply(
        ctx.t(
            "buddy.accepted",
            name=_public(participant, ctx.t("buddy.someone")),
            title=action.title,
            wait=_waited(ctx.t, wait),
        )
    )
    if participant is not None:
        t = translator(participant.language)
        mine = _public(ctx.volunteer, ctx.event.user.full_name)
        ctx.send(check.user_id, t("buddy.named", name=mine, title=action.title))


# after the end


@router.timer("safety_ask")
async def ask(ctx: Context) -> None:
    """At the end: "Are you safe?" to every participant, at once (urgent)."""
    action = await _action_of_timer(ctx)
    if action is None:
        return
    plan = await safety_store.plan(ctx.session, action.id)
    end = views.end_of(action)
    if plan is None or end is None or action.status == action_store.CANCELLED:
        return
    now = ctx.now()
    if end > now + timedelta(minutes=1):  # the event was moved later since it was marked
        await ctx.schedule("safety_ask", _key(action.id), end, payload={"action_id": action.id})
        return
    people = await action_store.responders(ctx.session, action.id, PARTICIPANTS)
    messages = []
    for person in people:
        check = await safety_store.ensure(ctx.session, action.id, person.user_id, now)
        if check.state != safety_store.PENDING:
            continue
        check.state, check.asked_at = safety_store.ASKED, now
        t = translator(person.language)
        keyboard = [
            [
                Button(t("safety.button_safe"), SafeButton(action.id, "safe").pack()),
                Button(t("safety.button_help"), SafeButton(action.id, "help").pack()),
            ]
        ]
        key = "safety.ask" if check.buddy_id is not None else "safety.ask_alone"
        text = t(key, title=action.title, wait=_waited(t, plan.wait_minutes))
        messages.append(Outgoing(person.user_id, text, keyboard))
    await ctx.session.flush()
    await ctx.enqueue(messages, purpose="safety", ref=f"safety:{action.id}")
    await ctx.schedule(
        "safety_alert",
        _key(action.id),
        now + timedelta(minutes=plan.wait_minutes),
        payload={"action_id": action.id},
    )


@router.timer("safety_alert")
async def alert_the_silent(ctx: Context) -> None:
    """After the wait: each participant who did not answer → their buddy and the host."""
    action = await _action_of_timer(ctx)
    plan = await safety_store.plan(ctx.session, action.id) if action is not None else None
    if action is None or plan is None:
        return
    for check in await safety_store.checks(ctx.session, action.id, (safety_store.ASKED,)):
        check.state = safety_store.ALERTED
        await _alert(ctx, action, check, "safety.alert_silent", plan.wait_minutes)
    await ctx.session.flush()


@router.button(SafeButton)
async def answered(ctx: Context, button: SafeButton) -> None:
    """The participant's answer: safe (all clear, told to those alerted), or help (alerts)."""
    action = await action_store.get(ctx.session, button.action_id)
    check = await safety_store.check_of(ctx.session, button.action_id, ctx.user_id)
    if action is None or check is None or check.state == safety_store.PENDING:
        raise StaleButton(ctx.event.data)
    alerted = check.state in (safety_store.ALERTED, safety_store.HELP)
    check.answered_at = ctx.now()
    if button.answer == "help":
        check.state = safety_store.HELP
        await _alert(ctx, action, check, "safety.alert_help", 0)
        ctx.answer()
        safe = Button(ctx.t("safety.button_safe"), SafeButton(action.id, "safe").pack())
        sent = "safety.help_sent" if check.buddy_id is not None else "safety.help_sent_alone"
        ctx.edit(ctx.t(sent), [[safe]])
        return
    check.state = safety_store.SAFE
    ctx.answer()
    ctx.edit(ctx.t("safety.thanks"))
    if alerted:
        await _alert(ctx, action, check, "safety.all_clear", 0)


async def _alert(ctx: Context, action: Action, check: SafetyCheck, key: str, wait: int) -> None:
    """Tells the participant's buddy and the action's host (urgent: through quiet hours)."""
    participant = await volunteers.get(ctx.session, check.user_id)
    told = {check.buddy_id, action.created_by} - {None, 0, check.user_id}
    for user_id in sorted(u for u in told if u is not None):
        reader = await volunteers.get(ctx.session, user_id)
        t = translator(reader.language if reader is not None else ctx.settings.default_locale)
        name = _public(participant, t("buddy.someone"))
        mention = Html(f'<a href="tg://user?id={check.user_id}">{t.isolate(name)}</a>')
        ctx.send(user_id, t(key, name=mention, title=action.title, wait=_waited(t, wait)))


async def _action_of_timer(ctx: Context) -> Action | None:
    payload = ctx.event.payload or {}
    return await action_store.get(ctx.session, int(payload.get("action_id", 0)))

"""A group's decisions: /decisions (past outcomes, CSV export, settings) and the coordinator's
close-now and extend buttons, and the close at the deadline (also late, after a restart)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Literal

from handlers.coalition.audit import note
from handlers.decisions import ballots, group_voice
from handlers.decisions.decision_views import AdminButton, Snapshot, option_labels, outcome_text
from handlers.kernel import csv_export, limits
from handlers.kernel.callbacks import CallbackData, StaleButton
from handlers.kernel.context import Context
from handlers.kernel.i18n import SUPPORTED_LOCALES, Html, Translator
from handlers.kernel.permissions import (
    allowed,
    as_person,
    by_its_admins,
    check,
    may_manage_decision,
    refusal,
)
from handlers.kernel.ports import Button, Keyboard, Messenger
from handlers.kernel.routing import Router
from storage.coalition import group_store
from storage.decisions import decision_store
from storage.decisions.decision_models import Decision

router = Router("decisions")  # group chats only
events = Router("decisions-events")  # timers and migrations


class ExportButton(CallbackData, prefix="dcsv"):
    """Sends the group's outcomes as CSV: dcsv."""


class SettingButton(CallbackData, prefix="dset"):
    """Switches a group setting: dset:members | dset:org."""

    setting: Setting


Setting = Literal["members", "org"]
SETTINGS: dict[Setting, str] = {"members": ballots.MEMBERS_CAN_CREATE, "org": ballots.ORG_VOTING}
EXTEND_BY = timedelta(days=1)
HISTORY_LIMIT = 10


def _counts(t: Translator, decision: Decision, snap: Snapshot) -> str:
    labels = option_labels(t, decision)
    return " · ".join(
        f"{t.isolate(label)} {count}" for label, count in zip(labels, snap.counts, strict=False)
    )


def _settings_keyboard(t: Translator, settings: dict[str, object]) -> Keyboard:
    rows = [[Button(t("decisions.button.export"), ExportButton().pack())]]
    for short, name in SETTINGS.items():
        state = t("decisions.on") if settings.get(name) else t("decisions.off")
        rows.append(
            [Button(t(f"decisions.setting.{short}", state=state), SettingButton(short).pack())]
        )
    return rows


async def _history_text(ctx: Context) -> Html:
    t = ctx.t
    past = await decision_store.history(ctx.session, ctx.chat_id, HISTORY_LIMIT)
    lines = [t("decisions.history_head")]
    if not past:
        lines.append(t("decisions.history_empty"))
    for decision in past:
        snap = Snapshot.from_json(decision.result)
        closed = decision.closed_at or decision.closes_at
        lines.append(
            t(
                "decisions.history_line",
                date=t.date_text(closed, decision.timezone),
                question=decision.question,
                rule=t(f"decisions.rule_short.{decision.rule}"),
                counts=Html(_counts(t, decision, snap)),
                outcome=Html(outcome_text(t, decision, snap)),
            )
        )
        if decision.outcome:
            lines.append(t("decisions.history_outcome", outcome=decision.outcome))
    still_open = await decision_store.open_count(ctx.session, ctx.chat_id)
    if still_open:
        lines.append(t.plural("decisions.open_now", still_open))
    return limits.fitted(t, lines)


@router.command("decisions")
async def decisions_command(ctx: Context) -> None:
    """Lists the group's past outcomes; coordinators also get the export and the settings."""
    words = ctx.args.split()
    first = words[0].casefold() if words else ""
    if first == "csv":
        await _export(ctx)
        return
    # In a group, the replies are in the group's language (the CSV, sent privately, is not).
    ctx.t = group_voice.replies(ctx, await group_voice.of_context(ctx))
    if first in (group_voice.LOCALE, "language", group_voice.TIMEZONE) and len(words) == 2:
        await _set_voice(ctx, group_voice.TIMEZONE if first == "timezone" else "locale", words[1])
        return
    text = await _history_text(ctx)
    if allowed(ctx.roles, "decisions.manage"):
        group = await group_store.get(ctx.session, ctx.chat_id)
        text = Html(text + "\n\n" + await _voice_text(ctx, "decisions.group_voice"))
        ctx.reply(text, _settings_keyboard(ctx.t, group.settings if group else {}))
    else:
        ctx.reply(text)


async def _voice_text(ctx: Context, key: str) -> str:
    voice = await group_voice.of_context(ctx)
    t = group_voice.replies(ctx, voice)  # once changed, already in the group's new language
    return t(key, language=t.language_in_text(voice.locale), zone=voice.timezone)


async def _set_voice(ctx: Context, setting: str, value: str) -> None:
    """Sets the group's language or time zone (coordinators), or `auto` for the members'."""
    if not check(ctx, "decisions.manage"):
        return
    chosen: str | None = None
    if value.casefold() != group_voice.AUTO:
        if setting == group_voice.LOCALE:
            chosen = group_voice.valid_locale(value)
            if chosen is None:
                choices = ctx.t.comma.join(f"<code>{code}</code>" for code in SUPPORTED_LOCALES)
                ctx.reply(ctx.t("decisions.error.bad_language", value=value, choices=Html(choices)))
                return
        else:
            chosen = group_voice.valid_timezone(value)
            if chosen is None:
                ctx.reply(ctx.t("decisions.error.bad_timezone", value=value))
                return
    group = await group_store.get(ctx.session, ctx.chat_id)
    before = group.settings.get(setting) if group is not None else None
    await group_store.set_setting(ctx.session, ctx.chat_id, setting, chosen)
    await note(ctx, "settings.change", setting=setting, from_=before, to=chosen, group=ctx.chat_id)
    ctx.reply(await _voice_text(ctx, "decisions.voice_saved"))


@router.button(ExportButton)
async def export_pressed(ctx: Context, button: ExportButton) -> None:
    """Sends the coordinator the group's outcomes as CSV, privately."""
    await _export(ctx)


async def _export(ctx: Context) -> None:
    if not as_person(ctx) or not check(ctx, "decisions.manage"):
        return
    past = await decision_store.history(ctx.session, ctx.chat_id)
    await note(ctx, "decisions.export", group=ctx.chat_id, count=len(past))
    content = export_csv(ctx.t, past)
    user_id, caption = ctx.user_id, ctx.t("decisions.export_caption", count=len(past))
    name = csv_export.file_name("decisions", ctx.now(), user_id)

    async def _send(messenger: Messenger) -> None:
        await messenger.send_document(user_id, name, content, caption)

    ctx.privately(_send, ctx.t("decisions.export_sent"))


CSV_HEADER = (
    "id",
    "kind",
    "question",
    "rule",
    "options",
    "counts",
    "voters",
    "eligible",
    "quorum_needed",
    "result",
    "winner",
    "anonymous",
    "one_vote_per_org",
    "created_at",
    "closes_at",
    "closed_at",
    "closed_late_seconds",
    "outcome",
)


def export_csv(t: Translator, past: Sequence[Decision]) -> bytes:
    """The outcomes as CSV (see handlers.csv_export), one row per decision."""
    rows: list[tuple[csv_export.Cell, ...]] = []
    for decision in past:
        snap = Snapshot.from_json(decision.result)
        labels = option_labels(t, decision)
        winners = " / ".join(labels[i] for i in snap.winners if i < len(labels))
        rows.append(
            (
                decision.id,
                decision.kind,
                decision.question,
                decision.rule,
                " | ".join(labels),
                " | ".join(str(c) for c in snap.counts),
                snap.voters,
                snap.eligible,
                snap.needed,
                snap.status,
                winners,
                decision.anonymous,
                decision.org_voting,
                decision.created_at.isoformat(),
                decision.closes_at.isoformat(),
                decision.closed_at.isoformat() if decision.closed_at else "",
                round(snap.late_seconds),
                decision.outcome or "",
            )
        )
    return csv_export.table(CSV_HEADER, rows)


@router.button(SettingButton)
async def setting_pressed(ctx: Context, button: SettingButton) -> None:
    """Switches a group setting (coordinators only)."""
    name = SETTINGS[button.setting]
    group = await group_store.get(ctx.session, ctx.chat_id)
    if group is None:
        raise StaleButton(ctx.event.data)
    before = bool(group.settings.get(name))
    await group_store.set_setting(ctx.session, ctx.chat_id, name, not before)
    await note(ctx, "settings.change", setting=name, from_=before, to=not before, group=ctx.chat_id)
    ctx.answer(ctx.t("decisions.setting_saved"))
    ctx.edit(await _history_text(ctx), _settings_keyboard(ctx.t, group.settings))


@router.button(AdminButton)
async def admin_pressed(ctx: Context, button: AdminButton) -> None:
    """Closes a decision now, or gives it one more day (its creator or a coordinator)."""
    action = button.operation
    decision = await decision_store.get(ctx.session, button.decision_id)
    if decision is None or decision.chat_id != ctx.chat_id:
        raise StaleButton(ctx.event.data)
    if decision.status != decision_store.OPEN:
        ctx.answer(ctx.t("decisions.closed_already"), alert=True)
        return
    if not (
        may_manage_decision(ctx.roles, ctx.user_id, decision) or await by_its_admins(ctx, decision)
    ):
        ctx.answer(refusal(ctx.t, "decisions.manage", or_author=True), alert=True)
        return
    closes_at, question = decision.closes_at, decision.question
    if action == "close":
        await ballots.close(ctx, decision)
        await note(ctx, "decision.close", decision=decision.id, question=question)
        ctx.answer(ctx.t("decisions.closed_now"))
    elif await ballots.extend(ctx, decision, EXTEND_BY):
        await note(
            ctx,
            "decision.extend",
            decision=decision.id,
            question=question,
            field="closes_at",
            from_=closes_at,
            to=decision.closes_at,
        )
        ctx.answer(ctx.t("decisions.extended_toast"))
    else:
        ctx.answer(ctx.t("decisions.error.extend_too_far"), alert=True)


@events.timer(ballots.CLOSE_TIMER)
async def close_due(ctx: Context) -> None:
    """Closes a decision at its deadline — late, and saying so, if the bot was down."""
    payload = ctx.event.payload or {}
    decision = await decision_store.get(ctx.session, int(payload.get("decision", 0)))
    if decision is None or decision.status != decision_store.OPEN:
        return
    # Late only when the bot was down at the deadline: a clock move or a busy moment is not.
    late = float(payload.get("late_seconds", 0.0)) if payload.get("offline") else 0.0
    await ballots.close(ctx, decision, late)

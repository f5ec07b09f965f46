"""/stats for coordinators: members by kind, country and skill; the reach, answers and response
rate of recent actions; the turnout of recent decisions — in words, then as a picture.
"""

from __future__ import annotations

import logging

from handlers.coalition import charts
from handlers.coalition.directory import inventory_text
from handlers.kernel import limits
from handlers.kernel.context import Context
from handlers.kernel.i18n import Html, Translator
from handlers.kernel.ports import Messenger
from handlers.kernel.routing import Router
from storage.coalition import directory_store, stats_store

log = logging.getLogger(__name__)
router = Router("stats")
TITLE_LIMIT = 40


def _percent(t: Translator, share: float) -> str:
    return t.number(round(share * 100)) + " %"


def _short(title: str) -> str:
    return title if len(title) <= TITLE_LIMIT else title[: TITLE_LIMIT - 1] + "…"


def _answer_key(kind: str, status: str) -> str:
    """ "done" reads as "signed" for a petition, "sent" for letters."""
    if status == "done":
        return "sent" if kind == "letters" else "signed"
    return status


def report(
    t: Translator,
    inventory: directory_store.Inventory,
    actions: list[stats_store.ActionFigures],
    decisions: list[stats_store.DecisionFigures],
) -> Html:
    """The figures in words."""
    lines = [inventory_text(t, inventory), "", t("stats.actions_title")]
    if not actions:
        lines.append(t("stats.no_actions"))
    for a in actions:
        answers = t.comma.join(
            f"{t(f'stats.answer.{_answer_key(a.kind, k)}')} {t.number(n)}"
            for k, n in sorted(a.answers.items())
        )
        lines.append(
            t(
                "stats.action",
                number=a.id,
                title=_short(a.title),
                delivered=t.number(a.delivered),
                failed=t.number(a.failed),
                answers=answers or t("stats.no_answers"),  # "néant" read oddly mid-sentence
                rate=_percent(t, a.response_rate),
            )
        )
        if a.kind not in ("petition", "letters"):
            lines.append(
                t(
                    "stats.funnel",
                    delivered=t.number(a.delivered),
                    answered=t.number(a.answered),
                    confirmed=t.number(a.confirmed),
                    attended=t.number(a.attended),
                )
            )
    lines += ["", t("stats.decisions_title")]
    if not decisions:
        lines.append(t("stats.no_decisions"))
    for d in decisions:
        lines.append(
            t(
                "stats.decision",
                question=_short(d.question),
                voters=t.number(d.voters),
                eligible=t.number(d.eligible),
                rate=_percent(t, d.turnout),
            )
        )
    return limits.fitted(t, lines)


@router.command("stats")
async def show(ctx: Context) -> None:
    """Sends the figures, then a chart of members over time and response rates per action."""
    t = ctx.t
    inventory = await directory_store.inventory(ctx.session)
    actions = await stats_store.recent_actions(ctx.session)
    decisions = await stats_store.recent_decisions(ctx.session)
    ctx.reply(report(t, inventory, actions, decisions))
    by_day = await stats_store.registrations_by_day(ctx.session)
    data = charts.ChartData(
        days=[day for day, _ in by_day],
        joined=[count for _, count in by_day],
        actions=[f"#{a.id}" for a in reversed(actions)],
        rates=[a.response_rate for a in reversed(actions)],
        members_title=t("stats.chart_members"),
        rates_title=t("stats.chart_rates"),
    )
    chat_id, caption = ctx.chat_id, t("stats.chart_caption")
    missing = t("stats.chart_needs_extra", extra=charts.EXTRA)

    async def _send(messenger: Messenger) -> None:
        try:
            picture = await charts.render_png(data)
        except charts.ChartsUnavailable:
            log.warning("/stats sent no chart: pip install 'chorus[charts]' to draw it")
            await messenger.send_message(chat_id, missing)
            return
        await messenger.send_photo(chat_id, "stats.png", picture, caption)

    ctx.after_commit(_send)

"""/proxy: an organisation's representative gives its vote in one decision to another organisation.

Under one vote per organisation, the representative types `/proxy <number> <organisation>` in
their private chat (`/proxy` alone lists the open decisions they may give a proxy for). While
their organisation casts no ballot of its own, the delegate's ballot counts for it too; a
ballot of its own takes precedence. `/proxy <number> off` takes it back. Each proxy is written
to the audit log; the result at the close says which organisation voted for which by proxy.
"""

from __future__ import annotations

from handlers.coalition import roles
from handlers.coalition.audit import note
from handlers.decisions import ballots
from handlers.kernel.context import Context
from handlers.kernel.i18n import Html, translator
from handlers.kernel.invalid_input import InvalidInput
from handlers.kernel.routing import Router
from storage.coalition import group_store, organisation_store
from storage.decisions import decision_store

OFF = ("off", "non", "no", "لا")

router = Router("proxies")


@router.command("proxy")
async def proxy(ctx: Context) -> None:
    """Gives (or takes back) the organisation's vote in one decision to another organisation."""
    volunteer = ctx.volunteer
    if (
        volunteer is None
        or volunteer.org_role != organisation_store.REPRESENTATIVE
        or volunteer.org_status != organisation_store.APPROVED
    ):
        ctx.reply(ctx.t("decisions.proxy_not_representative"))
        return
    number, _, target = (ctx.args or "").strip().partition(" ")
    if not number:
        await _list(ctx)
        return
    decision = await decision_store.get(ctx.session, int(number)) if number.isdigit() else None
    if (
        decision is None
        or decision.status != decision_store.OPEN
        or not decision.org_voting
        or not await group_store.is_member(ctx.session, decision.chat_id, ctx.user_id)
    ):
        raise InvalidInput("decisions.proxy_no_decision", number=number)
    own = volunteer.org_id or 0
    target = " ".join(target.split())
    if not target:
        raise InvalidInput("decisions.proxy_usage")
    if target.casefold() in OFF:
        taken = await decision_store.withdraw_proxy(ctx.session, decision.id, own)
        key = "decisions.proxy_withdrawn" if taken else "decisions.proxy_none"
        ctx.reply(ctx.t(key, question=decision.question))
        ballots.refresh_later(ctx, decision.id)
        return
    delegate = await organisation_store.find(ctx.session, target)
    if delegate is None:
        raise InvalidInput("decisions.proxy_unknown", organisation=target)
    if delegate.id == own:
        raise InvalidInput("decisions.proxy_self")
    await decision_store.give_proxy(
        ctx.session, decision.id, own, delegate.id, ctx.user_id, ctx.now()
    )
    await note(
        ctx,
        "decision.proxy",
        decision=decision.id,
        question=decision.question,
        organisation=delegate.name,
    )
    mine = volunteer.org_name or ""
    ctx.reply(
        ctx.t("decisions.proxy_given", organisation=delegate.name, question=decision.question)
    )
    for person in await organisation_store.people(ctx.session, delegate.id):
        if organisation_store.votes_for(person):
            t = translator(person.language)
            said = t("decisions.proxy_received", organisation=mine, question=decision.question)
            await roles.tell(ctx, person.user_id, said)
    ballots.refresh_later(ctx, decision.id)


async def _list(ctx: Context) -> None:
    """The open decisions the representative may give a proxy for, with their numbers."""
    found = await decision_store.open_by_organisation(ctx.session, ctx.user_id)
    if not found:
        ctx.reply(ctx.t("decisions.proxy_nothing_open"))
        return
    lines: list[str] = [ctx.t("decisions.proxy_open")]
    for decision in found:
        moment = ctx.t.datetime_text(
            decision.closes_at, ctx.volunteer.timezone if ctx.volunteer else decision.timezone
        )
        lines.append(
            ctx.t(
                "decisions.proxy_item", number=decision.id, question=decision.question, time=moment
            )
        )
    lines.append("")
    lines.append(ctx.t("decisions.proxy_usage"))
    ctx.reply(Html("\n".join(lines)))

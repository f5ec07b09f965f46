"""From a decision to a call to action: /newaction started with the decision's outcome.

When a decision passed and its outcome is written, the writer who may create calls to action
gets a button under "Create the call to action?": it opens /newaction with the question as
the title and the outcome as the description, already filled in (both can be changed from the
preview); the other questions (type, link, when, place, recipients) are asked as usual.
"""

from __future__ import annotations

import contextlib

from handlers.actions import action_dialog
from handlers.actions import action_views as views
from handlers.kernel import forms, typed_text
from handlers.kernel.callbacks import CallbackData, StaleButton
from handlers.kernel.context import Context
from handlers.kernel.invalid_input import InvalidInput
from handlers.kernel.routing import Router
from storage.decisions import decision_store

router = Router("from_decision")


class FromDecision(CallbackData, prefix="nadec"):
    """Create the call to action of a decision that passed: nadec:<decision>."""

    decision_id: int


@router.button(FromDecision)
async def from_decision(ctx: Context, button: FromDecision) -> None:
    """Starts /newaction with the decision's question and outcome filled in; with a call
    being written already, first offers to continue that one (`action_dialog.offered_draft`)."""
    decision = await decision_store.get(ctx.session, button.decision_id)
    if decision is None or not decision.outcome:
        raise StaleButton(ctx.event.data)
    ctx.answer()
    if not action_dialog.offered_draft(ctx, decision.id):
        await start(ctx, decision.id)


async def start(ctx: Context, decision_id: int) -> None:
    """/newaction from the decision's outcome (StaleButton if it has none any more)."""
    decision = await decision_store.get(ctx.session, decision_id)
    if decision is None or not decision.outcome:
        raise StaleButton(ctx.event.data)
    data: dict[str, object] = {forms.RETURN: "preview"}  # what is filled in is not asked
    with contextlib.suppress(InvalidInput):  # a question too long for a title: it is asked
        data["title"] = typed_text.clean_line(decision.question, views.TITLE_LIMITS)
    with contextlib.suppress(InvalidInput):
        data["description"] = typed_text.clean_block(decision.outcome, views.DESCRIPTION_LIMITS)
    ctx.reply(ctx.t("actions.intro"))
    await forms.start(ctx, action_dialog.FORM, data)

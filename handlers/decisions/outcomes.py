"""The outcome of a closed decision, written by its author or a coordinator, and the hand-off
from a decision to a call to action.

At the close the result carries a "Write the outcome" button ("We will hold the rally on 14
March; Marie leads"). Its author or a coordinator presses it; a one-step private form (drawn in
outcomes.mmd) asks for the text; the outcome is posted in the group, added to the posted
result, and kept with the decision (in /decisions and in the CSV). Writing it again replaces
it. When the decision passed, the writer is then asked "Create the call to action?", with the
outcome ready to paste into /newaction.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from handlers.actions.from_decision import FromDecision
from handlers.decisions.decision_views import Snapshot, final_text
from handlers.decisions.vote_rules import ADOPTED, PASSED, WEAK
from handlers.kernel import forms
from handlers.kernel.callbacks import CallbackData, StaleButton
from handlers.kernel.context import Context
from handlers.kernel.forms import AnswerButton, Data, Message, Step
from handlers.kernel.i18n import Translator, translator
from handlers.kernel.invalid_input import InvalidInput
from handlers.kernel.permissions import allowed, by_its_admins, may_manage_decision, refusal
from handlers.kernel.ports import Button, MessageNotModified, Messenger, MessengerError
from handlers.kernel.routing import Router
from storage.decisions import decision_store
from storage.decisions.decision_models import Decision

log = logging.getLogger(__name__)

FLOW = "decision_outcome"
TEXT = "outcome"
MAX_OUTCOME = 1000
PASSING = frozenset({ADOPTED, PASSED, WEAK})

router = Router("outcomes")  # the button, in group chats
private = Router("outcomes-private")  # the dialog, in private


class OutcomeButton(CallbackData, prefix="dout"):
    """Write (or rewrite) the outcome of a closed decision: dout:<decision>."""

    decision_id: int


def outcome_row(t: Translator, decision: Decision) -> list[list[Button]]:
    """The button under a posted result."""
    return [[Button(t("decisions.button.outcome"), OutcomeButton(decision.id).pack())]]


@router.button(OutcomeButton)
async def outcome_pressed(ctx: Context, button: OutcomeButton) -> None:
    """Asks the author or a coordinator, privately, for the outcome of a closed decision."""
    decision = await decision_store.get(ctx.session, button.decision_id)
    if decision is None or decision.chat_id != ctx.chat_id:
        raise StaleButton(ctx.event.data)
    if decision.status != decision_store.CLOSED:
        ctx.answer(ctx.t("decisions.outcome_not_closed"), alert=True)
        return
    if not (
        may_manage_decision(ctx.roles, ctx.user_id, decision) or await by_its_admins(ctx, decision)
    ):
        ctx.answer(refusal(ctx.t, "decisions.manage", or_author=True), alert=True)
        return
    done = ctx.t("decisions.outcome_asked")
    await forms.start_privately(ctx, FORM, {"decision": decision.id}, TEXT, done=done)


async def _question(ctx: Context, data: Data) -> dict[str, Any]:
    decision = await decision_store.get(ctx.session, int(data.get("decision", 0)))
    return {"question": decision.question if decision is not None else ""}


def _ask(t: Translator, data: Data, kind: type[AnswerButton]) -> Message:
    return t("decisions.ask_outcome", question=data["question"], limit=MAX_OUTCOME), None


def _read(ctx: Context, data: Data, text: str, kind: type[AnswerButton]) -> str:
    outcome = text.strip()
    if not outcome or len(outcome) > MAX_OUTCOME:
        raise InvalidInput("decisions.outcome_length", length=len(outcome), limit=MAX_OUTCOME)
    return outcome


async def outcome_given(ctx: Context, data: Data) -> None:
    """Keeps the outcome, posts it in the group, adds it to the posted result."""
    await ctx.clear_dialog()
    decision = await decision_store.get(ctx.session, int(data.get("decision", 0)))
    if decision is None or decision.status != decision_store.CLOSED:
        ctx.reply(ctx.t("decisions.outcome_gone"))
        return
    text = str(data[TEXT])
    await decision_store.set_outcome(ctx.session, decision, text, ctx.user_id, ctx.now())
    group_t = translator(decision.locale)
    ctx.send(
        decision.chat_id,
        group_t("decisions.outcome_posted", question=decision.question, outcome=text),
        thread_id=decision.thread_id,
    )
    rerender_result(ctx, decision)
    ctx.reply(ctx.t("decisions.outcome_saved", question=decision.question))
    if Snapshot.from_json(decision.result).status in PASSING:
        keyboard = None
        if allowed(ctx.roles, "actions.manage"):  # the outcome, filled into /newaction
            label = ctx.t("decisions.button.to_action")
            keyboard = [[Button(label, FromDecision(decision.id).pack())]]
        ctx.reply(ctx.t("decisions.to_action", question=decision.question, outcome=text), keyboard)


def rerender_result(ctx: Context, decision: Decision) -> None:
    """After commit, edits the posted result to show the decision as stored now."""
    if decision.final_message_id is None:
        return
    t = translator(decision.locale)
    text = final_text(t, decision, Snapshot.from_json(decision.result))
    chat_id, message_id = decision.chat_id, decision.final_message_id
    keyboard = outcome_row(t, decision)

    async def _edit(messenger: Messenger) -> None:
        try:
            with contextlib.suppress(MessageNotModified):
                await messenger.edit_message(chat_id, message_id, text, keyboard)
        except MessengerError as exc:
            log.info("result of decision %s not edited: %r", decision.id, exc)

    ctx.after_commit(_edit)


FORM = forms.Form(
    flow=FLOW,
    button=AnswerButton,  # typed only
    steps={
        TEXT: Step(
            TEXT, _ask, read_text=_read, then=lambda data, value: forms.FINISH, view=_question
        )
    },
    order=lambda data: [TEXT],
    finish=outcome_given,
    diagram="outcomes.mmd",
)
forms.route(FORM, private)

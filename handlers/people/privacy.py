"""/mydata and /forget: every volunteer sees everything Chorus stores about them, and can erase it.

/forget asks for a confirmation first (drawn in privacy.mmd). Aggregates stay true: an answer
to an action, a ballot, a delivered message keep counting, with nobody behind them.
"""

from __future__ import annotations

from typing import Literal

import orjson

from handlers.coalition import roles
from handlers.kernel import permissions
from handlers.kernel.callbacks import CallbackData
from handlers.kernel.context import Context
from handlers.kernel.ports import Button, Messenger
from handlers.kernel.routing import Router
from storage.coalition import audit_store
from storage.coalition import role_store as stored_roles
from storage.people import privacy_store


class ForgetButton(CallbackData, prefix="fg"):
    """The answer to /forget's confirmation: fg:yes | fg:no."""

    answer: Literal["yes", "no"]


FILE_NAME = "chorus-my-data.json"

router = Router("privacy")


@router.command("mydata")
async def my_data(ctx: Context) -> None:
    """Sends the person a JSON document with everything Chorus stores about them."""
    tables = await privacy_store.export(ctx.session, ctx.user_id)
    if not tables:
        ctx.reply(ctx.t("privacy.nothing"))
        return
    document = {
        "about": str(ctx.t("privacy.document_about")),
        "user_id": ctx.user_id,
        "generated_at": ctx.now().isoformat(timespec="seconds"),
        "tables": tables,
    }
    content = orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
    user_id, caption = ctx.user_id, ctx.t("privacy.caption")

    async def _send(messenger: Messenger) -> None:
        await messenger.send_document(user_id, FILE_NAME, content, caption)

    ctx.after_commit(_send)


@router.command("forget")
async def forget(ctx: Context) -> None:
    """Explains what /forget erases and asks for a confirmation."""
    keyboard = [
        [Button(ctx.t("privacy.forget_yes"), ForgetButton("yes").pack())],
        [Button(ctx.t("privacy.forget_no"), ForgetButton("no").pack())],
    ]
    ctx.reply(ctx.t("privacy.forget_confirm"), keyboard)


@router.button(ForgetButton)
async def forget_answered(ctx: Context, button: ForgetButton) -> None:
    """Erases the person's data once they confirmed (the last owner must hand over first)."""
    answer = button.answer
    ctx.answer()
    if answer == "no":
        ctx.edit(ctx.t("privacy.forget_kept"))
        return
    held = await stored_roles.of_user(ctx.session, ctx.user_id)
    owners = await permissions.owners(ctx)
    if not permissions.may_forget(ctx.user_id, held, owners, ctx.settings.admin_ids):
        ctx.edit(ctx.t("privacy.last_owner"))
        return
    volunteer = ctx.volunteer
    names = {ctx.event.user.username or ""}
    if volunteer is not None:
        names |= {volunteer.display_name, volunteer.org_name or "", volunteer.username or ""}
        names |= {volunteer.pseudonym or ""}
    await privacy_store.erase(ctx.session, ctx.user_id, frozenset(names))
    await audit_store.record(ctx.session, privacy_store.ERASED, "privacy.forget", ctx.now())
    ctx.volunteer = None
    ctx.dialog = None
    ctx.edit(ctx.t("privacy.forgotten"))
    if held:
        after = permissions.held_roles(ctx.user_id, (), ctx.settings.admin_ids)
        roles.refresh_menu(ctx, ctx.user_id, after)

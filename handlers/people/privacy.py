"""/mydata, /forget and /vanish: every volunteer sees everything Chorus stores about them, and
can erase it.

/forget asks for a confirmation first (drawn in privacy.mmd). Aggregates stay true: an answer
to an action, a ballot, a delivered message keep counting, with nobody behind them.
/vanish (the safety kit, issue 16) does what /forget does, and also removes the person from
every group the bot is in, where it is an administrator allowed to ban (ban, then unban: they
may come back); the groups where it could not are named to them, to leave by hand.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import orjson

from handlers.actions import forgotten as actions_forgotten
from handlers.coalition import roles
from handlers.decisions import forgotten
from handlers.kernel import permissions
from handlers.kernel.callbacks import CallbackData
from handlers.kernel.context import AfterCommit, Context
from handlers.kernel.i18n import Html, Translator
from handlers.kernel.ports import Button, Messenger, MessengerError
from handlers.kernel.routing import Router
from handlers.people import fields
from storage.coalition import audit_store, group_store
from storage.coalition import role_store as stored_roles
from storage.people import privacy_store


class ForgetButton(CallbackData, prefix="fg"):
    """The answer to /forget's confirmation: fg:yes | fg:no."""

    answer: Literal["yes", "no"]


class VanishButton(CallbackData, prefix="vn"):
    """The answer to /vanish's confirmation: vn:yes | vn:no."""

    answer: Literal["yes", "no"]


FILE_NAME = "chorus-my-data.json"
log = logging.getLogger(__name__)

router = Router("privacy")


# Tables whose rows the summary names (the rest are counted together as "other records").
SUMMARY_TABLES = (
    "rsvps",
    "decision_ballots",
    "membership_applications",
    "checkins",
    "group_members",
    "outbox",
    "audit_log",
)
PROFILE_NAMES = (
    "display_name",
    "kind",
    "org_name",
    "org_type",
    "country",
    "language",
    "timezone",
    "skills",
    "hours_per_month",
    "resources",
    "interests",
    "discreet",
)


def summary(t: Translator, tables: dict[str, list[dict[str, Any]]], held: frozenset[str]) -> Html:
    """What Chorus keeps about the person, in their language: the profile, roles, and how many
    records of each kind (the attached JSON file has every row)."""
    lines = [t("privacy.summary_title"), ""]
    profile = (tables.get("volunteers") or [{}])[0]
    if profile:
        values = {name: profile.get(name) for name in PROFILE_NAMES}
        lines += fields.summary_lines(t, values, PROFILE_NAMES)
        lines.append(t("privacy.summary_roles", roles=permissions.role_names(t, held)))
        lines.append("")
    counted = [(name, _counted(name, tables[name])) for name in SUMMARY_TABLES if tables.get(name)]
    counted = [(name, n) for name, n in counted if n]
    others = sum(
        len(rows) for name, rows in tables.items() if name not in (*SUMMARY_TABLES, "volunteers")
    )
    if counted or others:
        lines.append(t("privacy.summary_records"))
        lines += [f"• {t(f'privacy.table.{name}')}{t.colon}{t.number(n)}" for name, n in counted]
        if others:
            lines.append(f"• {t('privacy.table.other')}{t.colon}{t.number(others)}")
        lines.append("")
    lines.append(t("privacy.summary_file"))
    return Html("\n".join(lines))


def _counted(table: str, rows: list[dict[str, Any]]) -> int:
    """How many of a table's rows the summary counts: the groups the person is in now (a row
    of a group they left, or were only looked up in, stays in the file, not in "Groups you are
    in"; newcomer trial)."""
    if table == "group_members":
        return sum(1 for row in rows if row.get("status") in group_store.PRESENT)
    return len(rows)


@router.command("mydata")
async def my_data(ctx: Context) -> None:
    """Sends the person a readable summary in their language, and a JSON document with
    everything Chorus stores about them."""
    tables = await privacy_store.export(ctx.session, ctx.user_id)
    if not tables:
        ctx.reply(ctx.t("privacy.nothing"))
        return
    ctx.reply(summary(ctx.t, tables, ctx.roles))
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
    ctx.answer()
    if button.answer == "no":
        ctx.edit(ctx.t("privacy.forget_kept"))
        return
    if await erase(ctx):
        ctx.edit(ctx.t("privacy.forgotten"))


async def erase(ctx: Context) -> bool:
    """Erases the person who pressed, as /forget promises; False (and says why) for the last
    owner, who must hand ownership over first (permissions.may_forget)."""
    held = await stored_roles.of_user(ctx.session, ctx.user_id)
    owners = await permissions.owners(ctx)
    if not permissions.may_forget(ctx.user_id, held, owners, ctx.settings.admin_ids):
        ctx.edit(ctx.t("privacy.last_owner"))
        return False
    volunteer = ctx.volunteer
    names = {ctx.event.user.username or ""}
    if volunteer is not None:
        names |= {volunteer.display_name, volunteer.org_name or "", volunteer.username or ""}
        names |= {volunteer.pseudonym or ""}
    posts = await forgotten.posts_naming(ctx, ctx.user_id, names)
    await actions_forgotten.withdraw_everywhere(ctx, ctx.user_id)  # places go to the waitlist
    await privacy_store.erase(ctx.session, ctx.user_id, frozenset(names))
    forgotten.rerender_after_commit(ctx, posts)
    await audit_store.record(ctx.session, privacy_store.ERASED, "privacy.forget", ctx.now())
    ctx.volunteer = None
    ctx.dialog = None
    if held:
        after = permissions.held_roles(ctx.user_id, (), ctx.settings.admin_ids)
        roles.refresh_menu(ctx, ctx.user_id, after)
    return True


@router.command("vanish")
async def vanish(ctx: Context) -> None:
    """Explains what /vanish does (leave every group, then /forget) and asks for a confirmation."""
    keyboard = [
        [Button(ctx.t("privacy.vanish_yes"), VanishButton("yes").pack())],
        [Button(ctx.t("privacy.forget_no"), VanishButton("no").pack())],
    ]
    ctx.reply(ctx.t("privacy.vanish_confirm"), keyboard)


@router.button(VanishButton)
async def vanish_answered(ctx: Context, button: VanishButton) -> None:
    """Erases the person, then (after commit) removes them from every group of the coalition."""
    ctx.answer()
    if button.answer == "no":
        ctx.edit(ctx.t("privacy.forget_kept"))
        return
    groups = [(g.chat_id, g.title) for g in await group_store.active(ctx.session)]
    if not await erase(ctx):
        return
    ctx.edit(ctx.t("privacy.vanishing"))
    ctx.after_commit(_leave_groups(ctx.t, ctx.user_id, groups))


def _leave_groups(t: Translator, user_id: int, groups: list[tuple[int, str]]) -> AfterCommit:
    """Removes the person from each group; then tells them where it could not."""

    async def leave(messenger: Messenger) -> None:
        kept: list[str] = []
        for chat_id, title in groups:
            try:
                await messenger.remove_member(chat_id, user_id)
            except MessengerError as exc:  # not an administrator there, or no longer in it
                log.warning("vanish: not removed from group %s: %s", chat_id, exc.description)
                kept.append(title)
        if kept:
            listed = Html("\n".join(f"• {t.isolate(title)}" for title in kept))
            text = t("privacy.vanished_but", groups=listed)
        else:
            text = t("privacy.vanished")
        await messenger.send_message(user_id, text)

    return leave

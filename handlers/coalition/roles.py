"""/promote and /demote: give and take someone's roles, with the role editor (also opened from a
member card in the directory). Who may give which role is in handlers/permissions.py (GRANTS,
role_change_refusal); this module shows the editor, applies the change and tells the person.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from handlers.kernel import menu, names, permissions
from handlers.kernel.callbacks import CallbackData, StaleButton
from handlers.kernel.context import Context
from handlers.kernel.i18n import Html, translator
from handlers.kernel.permissions import grantable, role_names
from handlers.kernel.ports import Button, Keyboard, Messenger
from handlers.kernel.routing import Router
from storage.coalition import audit_store, directory_store, role_store
from storage.models import Volunteer
from storage.outbox import Outgoing
from storage.people import shown_names, volunteers

GRANT: Literal["g"] = "g"
REVOKE: Literal["r"] = "r"
Mode = Literal["g", "r"]


class RoleButton(CallbackData, prefix="rl"):
    """Gives or takes a role: rl:g|r:<user id>:<role> (the right to press it is checked)."""

    op: Mode
    user_id: int
    role: str

    def __post_init__(self) -> None:
        if self.role not in role_store.ALL:
            raise ValueError(self.role)


def refresh_menu(ctx: Context, user_id: int, held: frozenset[str]) -> None:
    """Republishes a person's command menu after commit (their role changed)."""
    default_locale = ctx.settings.default_locale

    async def _publish(messenger: Messenger) -> None:
        await menu.publish_for(messenger, user_id, held, default_locale)

    ctx.after_commit(_publish)


router = Router("roles")


@dataclass(frozen=True, slots=True)
class Target:
    """The person whose roles are being changed."""

    volunteer: Volunteer
    held: frozenset[str]


async def _target_by_id(ctx: Context, user_id: int) -> Target | None:
    volunteer = await volunteers.get(ctx.session, user_id)
    if volunteer is None:
        return None
    return Target(volunteer, await permissions.roles_of(ctx, user_id))


async def _find_target(ctx: Context) -> Target | None:
    """The person named by the command: the author of the replied message, or an @username."""
    reply = ctx.event.reply_to_user
    if reply is not None and not reply.is_bot and reply.id != ctx.user_id:
        target = await _target_by_id(ctx, reply.id)
        if target is None:
            ctx.reply(ctx.t("roles.not_registered", name=reply.full_name))
        return target
    word = ctx.args.split()[0] if ctx.args.split() else ""
    if not word.startswith("@") or len(word) < 2:
        ctx.reply(ctx.t("roles.usage"))
        return None
    volunteer = await directory_store.by_username(ctx.session, word)
    if volunteer is None:
        ctx.reply(ctx.t("roles.unknown_username", username=word))
        return None
    return await _target_by_id(ctx, volunteer.user_id)


def editor(ctx: Context, target: Target, mode: str) -> tuple[Html, Keyboard | None]:
    """The roles of a person, with a button for each role the actor may give or take away; a
    discreet member is named only where the actor may see them (permissions.may_see_discreet:
    not in a group)."""
    t = ctx.t
    mine = grantable(ctx.roles)
    sees = permissions.may_see_discreet(ctx.roles, ctx.event.chat.is_private)
    text = t(
        "roles.editor",
        name=names.in_words(t, shown_names.for_viewer(target.volunteer, sees)),
        roles=role_names(t, sorted(target.held)),
    )
    rows: list[list[Button]] = []
    for role in role_store.ALL:
        if role not in mine:
            continue
        has = role in target.held
        if mode == GRANT and not has:
            rows.append(
                [Button(t("roles.give", role=t(f"role.{role}")), _data(GRANT, target, role))]
            )
        elif mode == REVOKE and has:
            rows.append(
                [Button(t("roles.take", role=t(f"role.{role}")), _data(REVOKE, target, role))]
            )
    if not rows:
        key = "roles.nothing_to_give" if mode == GRANT else "roles.nothing_to_take"
        text = Html(text + "\n\n" + t(key))
    return text, rows or None


def _data(op: Mode, target: Target, role: str) -> str:
    return RoleButton(op, target.volunteer.user_id, role).pack()


async def open_editor(ctx: Context, user_id: int, mode: str) -> None:
    """Shows the role editor of a registered person (from the directory, or a command)."""
    target = await _target_by_id(ctx, user_id)
    if target is None:
        raise StaleButton("no such volunteer")
    ctx.reply(*editor(ctx, target, mode))


@router.command("promote")
async def promote(ctx: Context) -> None:
    """Offers the roles the coordinator may give to the person named or replied to."""
    target = await _find_target(ctx)
    if target is not None:
        ctx.reply(*editor(ctx, target, GRANT))


@router.command("demote")
async def demote(ctx: Context) -> None:
    """Offers the roles the coordinator may take from the person named or replied to."""
    target = await _find_target(ctx)
    if target is not None:
        ctx.reply(*editor(ctx, target, REVOKE))


async def _refusal(ctx: Context, op: str, role: str, target: Target) -> str | None:
    """Why this change may not be made (a catalogue key), or None."""
    return permissions.role_change_refusal(
        ctx.roles,
        op == GRANT,
        role,
        target.volunteer.user_id,
        target.held,
        await permissions.owners(ctx),
        ctx.settings.admin_ids,
    )


@router.button(RoleButton)
async def role_pressed(ctx: Context, button: RoleButton) -> None:
    """Gives or takes a role, after checking the presser may, and tells the person."""
    op, role = button.op, button.role
    target = await _target_by_id(ctx, button.user_id)
    if target is None:
        raise StaleButton("no such volunteer")
    problem = await _refusal(ctx, op, role, target)
    if problem is not None:
        ctx.answer(ctx.t(problem, role=ctx.t(f"role.{role}")), alert=True)
        return
    user_id = target.volunteer.user_id
    if op == GRANT:
        await role_store.grant(ctx.session, user_id, role, ctx.now(), granted_by=ctx.user_id)
        held = target.held | {role}
    else:
        await role_store.revoke(ctx.session, user_id, role)
        held = target.held - {role}
    action = "role.grant" if op == GRANT else "role.revoke"
    await audit_store.record(
        ctx.session, ctx.user_id, action, ctx.now(), target_id=user_id, details={"role": role}
    )
    updated = Target(target.volunteer, held)
    ctx.answer(ctx.t("roles.done"))
    ctx.edit(*editor(ctx, updated, op))
    if user_id != ctx.user_id:
        t = translator(target.volunteer.language)
        key = "roles.you_got" if op == GRANT else "roles.you_lost"
        text = t(key, role=t(f"role.{role}"), roles=role_names(t, sorted(held)))
        await tell(ctx, user_id, text)
    refresh_menu(ctx, user_id, held)


async def tell(ctx: Context, user_id: int, text: str, keyboard: Keyboard | None = None) -> None:
    """Writes to someone other than the person acting, through the outbox (after commit)."""
    await ctx.enqueue([Outgoing(user_id, text, keyboard)], purpose="notice", ref="coalition")

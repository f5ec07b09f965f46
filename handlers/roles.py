"""Roles and permissions: the one table of who may run which admin command or press which
button, and /promote, /demote to change someone's roles.

The table (PERMISSIONS, COMMANDS, BUTTONS, DIALOGS) is applied on the server side to every
message and every button press by `enforce`, where the routers are assembled: a route missing
from the table is refused at start-up, not opened to everyone. The command menu of each person
is derived from the same table.

| permission          | roles                                                        |
|---------------------|--------------------------------------------------------------|
| roles.manage        | owner, chair (GRANTS says which roles each may give or take) |
| coalition.settings  | owner, chair                                                 |
| audit.view          | owner, chair                                                 |
| members.view        | owner, chair, secretariat, coordinator, volunteer coordinator |
| applications.review | owner, chair, secretariat, coordinator, volunteer coordinator |
| stats.view          | owner, chair, secretariat, coordinator, volunteer coordinator, treasurer |
| (coordinator_only)  | owner, chair, secretariat, coordinator, volunteer coordinator |
| public              | everyone (/mydata, /forget, check-ins, an applicant's answer) |

`guards.coordinator_only` (calls to action, rosters) admits the same roles as members.view.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from handlers import menu
from handlers.callbacks import StaleButton, choice, expect, integer, pack, unpack
from handlers.context import Context
from handlers.events import EventKind
from handlers.guards import COORDINATOR_ROLES, audit_command
from handlers.i18n import Html, Translator, translator
from handlers.ports import Button, Keyboard, Messenger
from handlers.routing import Guard, Route, Router
from storage import audit, directory, roles, volunteers
from storage.models import Volunteer
from storage.outbox import Outgoing

OWNER, CHAIR, TREASURER = roles.OWNER, roles.CHAIR, roles.TREASURER
LEADERS = frozenset({OWNER, CHAIR})
FIGURES = COORDINATOR_ROLES | {TREASURER}
PUBLIC = "public"

PERMISSIONS: dict[str, frozenset[str]] = {
    "roles.manage": LEADERS,
    "coalition.settings": LEADERS,
    "audit.view": LEADERS,
    "members.view": COORDINATOR_ROLES,
    "applications.review": COORDINATOR_ROLES,
    "stats.view": FIGURES,
}

# Which roles each role may give and take away. Only an owner makes (or unmakes) an owner.
GRANTS: dict[str, frozenset[str]] = {
    OWNER: frozenset(roles.ALL),
    CHAIR: frozenset(
        {roles.SECRETARIAT, roles.COORDINATOR, TREASURER, roles.VOLUNTEER_COORDINATOR}
    ),
}

# Every command, button prefix and dialog flow of the coalition areas, with its permission.
COMMANDS: dict[str, str] = {
    "promote": "roles.manage",
    "demote": "roles.manage",
    "coalition": "coalition.settings",
    "audit": "audit.view",
    "members": "members.view",
    "applications": "applications.review",
    "stats": "stats.view",
    "mydata": PUBLIC,
    "forget": PUBLIC,
}
BUTTONS: dict[str, str] = {
    "rl": "roles.manage",  # rl:<g|r>:<user>:<role>
    "cs": "coalition.settings",  # cs:<setting>:<value>
    "au": "audit.view",  # au:<page> | au:csv
    "mp": "members.view",  # mp:<search>:<page>
    "mm": "members.view",  # mm:<search>:<user>
    "mx": "members.view",  # mx:<search> (CSV)
    "mr": "roles.manage",  # mr:<user>:<g|r> (the role editor, from a member card)
    "mi": "stats.view",  # mi (skill inventory)
    "ap": "applications.review",  # ap:<application>:<ok|no|ask|skip>
    "ci": PUBLIC,  # ci:<ok|edit>
    "fg": PUBLIC,  # fg:<yes|no>
}
DIALOGS: dict[str, str] = {
    "app_review": "applications.review",  # a coordinator types a reason or a question
    "app_answer": PUBLIC,  # the applicant types an answer
}

ROLE_BUTTON = "rl"
GRANT, REVOKE = "g", "r"


def allowed(held: frozenset[str], permission: str) -> bool:
    """True when someone holding `held` roles has `permission`."""
    return permission == PUBLIC or bool(held & PERMISSIONS[permission])


def role_names(t: Translator, names: Sequence[str]) -> str:
    """Role names in the reader's language, in the order of roles.ALL."""
    ordered = [r for r in roles.ALL if r in names]
    return ", ".join(t(f"role.{r}") for r in ordered) if ordered else t("role.member")


def requires(permission: str) -> Guard:
    """A guard that lets only holders of `permission` run the route, with a polite refusal."""

    async def guard(ctx: Context) -> bool:
        if allowed(ctx.roles, permission):
            await audit_command(ctx)
            return True
        text = ctx.t("coalition.refused", roles=role_names(ctx.t, sorted(PERMISSIONS[permission])))
        if ctx.event.kind is EventKind.CALLBACK:
            ctx.answer(text, alert=True)
        else:
            ctx.reply(text)
        return False

    return guard


def enforce(router: Router) -> Router:
    """`router` with the permission table applied to each command, button and dialog."""
    checked = Router(router.name, guards=router.guards)
    for table, rules, kind in (
        (router.commands, COMMANDS, "command"),
        (router.buttons, BUTTONS, "button"),
        (router.dialogs, DIALOGS, "dialog"),
    ):
        target = {"command": checked.commands, "button": checked.buttons, "dialog": checked.dialogs}
        for key, route in table.items():
            if key not in rules:
                raise LookupError(f"{kind} {key!r} of {router.name} is not in the permission table")
            guards = route.guards
            if rules[key] != PUBLIC:
                guards = (*guards, requires(rules[key]))
            target[kind][key] = Route(route.handler, guards)
    checked.events = {kind: list(routes) for kind, routes in router.events.items()}
    return checked


def menu_entries() -> list[menu.MenuEntry]:
    """The coalition commands for the menu, each shown to the roles the table allows."""
    return [
        menu.MenuEntry(name, "private")
        if permission == PUBLIC
        else menu.MenuEntry(name, "coordinator", PERMISSIONS[permission])
        for name, permission in COMMANDS.items()
    ]


def held_by(ctx: Context, user_id: int, stored: frozenset[str]) -> frozenset[str]:
    """A person's roles: stored ones, plus owner for the configured admins."""
    if user_id in ctx.settings.admin_ids:
        return stored | {OWNER, roles.COORDINATOR}
    return stored


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
    return Target(volunteer, held_by(ctx, user_id, await roles.of_user(ctx.session, user_id)))


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
    volunteer = await directory.by_username(ctx.session, word)
    if volunteer is None:
        ctx.reply(ctx.t("roles.unknown_username", username=word))
        return None
    return await _target_by_id(ctx, volunteer.user_id)


def editor(ctx: Context, target: Target, mode: str) -> tuple[Html, Keyboard | None]:
    """The roles of a person, with a button for each role the actor may give or take away."""
    t = ctx.t
    mine = grantable(ctx.roles)
    text = t(
        "roles.editor",
        name=target.volunteer.display_name,
        roles=role_names(t, sorted(target.held)),
    )
    rows: list[list[Button]] = []
    for role in roles.ALL:
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


def _data(op: str, target: Target, role: str) -> str:
    return pack(ROLE_BUTTON, op, target.volunteer.user_id, role)


def grantable(held: frozenset[str]) -> frozenset[str]:
    """The roles someone holding `held` may give or take away."""
    found: frozenset[str] = frozenset()
    for role in held:
        found |= GRANTS.get(role, frozenset())
    return found


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


async def _owners(ctx: Context) -> int:
    stored = set(await roles.holders(ctx.session, OWNER))
    return len(stored | set(ctx.settings.admin_ids))


async def _refusal(ctx: Context, op: str, role: str, target: Target) -> str | None:
    """Why this change may not be made, or None."""
    if role not in grantable(ctx.roles):
        return "roles.not_yours"
    has = role in target.held
    if op == GRANT and has:
        return "roles.already"
    if op == REVOKE and not has:
        return "roles.not_held"
    if op == REVOKE and role == OWNER:
        if target.volunteer.user_id in ctx.settings.admin_ids:
            return "roles.configured_owner"
        if await _owners(ctx) <= 1:
            return "roles.last_owner"
    return None


@router.button(ROLE_BUTTON)
async def role_pressed(ctx: Context) -> None:
    """Gives or takes a role, after checking the presser may, and tells the person."""
    _, parts = unpack(ctx.event.data or "")
    op, raw_user, role = expect(parts, 3)
    choice(op, (GRANT, REVOKE))
    choice(role, roles.ALL)
    target = await _target_by_id(ctx, integer(raw_user, 1))
    if target is None:
        raise StaleButton("no such volunteer")
    problem = await _refusal(ctx, op, role, target)
    if problem is not None:
        ctx.answer(ctx.t(problem, role=ctx.t(f"role.{role}")), alert=True)
        return
    user_id = target.volunteer.user_id
    if op == GRANT:
        await roles.grant(ctx.session, user_id, role, ctx.now(), granted_by=ctx.user_id)
        held = target.held | {role}
    else:
        await roles.revoke(ctx.session, user_id, role)
        held = target.held - {role}
    action = "role.grant" if op == GRANT else "role.revoke"
    await audit.record(
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
    rows = (
        [[{"text": b.label, "callback_data": b.data} for b in row] for row in keyboard]
        if keyboard
        else None
    )
    await ctx.enqueue([Outgoing(user_id, text, rows)], purpose="notice", ref="coalition")

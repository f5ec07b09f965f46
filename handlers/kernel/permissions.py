"""Who may do what in Chorus: the one file of every rule — commands, buttons, dialogs and objects.

Roles are stored in storage/roles.py; what they allow is said here, and nowhere else. Someone
with no role is a member. The configured admins (ADMIN_IDS) are owners: `held_roles` decides it.

**Permissions** (PERMISSIONS) name what a role allows:

| permission          | roles                                                               |
|---------------------|---------------------------------------------------------------------|
| roles.manage        | owner, chair (GRANTS says which roles each may give or take)        |
| coalition.settings  | owner, chair                                                        |
| audit.view          | owner, chair                                                        |
| members.view        | owner, chair, secretariat, coordinator, volunteer coordinator       |
| members.export      | owner, chair, secretariat, coordinator, volunteer coordinator       |
| members.discreet    | owner, chair, secretariat, coordinator, volunteer coordinator       |
| applications.review | owner, chair, secretariat, coordinator, volunteer coordinator       |
| reports.answer      | owner, chair, secretariat, coordinator, volunteer coordinator       |
| actions.manage      | owner, chair, secretariat, coordinator, volunteer coordinator       |
| decisions.manage    | owner, chair, secretariat, coordinator, volunteer coordinator; an   |
|                     | anonymous admin of the group, there (GROUP_ADMIN)                   |
| stats.view          | the coordinators above and the treasurer                            |
| registered          | (no role) a registered volunteer who is not an applicant or rejected |
| public              | (no role) everyone                                                  |

**Routes** (COMMANDS, BUTTONS, DIALOGS) give each command, button prefix and dialog flow its
permission and where it may run (a private chat, a group, anywhere). `enforce` applies them to
every message and button press where the routers are assembled; a route missing from the table
is refused at start-up, not opened to everyone. The command menus (per role and language) and
/help are derived from COMMANDS (handlers/menu.py).

**Objects**: rules that need the object, checked in the handler once it is loaded (so that a
forged or forwarded button meets them too):

| rule                          | who                                                        |
|-------------------------------|------------------------------------------------------------|
| close or extend a decision    | decisions.manage, or the person who started it (started by |
|                               | an anonymous admin: the group's administrators)            |
| start a vote or a proposal    | decisions.manage; active members if the group lets them    |
| a group's decisions: CSV, settings | decisions.manage                                      |
| edit, close, cancel an action | actions.manage, whoever created it (`ac`, `actionedit`)    |
| a saved member search         | the person who ran it (its pages, cards and CSV)           |
| discreet members' names       | members.discreet, in a private chat (`may_see_discreet`)   |
| give or take a role           | GRANTS; a configured owner and the last owner stay owners  |
| erase oneself (/forget, /vanish) | anyone but the last owner                               |

**On behalf of a chat**: a message Telegram shows as sent by a chat (`sender_chat`) has no
person behind it that Chorus can know. An anonymous admin of a group (sent as the group) holds
GROUP_ADMIN there, and nothing else: they may run the commands of ON_BEHALF_COMMANDS, as the
group's administrators may. A channel may run none. Anything else (a vote, a private answer, an
export sent privately) needs a person: they are asked to write under their own name (`as_person`).

One refusal per situation, naming what the person lacks, in their language (`refusal`): a
button gets it as an alert, a message as a reply (`refuse`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from handlers.kernel.context import Context
from handlers.kernel.events import ANONYMOUS_ADMIN, GROUP_ANONYMOUS_BOT_ID, EventKind
from handlers.kernel.i18n import Translator
from handlers.kernel.ports import MessengerError
from handlers.kernel.routing import Guard, Route, Router
from storage.coalition import role_store
from storage.coalition.role_store import (
    CHAIR,
    COORDINATOR,
    OWNER,
    SECRETARIAT,
    TREASURER,
    VOLUNTEER_COORDINATOR,
)
from storage.decisions.decision_models import Decision
from storage.models import Volunteer

# Role groups
COORDINATORS = frozenset({OWNER, CHAIR, SECRETARIAT, COORDINATOR, VOLUNTEER_COORDINATOR})
LEADERS = frozenset({OWNER, CHAIR})
FIGURES = COORDINATORS | {TREASURER}
CONFIGURED = frozenset({OWNER, COORDINATOR})  # what a configured admin (ADMIN_IDS) holds

# Held by an anonymous admin of a group in that group (never stored, never given)
GROUP_ADMIN = "group_admin"
# What an anonymous admin may run in their group; everything else needs a person
ON_BEHALF_COMMANDS = frozenset({"help", "poll", "consensus", "decisions"})

# Permissions that no role gives
PUBLIC = "public"
REGISTERED = "registered"
WAITING_STATUSES = frozenset({"applicant", "rejected"})  # registered, not (yet) a member
ACTIVE = "active"

PERMISSIONS: dict[str, frozenset[str]] = {
    "roles.manage": LEADERS,
    "coalition.settings": LEADERS,
    "audit.view": LEADERS,
    "members.view": COORDINATORS,
    "members.export": COORDINATORS,
    # see discreet members' names (marked 🔒): the promise of registration (ask.discreet)
    "members.discreet": COORDINATORS,
    "applications.review": COORDINATORS,
    # receive what volunteers report with /report, and answer it (the safety kit, issue 16)
    "reports.answer": COORDINATORS,
    "actions.manage": COORDINATORS,
    "decisions.manage": COORDINATORS | {GROUP_ADMIN},
    "stats.view": FIGURES,
}

# Which roles each role may give and take away. Only an owner makes (or unmakes) an owner.
GRANTS: dict[str, frozenset[str]] = {
    OWNER: frozenset(role_store.ALL),
    CHAIR: frozenset({SECRETARIAT, COORDINATOR, TREASURER, VOLUNTEER_COORDINATOR}),
}

PRIVATE, GROUP, ANYWHERE = "private", "group", "anywhere"


@dataclass(frozen=True, slots=True)
class Rule:
    """Who may use a route (a permission) and where (a private chat, a group, anywhere)."""

    permission: str
    where: str = PRIVATE


# Every command, in the order of the menus.
COMMANDS: dict[str, Rule] = {
    "start": Rule(PUBLIC),
    "help": Rule(PUBLIC),
    "profile": Rule(PUBLIC),
    "language": Rule(PUBLIC),
    "cancel": Rule(PUBLIC),
    "newaction": Rule("actions.manage"),
    "actions": Rule("actions.manage"),
    "roster": Rule("actions.manage"),
    "safety": Rule("actions.manage"),  # mark an event risky: the safety check-in (issue 16)
    "poll": Rule(PUBLIC, GROUP),  # who may start one: may_start_decision
    "consensus": Rule(PUBLIC, GROUP),
    "decisions": Rule(PUBLIC, GROUP),  # the export and the settings: decisions.manage
    "proxy": Rule(REGISTERED),  # an organisation's representative only: checked by the handler
    "promote": Rule("roles.manage", ANYWHERE),  # also by reply in a group
    "demote": Rule("roles.manage", ANYWHERE),
    "coalition": Rule("coalition.settings"),
    "audit": Rule("audit.view"),
    "members": Rule("members.view"),
    "applications": Rule("applications.review"),
    "stats": Rule("stats.view"),
    "report": Rule(PUBLIC),  # registered volunteers: checked by the handler, as /profile
    "buddy": Rule(REGISTERED),  # a safety buddy for a risky event they are going to
    "mydata": Rule(PUBLIC),
    "forget": Rule(PUBLIC),
    "vanish": Rule(PUBLIC),  # /forget, after leaving every group (may_forget)
}

# Every button prefix.
BUTTONS: dict[str, Rule] = {
    "lang": Rule(PUBLIC),  # lang:<code>
    "rq": Rule(PUBLIC),  # registration answers
    "rg": Rule(PUBLIC),  # registration steps
    "pe": Rule(PUBLIC),  # profile: edit a field
    "pq": Rule(PUBLIC),  # profile: an answer
    "nm": Rule(REGISTERED),  # nm:menu | nm:<kind> (what reaches me, in /profile)
    "na": Rule("actions.manage"),  # /newaction answers
    "nadec": Rule("actions.manage"),  # nadec:<decision> — /newaction from a decision's outcome
    "nadr": Rule("actions.manage"),  # nadr:<run>:<keep|new> — /newaction sent mid-draft
    "ac": Rule("actions.manage"),  # ac:<operation>:<action>[:<field>]
    "bs": Rule("actions.manage"),  # stop a broadcast
    "ro": Rule("actions.manage"),  # ro:<action> (roster)
    "rv": Rule(REGISTERED, ANYWHERE),  # rv:<action>:<answer>
    "mk": Rule(REGISTERED),  # mk:<kind>:<off|on> ("Less like this" on a call to action)
    "cf": Rule(REGISTERED),  # cf:<action>:<yes|no> ("Still coming?")
    "sf": Rule("actions.manage"),  # sf:<action>:<minutes> (risky or not: /safety)
    "sb": Rule(REGISTERED),  # sb:<action> — a buddy invitation; the handler checks Going
    "sk": Rule(REGISTERED),  # sk:<action>:<safe|help> — their own check-in only
    "ck": Rule("actions.manage"),  # ck:<action>:<user>:<a|n|w|v> (check-in)
    "fb": Rule(REGISTERED),  # fb:<action>:<rating> (how it went)
    "sl": Rule(REGISTERED),  # sl:<action>:<slot> (Going, in one role)
    "ih": Rule(REGISTERED),  # ih:<action> (I'm here: a volunteer checks in)
    "ic": Rule(REGISTERED),  # ic:<action> (Add to calendar: an .ics file)
    "dv": Rule(PUBLIC, GROUP),  # a vote (who counts: ballots.voter)
    "dp": Rule(PUBLIC, GROUP),  # a consensus position
    "dans": Rule(PUBLIC),  # dans:<decision>:<voter> — the proposal's author only (handler)
    "dout": Rule(PUBLIC, GROUP),  # dout:<decision> — may_manage_decision
    "dm": Rule(PUBLIC, GROUP),  # a score, a dot or an availability (who counts: ballots.voter)
    "dx": Rule(PUBLIC, GROUP),  # dx:<decision>:close|extend — may_manage_decision
    "dcsv": Rule("decisions.manage", GROUP),
    "dset": Rule("decisions.manage", GROUP),
    "dnudge": Rule(PUBLIC),  # reminders about votes on or off
    "dnudgeg": Rule(PUBLIC),  # dnudgeg:<chat>:<on|off> — one group's vote reminders
    "drescue": Rule(PUBLIC),  # drescue:<decision> — extend once; may_manage_decision
    "rl": Rule("roles.manage", ANYWHERE),  # rl:<g|r>:<user>:<role> — role_change_refusal
    "cs": Rule("coalition.settings"),  # cs:<setting>:<value>
    "au": Rule("audit.view"),  # au:<page> | au:csv
    "mp": Rule("members.view"),  # mp:<search>:<page> — may_use_search
    "mm": Rule("members.view"),  # mm:<search>:<user>
    "mx": Rule("members.export"),  # mx:<search> (CSV)
    "mr": Rule("roles.manage"),  # mr:<user>:<g|r> (the role editor, from a member card)
    "mi": Rule("stats.view"),  # mi (skill inventory)
    "ap": Rule("applications.review"),  # ap:<application>:<ok|no|ask|skip>
    "oj": Rule("applications.review"),  # oj:<user>:<ok|no> (joining an organisation)
    "ci": Rule(PUBLIC),  # ci:<ok|edit> (check-ins)
    "fg": Rule(PUBLIC),  # fg:<yes|no> — may_forget
    "vn": Rule(PUBLIC),  # vn:<yes|no> (/vanish) — may_forget
    "rp": Rule(PUBLIC),  # /report answers: rp:<topic|anonymous>:<value>
    "ra": Rule("reports.answer"),  # ra:<report> (answer a report)
}

# Every dialog flow (text typed while a dialog is open).
DIALOGS: dict[str, Rule] = {
    "registration": Rule(PUBLIC),
    "profile": Rule(PUBLIC),
    "newaction": Rule("actions.manage"),
    "actionedit": Rule("actions.manage"),
    "walkin": Rule("actions.manage"),  # a walk-in's name, typed at check-in
    "block_reason": Rule(PUBLIC),  # the reason of a Block, typed privately
    "consensus_answer": Rule(PUBLIC),  # the author's answer, opened by dans (author only)
    "decision_outcome": Rule(PUBLIC),  # checked when the button is pressed: may_manage_decision
    "app_review": Rule("applications.review"),  # a coordinator types a reason or a question
    "app_answer": Rule(PUBLIC),  # the applicant types an answer
    "report": Rule(PUBLIC),  # /report
    "report_answer": Rule("reports.answer"),  # a coordinator types the answer to a report
}


# Who holds what


def behalf_roles(on_behalf: str | None) -> frozenset[str] | None:
    """The roles of a message sent on behalf of a chat (None: a person's, as stored)."""
    if on_behalf is None:
        return None
    return frozenset({GROUP_ADMIN}) if on_behalf == ANONYMOUS_ADMIN else frozenset()


def held_roles(user_id: int, stored: Iterable[str], admin_ids: Iterable[int]) -> frozenset[str]:
    """A person's roles: the stored ones, plus owner and coordinator for a configured admin.

    The one place where ADMIN_IDS ⇒ owner is decided (the dispatcher, the menus, the role editor,
    the reviewers of applications and the start-up grants all ask it)."""
    held = frozenset(stored)
    return held | CONFIGURED if user_id in frozenset(admin_ids) else held


def allowed(held: Iterable[str], permission: str) -> bool:
    """True when someone holding `held` roles has `permission` (PUBLIC: everyone).

    REGISTERED depends on the person's status, not their roles: see `is_registered`.
    Raises KeyError for a permission that is not in the table."""
    if permission == PUBLIC:
        return True
    return bool(frozenset(held) & PERMISSIONS[permission])


def is_registered(volunteer: Volunteer | None) -> bool:
    """True for a registered volunteer who is a member (not an applicant, not rejected)."""
    return volunteer is not None and volunteer.status not in WAITING_STATUSES


async def roles_of(ctx: Context, user_id: int) -> frozenset[str]:
    """Someone else's roles, as `held_roles` counts them."""
    return held_roles(
        user_id, await role_store.of_user(ctx.session, user_id), ctx.settings.admin_ids
    )


async def everyone(ctx: Context) -> dict[int, frozenset[str]]:
    """Every person holding a role (configured admins included), with their roles."""
    stored = await role_store.everyone(ctx.session)
    admins = ctx.settings.admin_ids
    return {
        uid: held_roles(uid, stored.get(uid, frozenset()), admins)
        for uid in set(stored) | set(admins)
    }


async def holders(ctx: Context, permission: str) -> frozenset[int]:
    """Everyone whose roles give `permission` (e.g. who reviews applications)."""
    return frozenset(
        uid for uid, held in (await everyone(ctx)).items() if allowed(held, permission)
    )


async def owners(ctx: Context) -> frozenset[int]:
    """Everyone who is an owner, configured or stored."""
    return frozenset(uid for uid, held in (await everyone(ctx)).items() if OWNER in held)


# Object rules


def may_manage_decision(held: Iterable[str], user_id: int, decision: Decision) -> bool:
    """Close now or extend a decision: decisions.manage, or the person who started it."""
    return allowed(held, "decisions.manage") or decision.created_by == user_id


async def by_its_admins(ctx: Context, decision: Decision) -> bool:
    """Whether the person may act for a decision an anonymous admin started: any of the
    group's administrators may, as any of them may have started it (getChatMember)."""
    if decision.created_by != GROUP_ANONYMOUS_BOT_ID:
        return False
    try:
        status = await ctx.services.messenger.member_status(decision.chat_id, ctx.user_id)
    except MessengerError:
        return False
    return status in ("creator", "administrator")


def may_start_decision(
    held: Iterable[str], volunteer: Volunteer | None, members_may_start: bool
) -> str | None:
    """Why this person may not start a vote or a proposal in a group (a catalogue key), or None.

    Holders of decisions.manage always may; others when the group lets members
    (`members_may_start`, the group's setting) and they are active members."""
    if allowed(held, "decisions.manage"):
        return None
    if not members_may_start:
        return "decisions.error.create_coordinators"
    if volunteer is None or volunteer.status != ACTIVE:
        return "decisions.error.register_to_create"
    return None


def may_see_discreet(held: Iterable[str], private_chat: bool) -> bool:
    """Whether a discreet member's name may be shown to this person here: members.discreet,
    and only in their private chat with the bot — a group reads over their shoulder.

    Every view that names people asks it (the directory and its export, rosters and their
    files, application reviews, the role editor) and gives the answer to
    storage.people.shown_names.for_viewer; decision results never name discreet members.
    Source: the registration's promise (catalogue key ``ask.discreet``)."""
    return private_chat and allowed(held, "members.discreet")


def may_use_search(user_id: int, owner_id: int) -> bool:
    """A saved member search (its pages, cards and CSV) is only for the person who ran it."""
    return user_id == owner_id


def grantable(held: Iterable[str]) -> frozenset[str]:
    """The roles someone holding `held` may give or take away (GRANTS)."""
    found: frozenset[str] = frozenset()
    for role in held:
        found |= GRANTS.get(role, frozenset())
    return found


def role_change_refusal(
    actor: Iterable[str],
    give: bool,
    role: str,
    target_id: int,
    target: Iterable[str],
    owner_ids: Iterable[int],
    admin_ids: Iterable[int],
) -> str | None:
    """Why `actor` may not give (`give`) or take `role` from the target, as a catalogue key (its
    text takes {role}); None when they may. A configured owner and the last owner stay owners."""
    if role not in grantable(actor):
        return "roles.not_yours"
    has = role in frozenset(target)
    if give and has:
        return "roles.already"
    if not give and not has:
        return "roles.not_held"
    if not give and role == OWNER:
        if target_id in frozenset(admin_ids):
            return "roles.configured_owner"
        if len(frozenset(owner_ids) | {target_id}) <= 1:
            return "roles.last_owner"
    return None


def may_forget(
    user_id: int, stored: Iterable[str], owner_ids: Iterable[int], admin_ids: Iterable[int]
) -> bool:
    """Erase oneself: anyone but the last owner (a configured admin stays an owner anyway)."""
    if OWNER not in frozenset(stored) or user_id in frozenset(admin_ids):
        return True
    return len(frozenset(owner_ids) | {user_id}) > 1


# Refusals


def role_names(t: Translator, names: Iterable[str]) -> str:
    """Role names in the reader's language, in the order of roles.ALL ("member" for none)."""
    held = frozenset(names)
    ordered = [r for r in role_store.ALL if r in held]
    return t.comma.join(t(f"role.{r}") for r in ordered) if ordered else t("role.member")


def refusal(t: Translator, permission: str, *, or_author: bool = False) -> str:
    """The refusal for someone lacking `permission`, naming the roles that have it.
    `or_author`: the object's author may too (a decision they started)."""
    key = "permissions.refused_or_author" if or_author else "permissions.refused"
    return t(key, roles=role_names(t, PERMISSIONS[permission]))


def refuse(ctx: Context, text: str) -> None:
    """Tells the person why not: an alert for a button, a reply to a message."""
    if ctx.event.kind is EventKind.CALLBACK:
        ctx.answer(text, alert=True)
    else:
        ctx.reply(text)


def as_person(ctx: Context, anonymous_admin_may: bool = False) -> bool:
    """True when a person wrote (or an anonymous admin, if `anonymous_admin_may`); otherwise
    asks them to write under their own name and is False."""
    behalf = ctx.event.on_behalf
    if behalf is None or (behalf == ANONYMOUS_ADMIN and anonymous_admin_may):
        return True
    sender = ctx.event.sender_chat
    refuse(ctx, ctx.t("errors.own_name", chat=(sender.title if sender else None) or ""))
    return False


def check(ctx: Context, permission: str) -> bool:
    """True when the person has `permission`; otherwise refuses (see `refuse`) and is False."""
    if allowed(ctx.roles, permission):
        return True
    refuse(ctx, refusal(ctx.t, permission))
    return False


# Routes


async def _private(ctx: Context) -> bool:
    if ctx.event.chat.is_private:
        return True
    refuse(ctx, ctx.t("errors.private_only"))
    return False


async def _group(ctx: Context) -> bool:
    if ctx.event.chat.is_group:
        return True
    refuse(ctx, ctx.t("errors.group_only"))
    return False


async def _registered(ctx: Context) -> bool:
    if is_registered(ctx.volunteer):
        return True
    if ctx.volunteer is not None:
        refuse(ctx, ctx.t(f"membership.refused.{ctx.volunteer.status}"))
    else:
        refuse(ctx, ctx.t("errors.not_registered"))
    return False


def _holding(permission: str) -> Guard:
    async def guard(ctx: Context) -> bool:
        return check(ctx, permission)

    return guard


def _personal(anonymous_admin_may: bool) -> Guard:
    async def guard(ctx: Context) -> bool:
        return as_person(ctx, anonymous_admin_may)

    return guard


def guards(rule: Rule, *, on_behalf: bool = False) -> tuple[Guard, ...]:
    """The guards of a route: a person (or, with `on_behalf`, an anonymous admin) first, then
    where, then who."""
    found: list[Guard] = [_personal(on_behalf)]
    if rule.where == PRIVATE:
        found.append(_private)
    elif rule.where == GROUP:
        found.append(_group)
    if rule.permission == REGISTERED:
        found.append(_registered)
    elif rule.permission != PUBLIC:
        found.append(_holding(rule.permission))
    return tuple(found)


def enforce(router: Router) -> Router:
    """`router` with the table applied to each command, button and dialog (events and timers
    come from Telegram or the clock, not from a person, and keep their routes).

    Raises LookupError for a route missing from the table, KeyError for an unknown permission."""
    checked = Router(router.name, guards=router.guards)
    for kind, routes, rules, target in (
        ("command", router.commands, COMMANDS, checked.commands),
        ("button", router.buttons, BUTTONS, checked.buttons),
        ("dialog", router.dialogs, DIALOGS, checked.dialogs),
    ):
        for key, route in routes.items():
            if key not in rules:
                raise LookupError(
                    f"{kind} {key!r} of {router.name} is not in handlers/permissions.py"
                )
            rule = rules[key]
            if rule.permission not in (PUBLIC, REGISTERED, *PERMISSIONS):
                raise KeyError(f"{kind} {key!r}: no permission {rule.permission!r}")
            behalf = kind == "command" and key in ON_BEHALF_COMMANDS
            target[key] = Route(route.handler, (*guards(rule, on_behalf=behalf), *route.guards))
    checked.events = {kind: list(routes) for kind, routes in router.events.items()}
    return checked


def menu_commands(held: Iterable[str] | None) -> list[str]:
    """The commands of a menu, in table order: a person's private menu for `held` roles (empty:
    everyone's), or the groups' menu for None. Only what the person may run is listed."""
    if held is None:
        return [n for n, r in COMMANDS.items() if r.where != PRIVATE and r.permission == PUBLIC]
    roles_held = frozenset(held)
    return [
        name
        for name, rule in COMMANDS.items()
        if rule.where != GROUP
        and rule.permission != REGISTERED
        and allowed(roles_held, rule.permission)
    ]

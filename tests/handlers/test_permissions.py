"""The one permission model (handlers/permissions.py): the table role × permission, the object
rules, the menus and /help derived from it, and forged buttons refused on the server side."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.app import Storage, publish_commands
from handlers import build_router
from handlers.kernel import permissions
from handlers.kernel.callbacks import pack
from handlers.kernel.events import Chat, ChatType, Event, EventKind
from handlers.kernel.i18n import translator
from handlers.kernel.menu import commands_for_roles, group_commands
from handlers.kernel.ports import ShiftedClock
from storage import dialogs
from storage.actions import action_store
from storage.actions.action_models import Action
from storage.coalition import group_store, role_store
from storage.decisions import decision_store
from storage.decisions.decision_models import Decision
from tests.conftest import COORDINATOR_ID
from tests.support.coalition import make_member, someone
from tests.support.groups import Group, make_volunteer
from tests.support.recording import Conversation, RecordingMessenger, Someone

ROLES = ("owner", "chair", "secretariat", "coordinator", "treasurer", "volunteer_coordinator", "")

# Written by hand from the rules (not computed from the table). Columns follow ROLES; "" is a
# member without any role.
#                          owner chair secr. coord. treas. v.coord. member
EXPECTED = {
    "roles.manage": "X X . . . . .",
    "coalition.settings": "X X . . . . .",
    "audit.view": "X X . . . . .",
    "members.view": "X X X X . X .",
    "members.export": "X X X X . X .",
    "members.discreet": "X X X X . X .",
    "applications.review": "X X X X . X .",
    "reports.answer": "X X X X . X .",
    "actions.manage": "X X X X . X .",
    "decisions.manage": "X X X X . X .",
    "stats.view": "X X X X X X .",
    "public": "X X X X X X X",
}
CASES = [
    (permission, role, mark == "X")
    for permission, row in EXPECTED.items()
    for role, mark in zip(ROLES, row.split(), strict=True)
]


@pytest.mark.parametrize(("permission", "role", "expected"), CASES)
def test_each_role_and_each_permission(permission: str, role: str, expected: bool) -> None:
    held = frozenset({role}) if role else frozenset()
    assert permissions.allowed(held, permission) is expected


def test_every_permission_has_a_hand_written_row() -> None:
    assert set(permissions.PERMISSIONS) == set(EXPECTED) - {permissions.PUBLIC}


def test_discreet_members_are_seen_by_coordinators_in_a_private_chat_only() -> None:
    for role in ROLES:
        held = frozenset({role}) if role else frozenset()
        private = permissions.may_see_discreet(held, private_chat=True)
        assert private is (role in permissions.COORDINATORS), role
        assert permissions.may_see_discreet(held, private_chat=False) is False


def test_an_unknown_permission_is_an_error_not_an_opening() -> None:
    with pytest.raises(KeyError):
        permissions.allowed(frozenset({"owner"}), "members.veiw")


def test_configured_admins_are_owners_and_coordinators_and_nobody_else_is() -> None:
    assert permissions.held_roles(7, {"treasurer"}, {7}) == {"treasurer", "owner", "coordinator"}
    assert permissions.held_roles(8, {"treasurer"}, {7}) == {"treasurer"}
    assert permissions.held_roles(8, (), ()) == frozenset()


def test_every_route_is_in_the_table_and_every_rule_is_routed() -> None:
    root = build_router()
    assert set(root.commands) == set(permissions.COMMANDS)
    assert set(root.buttons) == set(permissions.BUTTONS)
    assert set(root.dialogs) == set(permissions.DIALOGS)


@pytest.mark.parametrize(
    ("actor", "give", "role", "target", "owner_ids", "expected"),
    [
        ({"owner"}, True, "owner", set(), {1}, None),
        ({"chair"}, True, "treasurer", set(), {1}, None),
        ({"chair"}, True, "chair", set(), {1}, "roles.not_yours"),
        ({"chair"}, True, "owner", set(), {1}, "roles.not_yours"),
        ({"coordinator"}, True, "treasurer", set(), {1}, "roles.not_yours"),
        ({"treasurer", "secretariat"}, False, "treasurer", {"treasurer"}, {1}, "roles.not_yours"),
        ({"owner"}, True, "chair", {"chair"}, {1}, "roles.already"),
        ({"owner"}, False, "chair", set(), {1}, "roles.not_held"),
        ({"owner"}, False, "owner", {"owner"}, {1, 2}, None),
        ({"owner"}, False, "owner", {"owner"}, {2}, "roles.last_owner"),
        ({"owner"}, False, "owner", {"owner"}, set(), "roles.last_owner"),
    ],
)
def test_who_may_give_or_take_which_role(
    actor: set[str],
    give: bool,
    role: str,
    target: set[str],
    owner_ids: set[int],
    expected: str | None,
) -> None:
    refusal = permissions.role_change_refusal(actor, give, role, 2, target, owner_ids, {9})
    assert refusal == expected


def test_a_configured_owner_keeps_the_owner_role() -> None:
    refusal = permissions.role_change_refusal({"owner"}, False, "owner", 9, {"owner"}, {1, 9}, {9})
    assert refusal == "roles.configured_owner"


def test_only_the_last_owner_may_not_erase_themselves() -> None:
    assert permissions.may_forget(1, {"owner"}, {1}, ()) is False
    assert permissions.may_forget(1, {"owner"}, {1, 2}, ()) is True
    assert permissions.may_forget(1, {"owner"}, {1}, {1}) is True  # configured: stays an owner
    assert permissions.may_forget(1, {"chair"}, set(), ()) is True


def test_who_may_start_a_decision() -> None:
    assert permissions.may_start_decision({"coordinator"}, None, False) is None
    assert permissions.may_start_decision(set(), None, False) == (
        "decisions.error.create_coordinators"
    )
    assert permissions.may_start_decision(set(), None, True) == (
        "decisions.error.register_to_create"
    )
    assert permissions.may_start_decision({"treasurer"}, None, False) == (
        "decisions.error.create_coordinators"
    )


# The menus and /help follow the table (expected lists written by hand)

EVERYONE = [
    "start",
    "help",
    "profile",
    "language",
    "cancel",
    "report",
    "mydata",
    "forget",
    "vanish",
]
COORDINATING = ["newaction", "actions", "roster", "safety"]
LEADING = ["promote", "demote", "coalition", "audit"]
MENUS = {
    "": EVERYONE,
    "treasurer": [*EVERYONE[:5], "stats", *EVERYONE[5:]],
    "coordinator": [
        *EVERYONE[:5],
        *COORDINATING,
        "members",
        "applications",
        "stats",
        *EVERYONE[5:],
    ],
    "volunteer_coordinator": [
        *EVERYONE[:5],
        *COORDINATING,
        "members",
        "applications",
        "stats",
        *EVERYONE[5:],
    ],
    "chair": [
        *EVERYONE[:5],
        *COORDINATING,
        *LEADING,
        "members",
        "applications",
        "stats",
        *EVERYONE[5:],
    ],
    "owner": [
        *EVERYONE[:5],
        *COORDINATING,
        *LEADING,
        "members",
        "applications",
        "stats",
        *EVERYONE[5:],
    ],
}


@pytest.mark.parametrize("role", sorted(MENUS))
@pytest.mark.parametrize("locale", ["en", "ar"])
def test_the_private_menu_of_each_role(role: str, locale: str) -> None:
    t = translator(locale)
    menu = commands_for_roles(t, {role} if role else ())
    assert [c.command for c in menu] == MENUS[role]
    assert all(c.description == t(f"command.{c.command}") for c in menu)


def test_the_group_menu() -> None:
    assert [c.command for c in group_commands(translator("en"))] == [
        "poll",
        "consensus",
        "decisions",
    ]


def _help_commands(text: str) -> tuple[list[str], list[str]]:
    private, _, in_groups = text.partition("\n\n")
    pick = [line.split(" — ")[0].lstrip("/") for line in private.splitlines()[1:]]
    return pick, [line.split(" — ")[0].lstrip("/") for line in in_groups.splitlines()[1:]]


@pytest.mark.parametrize("role", ["treasurer", "volunteer_coordinator", "chair", ""])
async def test_help_lists_only_what_the_roles_allow(
    conversation: Conversation, storage: Storage, clock: ShiftedClock, role: str
) -> None:
    await make_member(storage, 5001, now=clock.now(), name="Amira", role=role or None)
    amira = someone(conversation, 5001, "Amira")
    await amira.send("/help")
    private, in_groups = _help_commands(amira.last.text)
    assert private == MENUS[role]
    assert in_groups == ["poll", "consensus", "decisions"]


async def test_help_is_in_the_persons_language(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    await make_member(storage, 5001, now=clock.now(), name="Amira", role="treasurer", language="fr")
    amira = someone(conversation, 5001, "Amira", language_code="fr")
    await amira.send("/help")
    t = translator("fr")
    assert f"/stats — {t('command.stats')}" in amira.last.text
    assert "/newaction" not in amira.last.text and "/audit" not in amira.last.text


# Refusals: one text, naming what is lacking, in the person's language


async def test_one_refusal_names_the_roles_in_the_persons_language(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    await make_member(storage, 5001, now=clock.now(), name="Amira", language="fr")
    amira = someone(conversation, 5001, "Amira", language_code="fr")
    t = translator("fr")
    expected = t(
        "permissions.refused",
        roles="propriétaire, présidence, secrétariat, coordination, coordination des bénévoles",
    )
    await amira.send("/newaction")
    assert amira.last.text == expected  # a message: a reply
    await amira.send("/members")
    assert amira.last.text == expected  # the same text for the same situation
    text, alert = await amira.press_data(1, pack("ac", "close", 1))
    assert alert and text == expected  # a button: an alert


async def test_the_place_is_checked_before_the_roles(conversation: Conversation) -> None:
    coral = conversation.person("Coral", user_id=COORDINATOR_ID)
    event = Event(
        conversation.next_update_id(),
        EventKind.MESSAGE,
        coral.person,
        Chat(-100, ChatType.SUPERGROUP, "Coalition"),
        text="/members",
        message_id=3,
    )
    await conversation.dispatcher.feed(event)
    assert "private chat" in conversation.messenger.chats[-100][-1].text


# Object rules, enforced on the server for forged buttons


async def _action(storage: Storage, clock: ShiftedClock) -> int:
    async with storage.sessionmaker() as session, session.begin():
        action = await action_store.create(
            session,
            {
                "kind": "meeting",
                "title": "Town hall",
                "description": "Bring a friend",
                "timezone": "UTC",
                "at": clock.now() + timedelta(days=3),
                "audience": {},
                "group_ids": [],
                "reminder_minutes": [],
                "created_by": COORDINATOR_ID,
            },
            clock.now(),
        )
        return action.id


async def _status(storage: Storage, action_id: int) -> str:
    async with storage.sessionmaker() as session:
        found = await session.scalar(select(Action.status).where(Action.id == action_id))
    assert found is not None
    return found


@pytest.mark.parametrize("operation", ["edit", "field", "close", "cancel", "cancel_yes", "stop"])
async def test_a_volunteer_cannot_edit_or_end_a_coordinators_action_with_a_forged_button(
    conversation: Conversation, storage: Storage, clock: ShiftedClock, operation: str
) -> None:
    action_id = await _action(storage, clock)
    await make_member(storage, 5001, now=clock.now(), name="Amira")
    amira = someone(conversation, 5001, "Amira")
    data = pack("ac", operation, action_id, *(["title"] if operation == "field" else []))
    text, alert = await amira.press_data(1, data)
    assert alert and text is not None and text.startswith("Sorry, only these roles")
    assert await _status(storage, action_id) == action_store.OPEN
    assert amira.messages == []
    async with storage.sessionmaker() as session:
        assert await dialogs.get(session, 5001, 5001) is None


async def test_a_volunteer_with_a_forged_edit_dialog_changes_nothing(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    action_id = await _action(storage, clock)
    await make_member(storage, 5001, now=clock.now(), name="Amira")
    async with storage.sessionmaker() as session, session.begin():
        await dialogs.save(
            session, 5001, 5001, "actionedit", "title", {"action_id": action_id}, clock.now()
        )
    amira = someone(conversation, 5001, "Amira")
    await amira.send("Hijacked")
    assert amira.last.text.startswith("Sorry, only these roles")
    async with storage.sessionmaker() as session:
        title = await session.scalar(select(Action.title).where(Action.id == action_id))
    assert title == "Town hall"


async def _decision(conversation: Conversation, question: str) -> Decision:
    async with conversation.dispatcher.services.sessionmaker() as session:
        found = await session.scalar(select(Decision).where(Decision.question == question))
    assert found is not None
    return found


async def _members(conversation: Conversation, group: Group, *names: str) -> list[Someone]:
    people = [conversation.person(name) for name in names]
    for person in people:
        await make_volunteer(conversation, person)
    await group.join(*people)
    return people


async def test_a_volunteer_cannot_close_or_extend_someone_elses_decision(
    conversation: Conversation,
) -> None:
    group = Group(conversation)
    coral = conversation.person("Coral", user_id=COORDINATOR_ID)
    amira, bilal = await _members(conversation, group, "Amira", "Bilal")
    await group.say(coral, "/poll Venue? | Hall | Park | anonymous | in 2h")
    venue = group.find("Venue?")
    decision = await _decision(conversation, "Venue?")
    for what in ("close", "extend"):
        data = pack("dx", decision.id, what)
        text, alert = await group.press_data(amira, venue.message_id, data)
        assert alert and text is not None
        assert text.startswith("Sorry, only the person who started it or these roles")
    after = await _decision(conversation, "Venue?")
    assert (after.status, after.closes_at) == (decision_store.OPEN, decision.closes_at)
    # Members may start votes once the group allows it; each may close only their own.
    async with conversation.dispatcher.services.sessionmaker() as session, session.begin():
        await group_store.set_setting(session, group.id, "members_can_create", True)
    await group.say(amira, "/poll Lunch? | Pizza | Soup | anonymous | in 2h")
    lunch = group.find("Lunch?")
    close = pack("dx", (await _decision(conversation, "Lunch?")).id, "close")
    text, alert = await group.press_data(bilal, lunch.message_id, close)
    assert alert and (await _decision(conversation, "Lunch?")).status == decision_store.OPEN
    await group.press_data(amira, lunch.message_id, close)
    assert (await _decision(conversation, "Lunch?")).status == decision_store.CLOSED


async def test_a_volunteer_cannot_change_a_groups_settings_or_export_its_decisions(
    conversation: Conversation,
) -> None:
    group = Group(conversation)
    (amira,) = await _members(conversation, group, "Amira")
    for data in (pack("dset", "members"), pack("dcsv")):
        text, alert = await group.press_data(amira, 1, data)
        assert alert and text is not None and text.startswith("Sorry, only these roles")
    async with conversation.dispatcher.services.sessionmaker() as session:
        settings = await group_store.get(session, group.id)
    assert settings is None or not settings.settings.get("members_can_create")
    assert amira.messages == []


async def test_the_published_menus_follow_the_table_and_admins_get_the_owners_menu() -> None:
    messenger = RecordingMessenger()
    await publish_commands(messenger, frozenset({7}), "en", {8: frozenset({"treasurer"})})

    def names(scope: str, language: str | None, chat_id: int | None) -> list[str]:
        return [c.command for c in messenger.commands[(scope, language, chat_id)]]

    assert names("private", "fr", None) == MENUS[""]
    assert names("groups", None, None) == ["poll", "consensus", "decisions"]
    assert names("default", "es", 7) == MENUS["owner"]
    assert names("default", None, 8) == MENUS["treasurer"]


@pytest.mark.parametrize("locale", ["en", "fr", "es", "ar"])
async def test_a_refusal_names_the_roles_as_people_read_them_not_as_the_code_does(
    conversation: Conversation, locale: str
) -> None:
    """ "Sorry, only these roles can do this: owner, chair" read as internal names (newcomer
    trial): the English role names were the codes word for word."""
    lee = conversation.person("Lee", language_code=locale)
    await lee.send("/newaction")
    refusal = lee.last.text
    t = translator(locale)
    codes = {code for role in role_store.ALL for code in (role, role.replace("_", " "))}
    for role in permissions.PERMISSIONS["actions.manage"]:
        name = t(f"role.{role}").lstrip("\u200f")
        assert name in refusal and name not in codes

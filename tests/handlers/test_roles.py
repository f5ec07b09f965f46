"""Roles and permissions: who may give which role, the last owner, refusals on every admin route."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.app import Storage
from handlers.kernel import permissions
from handlers.kernel.callbacks import pack
from handlers.kernel.context import HandlerSettings
from handlers.kernel.ports import ShiftedClock
from handlers.kernel.routing import Router
from storage.coalition import role_store
from storage.models import AuditEntry, Role
from tests.conftest import COORDINATOR_ID
from tests.support.actions import engine_for
from tests.support.coalition import make_member, someone
from tests.support.recording import Conversation

AMIRA, BEN, CHLOE = 5001, 5002, 5003


async def _held(storage: Storage, user_id: int) -> set[str]:
    async with storage.sessionmaker() as session:
        return set(await session.scalars(select(Role.role).where(Role.user_id == user_id)))


async def test_owner_makes_a_chair_by_username_who_is_told_and_gets_her_menu(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    await make_member(storage, AMIRA, now=clock.now(), name="Amira", username="amira_h")
    owner = someone(conversation, COORDINATOR_ID, "Coral")
    amira = someone(conversation, AMIRA, "Amira")
    await owner.send("/promote @Amira_H")
    assert "Amira" in owner.last.text and "Roles: Member" in owner.last.text
    assert "➕ Make Owner" in owner.last.labels
    await owner.press("➕ Make Chair")
    assert await _held(storage, AMIRA) == {"chair"}
    assert "Roles: Chair" in owner.last.text
    await engine_for(conversation.dispatcher.services).drain()
    assert "You are now <b>Chair</b>" in amira.last.text
    menu = [c.command for c in conversation.messenger.commands[("default", "en", AMIRA)]]
    assert {"members", "promote", "audit", "stats", "mydata"} <= set(menu)
    assert "newaction" in menu  # a chair coordinates
    async with storage.sessionmaker() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "role.grant"))
    assert entry is not None
    assert (entry.actor_id, entry.target_id, entry.details) == (
        COORDINATOR_ID,
        AMIRA,
        {"role": "chair"},
    )


async def test_a_chair_gives_coordinator_roles_but_never_chair_or_owner(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    await make_member(storage, AMIRA, now=clock.now(), name="Amira", role="chair")
    await make_member(storage, BEN, now=clock.now(), name="Ben", username="ben")
    amira = someone(conversation, AMIRA, "Amira")
    await amira.send("/promote @ben")
    assert "➕ Make Treasurer" in amira.last.labels
    assert not any("owner" in label or "chair" in label for label in amira.last.labels)
    await amira.press("➕ Make Treasurer")
    assert await _held(storage, BEN) == {"treasurer"}
    forged = pack("rl", "g", BEN, "owner")
    text, alert = await amira.press_data(amira.last.message_id, forged)
    assert alert and text is not None and "cannot give or take" in text
    assert await _held(storage, BEN) == {"treasurer"}
    await amira.send("/demote @ben")
    await amira.press("➖ No longer Treasurer")
    assert await _held(storage, BEN) == set()


async def test_nobody_removes_the_last_owner_nor_a_configured_one(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    await make_member(storage, COORDINATOR_ID, now=clock.now(), name="Coral", username="coral")
    await make_member(storage, AMIRA, now=clock.now(), name="Amira", username="amira")
    owner = someone(conversation, COORDINATOR_ID, "Coral")
    await owner.send("/demote @coral")
    text, alert = await owner.press("➖ No longer Owner")
    assert alert and text is not None and "configuration" in text
    await owner.send("/promote @amira")
    await owner.press("➕ Make Owner")
    assert "owner" in await _held(storage, AMIRA)
    amira = someone(conversation, AMIRA, "Amira")
    await amira.send("/demote @amira")
    text, alert = await amira.press("➖ No longer Owner")
    assert text == "Done."  # Coral (ADMIN_IDS) is still an owner
    assert "owner" not in await _held(storage, AMIRA)
    async with storage.sessionmaker() as session, session.begin():
        await role_store.grant(session, BEN, "owner", clock.now())
    await make_member(storage, BEN, now=clock.now(), name="Ben", username="ben")
    conversation.dispatcher.services.settings = HandlerSettings(admin_ids=frozenset())
    ben = someone(conversation, BEN, "Ben")
    await ben.send("/demote @ben")
    text, alert = await ben.press("➖ No longer Owner")
    assert alert and text is not None and "last owner" in text
    assert "owner" in await _held(storage, BEN)


async def test_promote_by_reply_in_a_group_and_unknown_people(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    from handlers.kernel.events import Chat, ChatType, Event, EventKind, Person

    await make_member(storage, AMIRA, now=clock.now(), name="Amira")
    group = Chat(-100, ChatType.SUPERGROUP, "Coalition")
    owner = Person(COORDINATOR_ID, "Coral")
    event = Event(
        conversation.next_update_id(),
        EventKind.MESSAGE,
        owner,
        group,
        text="/promote",
        message_id=7,
        reply_to_user=Person(AMIRA, "Amira"),
    )
    await conversation.dispatcher.feed(event)
    shown = conversation.messenger.chats[-100][-1]
    assert "Amira" in shown.text and "➕ Make Secretariat" in shown.labels
    stranger = Event(
        conversation.next_update_id(),
        EventKind.MESSAGE,
        owner,
        group,
        text="/promote",
        message_id=8,
        reply_to_user=Person(4242, "Zed <z>"),
    )
    await conversation.dispatcher.feed(stranger)
    assert "Zed &lt;z&gt; has not registered" in conversation.messenger.chats[-100][-1].text
    coral = someone(conversation, COORDINATOR_ID, "Coral")
    await coral.send("/promote")
    assert "Reply to someone's message" in coral.last.text
    await coral.send("/promote @nobody")
    assert "No registered member has the username @nobody" in coral.last.text


async def test_a_discreet_member_is_not_named_by_the_role_editor_in_a_group(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    from handlers.kernel.events import Chat, ChatType, Event, EventKind, Person

    await make_member(
        storage, AMIRA, now=clock.now(), name="Amira Haddad", username="amira", discreet=True
    )
    group = Chat(-100, ChatType.SUPERGROUP, "Coalition")
    event = Event(
        conversation.next_update_id(),
        EventKind.MESSAGE,
        Person(COORDINATOR_ID, "Coral"),
        group,
        text="/promote",
        message_id=7,
        reply_to_user=Person(AMIRA, "Amira"),
    )
    await conversation.dispatcher.feed(event)
    shown = conversation.messenger.chats[-100][-1]
    assert "Amira" not in shown.text and "discreet mode" in shown.text
    assert "➕ Make Secretariat" in shown.labels
    coral = someone(conversation, COORDINATOR_ID, "Coral")
    await coral.send("/promote @amira")
    assert "🔒 Amira Haddad" in coral.last.text  # a coordinator, privately, sees who it is


ADMIN_COMMANDS = sorted(
    name
    for name, rule in permissions.COMMANDS.items()
    if rule.permission in permissions.PERMISSIONS and rule.where != permissions.GROUP
)
ADMIN_BUTTONS = sorted(
    prefix
    for prefix, rule in permissions.BUTTONS.items()
    if rule.permission in permissions.PERMISSIONS and rule.where != permissions.GROUP
)


@pytest.mark.parametrize("command", ADMIN_COMMANDS)
async def test_a_member_is_refused_every_admin_command(
    conversation: Conversation, storage: Storage, clock: ShiftedClock, command: str
) -> None:
    await make_member(storage, AMIRA, now=clock.now(), name="Amira", username="amira")
    amira = someone(conversation, AMIRA, "Amira")
    await amira.send(f"/{command} @amira")
    assert amira.last.text.startswith("Sorry, only these roles can do this: ")
    assert amira.last.keyboard == []
    assert await _held(storage, AMIRA) == set()


@pytest.mark.parametrize("prefix", ADMIN_BUTTONS)
async def test_a_member_pressing_any_admin_button_gets_a_polite_refusal(
    conversation: Conversation, storage: Storage, clock: ShiftedClock, prefix: str
) -> None:
    await make_member(storage, AMIRA, now=clock.now(), name="Amira")
    amira = someone(conversation, AMIRA, "Amira")
    data = {
        "rl": pack("rl", "g", AMIRA, "owner"),
        "cs": pack("cs", "m", "application"),
        "au": pack("au", "csv"),
        "mp": pack("mp", 1, 0),
        "mm": pack("mm", 1, AMIRA),
        "mx": pack("mx", 1),
        "mr": pack("mr", AMIRA, "g"),
        "mi": pack("mi"),
        "ap": pack("ap", 1, "ok"),
        "oj": pack("oj", 1, "ok"),
        "ra": pack("ra", 1),
        "na": pack("na", "kind", "event"),
        "nadec": pack("nadec", 1),
        "nadr": pack("nadr", "ab12", "new"),
        "ac": pack("ac", "cancel_yes", 1),
        "bs": pack("bs", 1),
        "ro": pack("ro", 1),
        "ck": pack("ck", 1, AMIRA, "a"),
        "sf": pack("sf", 1, 60),
    }[prefix]
    text, alert = await amira.press_data(1, data)
    assert alert and text is not None and text.startswith("Sorry, only these roles")
    assert await _held(storage, AMIRA) == set()
    assert amira.messages == []


async def test_a_treasurer_sees_stats_but_not_the_directory(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    await make_member(storage, AMIRA, now=clock.now(), name="Amira", role="treasurer")
    amira = someone(conversation, AMIRA, "Amira")
    await amira.send("/members")
    assert "Owner, Chair, Secretariat, Coordinator, Volunteer coordinator" in amira.last.text
    await amira.send("/stats")
    assert any("Skill inventory" in m.text for m in amira.messages)


def test_every_coalition_route_is_in_the_permission_table() -> None:
    stray = Router("stray")

    @stray.command("secret")
    async def secret(ctx: object) -> None:
        """Not in the table."""

    with pytest.raises(LookupError, match="secret"):
        permissions.enforce(stray)

"""`chorus sandbox`: the world and the clock survive a restart, --reset, --demo, the clock hook."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.app import Storage, open_storage
from bot.cli import parser
from bot.config import Settings
from bot.sandbox_app import Sandbox, banner, reset_files, world_path
from bot.sandbox_people import (
    COALITION_GROUP,
    COORDINATOR_ID,
    DEMO_SIZE,
    FIRST_DEMO_ID,
    PEOPLE,
    demo_volunteers,
    labels,
)
from botapi_emulator.client import Person, SandboxClient
from storage import timers
from storage.coalition import role_store
from storage.models import GroupMember, Timer, Volunteer
from storage.people import volunteers

AMIRA = PEOPLE[1].user_id
SAM = PEOPLE[4].user_id
TOM = PEOPLE[5].user_id
PLACE = {"language": "en", "timezone": "Africa/Nairobi"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Sandbox settings on a database of this test."""
    return Settings(
        sandbox_database_url=f"sqlite+aiosqlite:///{tmp_path / 'sandbox.sqlite3'}",
        admin_ids=frozenset(),
        metrics_port=0,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
async def started(settings: Settings) -> AsyncIterator[Callable[..., Sandbox]]:
    """Starts sandboxes on this test's database; stops whatever is still running at the end."""
    running: list[Sandbox] = []

    async def start(**options: object) -> Sandbox:
        sandbox = Sandbox(settings, port=0, **options)  # type: ignore[arg-type]
        await sandbox.start()
        running.append(sandbox)
        return sandbox

    yield start  # type: ignore[misc]
    for sandbox in running:
        await sandbox.stop()


async def _person(client: SandboxClient, user_id: int) -> Person:
    users = await client.request("GET", "/control/users")
    return Person(client, next(u for u in users if u["id"] == user_id))


async def _volunteers(settings: Settings) -> tuple[int, int]:
    storage = await open_storage(settings.sandbox_database_url)
    try:
        async with storage.sessionmaker() as session:
            people = await session.scalar(select(func.count()).select_from(Volunteer))
            members = await session.scalar(select(func.count()).select_from(GroupMember))
    finally:
        await storage.engine.dispose()
    return int(people or 0), int(members or 0)


async def test_the_world_and_the_clock_survive_a_restart(
    started: Callable[..., Sandbox], settings: Settings
) -> None:
    first = await started()
    assert await _volunteers(settings) == (5, 5)  # the ready-made people but Tom
    async with SandboxClient(first.url, timeout=30.0) as client:
        amira = await _person(client, AMIRA)
        await amira.send("/start")
        await amira.wait_for_message(lambda m: "أهلاً" in m.text)
        moved = await client.post("/control/clock", advance_seconds=86400)
        assert moved["movable"] is True
    assert first.clock.offset >= timedelta(days=1)
    await first.stop()
    assert world_path(settings.sandbox_database_url).exists()

    second = await started()
    assert second.clock.offset >= timedelta(days=1)
    async with SandboxClient(second.url, timeout=30.0) as client:
        amira = await _person(client, AMIRA)
        shown = await amira.chat_messages()
        assert [m.text for m in shown][:1] == ["/start"] and len(shown) == 2
        await amira.send("/help")  # a new update id: the bot must not take it for a duplicate
        await amira.wait_for_reply()
        groups = [
            c for c in await client.request("GET", "/control/chats") if c["type"] != "private"
        ]
        assert [g["title"] for g in groups] == [COALITION_GROUP]
    assert await _volunteers(settings) == (5, 5)


async def test_reset_starts_afresh(started: Callable[..., Sandbox], settings: Settings) -> None:
    sandbox = await started()
    sandbox.emulator.state.create_user("Extra", user_id=5555)
    await sandbox.stop()
    reset_files(settings.sandbox_database_url)
    assert not world_path(settings.sandbox_database_url).exists()
    again = await started()
    assert 5555 not in again.emulator.state.users
    assert again.clock.offset < timedelta(minutes=1)


async def test_the_demo_registers_a_varied_coalition_once(
    started: Callable[..., Sandbox], settings: Settings
) -> None:
    people = demo_volunteers()
    assert people == demo_volunteers()  # the same set on every start
    profiles = [p.profile for p in people]
    assert {p["language"] for p in profiles} == {"en", "fr", "es", "ar"}
    assert len({p["country"] for p in profiles}) >= 10
    assert any(p["kind"] == "organisation" for p in profiles)
    assert any(p["discreet"] for p in profiles)
    sandbox = await started(demo=True)
    state = sandbox.emulator.state
    assert state.chats[FIRST_DEMO_ID].started
    group = next(c for c in state.chats.values() if c.title == COALITION_GROUP)
    assert len(group.members) == len(PEOPLE) + DEMO_SIZE + 1  # and the bot
    assert await _volunteers(settings) == (5 + DEMO_SIZE, 5 + DEMO_SIZE)
    await sandbox.stop()
    await started(demo=True)
    assert await _volunteers(settings) == (5 + DEMO_SIZE, 5 + DEMO_SIZE)


def test_the_command_line_takes_demo_and_reset() -> None:
    args = parser().parse_args(["sandbox", "--demo", "--reset", "--port", "0"])
    assert (args.demo, args.reset, args.port) == (True, True, 0)


async def test_the_page_labels_a_newcomer_who_registered_as_a_volunteer(
    started: Callable[..., Sandbox],
) -> None:
    """Sandbox finding: Tom stayed "newcomer, not registered yet" on the page (and in the
    banner) after he had registered through the bot; the labels now follow the database."""
    sandbox = await started()
    async with SandboxClient(sandbox.url, timeout=30.0) as client:
        info = await client.request("GET", "/control/page")
        assert info["roles"][str(TOM)] == "newcomer, not registered yet"
        assert info["roles"][str(SAM)] == "organisation representative"
        assert info["roles"][str(COORDINATOR_ID)] == "coordinator"
        tom = await _person(client, TOM)
        await tom.send("/start")
        await tom.wait_for_message(lambda m: "Welcome to" in m.text)
        await tom.press("English")
        await tom.press("An individual")
        await tom.wait_for_message(lambda m: "What name" in m.text)
        await tom.send("Tom")
        await tom.wait_for_message(lambda m: "Which country" in m.text)
        await tom.send("Kenya")
        await tom.press("Translation")
        await tom.press("Done ✔")
        await tom.press("5")
        await tom.press("Done ✔")
        await tom.press("Youth")
        await tom.press("Done ✔")
        await tom.press("No")
        await tom.press("I accept the pledge")
        await tom.press("I agree")
        await tom.wait_for_message(lambda m: "check your answers" in m.text)
        await tom.press("✅ Confirm")
        await tom.wait_for_message(lambda m: "Thank you, Tom" in m.text)
        roles = (await client.request("GET", "/control/page"))["roles"]
        assert roles[str(TOM)] == "volunteer"
        assert await client.request("GET", "/control/roles") == roles
    assert "Tom     id 100006  (volunteer," in banner(sandbox, await sandbox.labels())


async def test_each_label_is_what_the_database_says_the_person_is(storage: Storage) -> None:
    """Promoted, applying, rejected, an organisation, not registered: each as it stands."""
    now = datetime.now(UTC)
    async with storage.sessionmaker() as session, session.begin():
        for user_id, kind, status in (
            (1, "individual", "active"),
            (2, "organisation", "active"),
            (3, "individual", "applicant"),
            (4, "organisation", "rejected"),
            (5, "individual", "active"),
        ):
            profile = {"kind": kind, "display_name": f"P{user_id}", "country": "KE", **PLACE}
            await volunteers.register(
                session,
                user_id,
                profile,
                pledge_accepted_at=now,
                consent_given_at=now,
                status=status,
                now=now,
            )
        await role_store.grant(session, 5, "chair", now)
    async with storage.sessionmaker() as session:
        found = await labels(session, [1, 2, 3, 4, 5, 6, 7], admin_ids=[7])
    assert found == {
        1: "volunteer",
        2: "organisation representative",
        3: "volunteer (applicant)",
        4: "organisation representative (rejected)",
        5: "coordinator",
        6: "newcomer, not registered yet",
        7: "coordinator",
    }


async def test_a_day_moved_on_fires_each_timer_at_its_own_moment(
    started: Callable[..., Sandbox],
) -> None:
    """A sandbox finding: +1 day jumped straight to the end, every timer of the day came
    hours late at once, and those whose grace had passed (the "Still coming?" question: 6 h)
    were dropped, never asked. Each now fires at its moment, in order, none dropped."""
    sandbox = await started()
    running = sandbox.running
    assert running is not None
    now = sandbox.clock.now()
    async with running.dispatcher.services.sessionmaker() as session, session.begin():
        for hours in (20, 2):  # a grace of 6 h: dropped if fired at the day's end
            await timers.schedule(
                session,
                "action_confirm",
                f"sandbox-{hours}",
                now + timedelta(hours=hours),
                now,
                payload={"action_id": 0},
                grace_seconds=6 * 3600,
            )
    await sandbox.advance(86400)
    assert sandbox.clock.now() >= now + timedelta(days=1)
    async with running.dispatcher.services.sessionmaker() as session:
        found = await session.execute(select(Timer.key, Timer.status, Timer.fired_at))
        fired = {key: (status, at) for key, status, at in found if key.startswith("sandbox")}
    assert {key: status for key, (status, _) in fired.items()} == {
        "sandbox-2": timers.DONE,
        "sandbox-20": timers.DONE,
    }
    assert fired["sandbox-2"][1] < fired["sandbox-20"][1]  # in order, each at its moment

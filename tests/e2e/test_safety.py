"""The safety kit end to end (both runtimes): /vanish leaves the groups where the bot may ban
and names the others; an anonymous /report is answered without the coordinator learning who."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from botapi_emulator.client import Group, Person
from storage.coalition import group_store
from storage.models import Volunteer
from tests.e2e.conftest import ChorusUnderTest
from tests.e2e.test_coalition import _db, _member, _says
from tests.e2e.test_decisions_more import until


async def _status(chorus: ChorusUnderTest, group: Group, person: Person) -> str:
    view = await chorus.sandbox.chat(group.id)
    found = [m["status"] for m in view["members"] if m["user"]["id"] == person.id]
    return found[0] if found else "left"


async def test_vanish_leaves_the_groups_then_erases(chorus: ChorusUnderTest) -> None:
    coral = chorus.coordinator
    nina = await chorus.sandbox.create_user("Nina", username="nina_q", language_code="en")
    await _member(chorus, nina, "Nina Quartermaine", username="nina_q")
    await nina.send("/start")
    await _says(nina, "Welcome back")
    admin = await chorus.sandbox.create_group(
        "Coalition", [coral, nina], type="supergroup", bot_admin=True
    )
    plain = await chorus.sandbox.create_group("Media team", [coral, nina], type="supergroup")

    async def both_known(session: AsyncSession) -> bool:
        return {g.chat_id for g in await group_store.active(session)} >= {admin.id, plain.id}

    await until(chorus, both_known, "the bot recorded both groups")
    await nina.send("/vanish")
    await nina.press("🚪 Yes, remove me and erase my data")
    text = await _says(nina, "could not remove you from these groups")
    assert "Media team" in text and "Coalition" not in text
    assert await _status(chorus, admin, nina) == "left"  # out, and free to come back
    assert await _status(chorus, plain, nina) == "member"
    async with _db(chorus) as storage, storage.sessionmaker() as session:
        assert await session.get(Volunteer, nina.id) is None
    # Telegram's "Chorus removed Nina" was posted where the bot removed her, and the bot
    # deleted it (newcomer trial); it may be gone before the page could show it.
    removals = [
        m
        for m in chorus.emulator.state.chats[admin.id].messages.values()
        if (m.service.get("left_chat_member") or {}).get("id") == nina.id
    ]
    assert removals
    await _until_shown(chorus, admin, lambda _: all(m.deleted for m in removals))
    texts = await _texts(chorus, plain)
    assert not any("removed" in t for t in texts)  # not removed there: nothing to delete


async def _texts(chorus: ChorusUnderTest, group: Group) -> list[str]:
    view = await chorus.sandbox.chat(group.id)
    return [
        str((m.get("service") or {}).get("text") or m.get("text") or "") for m in view["messages"]
    ]


async def _until_shown(
    chorus: ChorusUnderTest, group: Group, check: Callable[[list[str]], bool]
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not check(texts := await _texts(chorus, group)):
        assert loop.time() < deadline, f"the group still shows {texts}"
        await asyncio.sleep(0.05)


async def test_an_anonymous_report_is_answered(chorus: ChorusUnderTest) -> None:
    coral = chorus.coordinator
    nina = await chorus.sandbox.create_user("Nina", username="nina_q", language_code="en")
    await _member(chorus, nina, "Nina Quartermaine", username="nina_q")
    await coral.send("/help")  # the bot may only write to people who started it
    await _says(coral, "/report")
    await nina.send("/report")
    await nina.press("A risk")
    await nina.press("🕶 Anonymously")
    await nina.send("A car follows me after the meetings.")
    await _says(nina, "without your name")
    report = await _says(coral, "Report #1")
    assert "A car follows me" in report and "Nina" not in report and "nina_q" not in report
    await coral.press("✍️ Answer")
    await _says(coral, "Type your answer to report #1")
    await coral.send("Thank you. We will walk you home; call Sam tonight.")
    await _says(coral, "is on its way")
    answer = await _says(nina, "The coordinators answered your report #1")
    assert "call Sam tonight" in answer

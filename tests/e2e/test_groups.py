"""A newcomer in a group is welcomed with a private link to register (both runtimes)."""

from __future__ import annotations

from bot.app import open_storage
from tests.e2e.conftest import ChorusUnderTest
from tests.support.coalition import set_membership


async def test_a_newcomer_is_welcomed_once_with_a_link_to_register(
    chorus: ChorusUnderTest,
) -> None:
    coral = chorus.coordinator
    group = await chorus.sandbox.create_group("Coalition square", [coral], bot_admin=True)
    nadia = await chorus.person("Nadia")
    await nadia.join(group)  # Telegram sends a service message and (bot admin) a member update
    welcome = await nadia.wait_for_message(lambda m: "Welcome, Nadia" in (m.text or ""), chat=group)
    assert "?start=group" in (welcome.text or "")
    # Nadia's updates are handled in order: once /start is answered, both arrivals were handled.
    await nadia.send("/start group")
    await nadia.wait_for_message(lambda m: "Welcome to" in (m.text or ""))
    greetings = [
        m for m in await group.messages() if m.from_bot and "Welcome, Nadia" in (m.text or "")
    ]
    assert len(greetings) == 1


async def test_the_welcome_says_membership_is_by_application(chorus: ChorusUnderTest) -> None:
    storage = await open_storage(chorus.database_url)
    try:
        await set_membership(storage, "application", chorus.clock.now())
    finally:
        await storage.engine.dispose()
    coral = chorus.coordinator
    group = await chorus.sandbox.create_group("Coalition square", [coral])
    omar = await chorus.person("Omar")
    await omar.join(group)
    welcome = await omar.wait_for_message(lambda m: "Welcome, Omar" in (m.text or ""), chat=group)
    assert "by application" in (welcome.text or "")

"""Updates: what people do reaches aiogram's get_updates with Telegram's shapes and rules."""

from __future__ import annotations

import asyncio
import socket

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramConflictError

from botapi_emulator import EmulatorState, SandboxClient, SandboxError
from botapi_emulator.emulator import RunningEmulator


async def test_user_message_becomes_an_update(bot: Bot, state: EmulatorState) -> None:
    alice = state.create_user("Alice", language_code="fr")
    state.send_text(alice.id, "/start")

    updates = await bot.get_updates(timeout=0)

    assert len(updates) == 1
    message = updates[0].message
    assert message is not None and message.text == "/start"
    assert message.from_user is not None and message.from_user.language_code == "fr"
    assert message.chat.type == "private" and message.chat.id == alice.id
    assert message.entities is not None
    assert (message.entities[0].type, message.entities[0].length) == ("bot_command", 6)


async def test_long_polling_returns_as_soon_as_a_message_arrives(
    bot: Bot, sandbox: SandboxClient, state: EmulatorState
) -> None:
    alice = await sandbox.create_user("Alice")
    polling = asyncio.create_task(bot.get_updates(timeout=50))  # the emulator's longest
    await asyncio.wait_for(state.poll_waiting.wait(), 30)

    await alice.send("hello")
    # A poll that timed out would come back empty after 50 s: the message ended it (no stopwatch,
    # which a busy machine would fail).
    updates = await asyncio.wait_for(polling, 45)

    assert [u.message.text for u in updates if u.message] == ["hello"]


async def test_long_polling_times_out_empty(bot: Bot) -> None:
    assert await bot.get_updates(timeout=1) == []


async def test_offset_confirms_earlier_updates(bot: Bot, state: EmulatorState) -> None:
    alice = state.create_user("Alice")
    for text in ("one", "two", "three"):
        state.send_text(alice.id, text)

    first = await bot.get_updates(limit=2)
    assert [u.message.text for u in first if u.message] == ["one", "two"]
    again = await bot.get_updates()
    assert len(again) == 3, "unconfirmed updates are delivered again"
    rest = await bot.get_updates(offset=first[-1].update_id + 1)
    assert [u.message.text for u in rest if u.message] == ["three"]
    assert rest[0].update_id == first[-1].update_id + 1
    assert await bot.get_updates(offset=rest[-1].update_id + 1) == []


async def test_allowed_updates_filters_new_updates(bot: Bot, state: EmulatorState) -> None:
    alice = state.create_user("Alice")
    await bot.get_updates(allowed_updates=["callback_query"])
    state.send_text(alice.id, "ignored")

    assert await bot.get_updates() == []
    await bot.get_updates(allowed_updates=[])
    state.send_text(alice.id, "seen")
    assert [u.message.text for u in await bot.get_updates() if u.message] == ["seen"]


async def test_a_newer_get_updates_ends_the_older_with_409(bot: Bot, state: EmulatorState) -> None:
    older = asyncio.create_task(bot.get_updates(timeout=50))
    await asyncio.wait_for(state.poll_waiting.wait(), 30)

    assert await bot.get_updates(timeout=0) == []
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
        await asyncio.wait_for(older, 30)


async def test_webhook_blocks_get_updates(bot: Bot) -> None:
    assert await bot.set_webhook("https://example.org/hook")
    info = await bot.get_webhook_info()
    assert info.url == "https://example.org/hook"

    with pytest.raises(TelegramConflictError, match="webhook is active"):
        await bot.get_updates()
    await bot.delete_webhook(drop_pending_updates=True)
    assert (await bot.get_webhook_info()).url == ""
    assert await bot.get_updates() == []


async def test_group_creation_and_commands_in_groups(bot: Bot, state: EmulatorState) -> None:
    alice, bob = state.create_user("Alice"), state.create_user("Bob")
    group = state.create_group("Coalition", [alice.id, bob.id])
    state.send_text(bob.id, "just chatting", chat_id=group.id)
    state.send_text(bob.id, "/poll@chorus_sandbox_bot Lunch?", chat_id=group.id)

    updates = await bot.get_updates()

    joined = updates[0].my_chat_member
    assert joined is not None and joined.chat.id == group.id and joined.from_user.id == alice.id
    assert (joined.old_chat_member.status, joined.new_chat_member.status) == ("left", "member")
    created = updates[1].message
    assert created is not None and created.group_chat_created
    command = updates[2].message
    assert len(updates) == 3, "privacy mode hides plain group chatter"
    assert command is not None and command.text == "/poll@chorus_sandbox_bot Lunch?"
    assert command.entities is not None
    assert (command.entities[0].type, command.entities[0].length) == ("bot_command", 24)


async def test_admin_bot_sees_everything_and_chat_member_when_allowed(
    bot: Bot, state: EmulatorState
) -> None:
    alice, bob = state.create_user("Alice"), state.create_user("Bob")
    await bot.get_updates(allowed_updates=["message", "chat_member", "my_chat_member"])
    group = state.create_group("Coalition", [alice.id], bot_status="administrator")
    state.add_member(group.id, bob.id)
    state.send_text(bob.id, "hi all", chat_id=group.id)

    kinds = [
        next(k for k in ("my_chat_member", "chat_member", "message") if getattr(u, k))
        for u in await bot.get_updates()
    ]

    assert kinds == ["my_chat_member", "message", "chat_member", "message", "message"]


async def test_chat_member_is_not_sent_by_default(bot: Bot, state: EmulatorState) -> None:
    alice, bob = state.create_user("Alice"), state.create_user("Bob")
    group = state.create_group("Coalition", [alice.id], bot_status="administrator")
    state.add_member(group.id, bob.id)

    updates = await bot.get_updates()

    assert not any(u.chat_member for u in updates)
    joined = [u.message for u in updates if u.message and u.message.new_chat_members]
    assert joined and joined[0].new_chat_members is not None
    assert joined[0].new_chat_members[0].id == bob.id


async def test_block_and_unblock_send_my_chat_member(bot: Bot, state: EmulatorState) -> None:
    alice = state.create_user("Alice")
    state.block_bot(alice.id)
    state.unblock_bot(alice.id)

    updates = await bot.get_updates()

    changes = [u.my_chat_member for u in updates if u.my_chat_member]
    statuses = [(c.old_chat_member.status, c.new_chat_member.status) for c in changes]
    assert statuses == [("member", "kicked"), ("kicked", "member")]
    assert changes[0].chat.type == "private" and changes[0].from_user.id == alice.id


async def test_migration_sends_both_service_messages(bot: Bot, state: EmulatorState) -> None:
    alice = state.create_user("Alice")
    group = state.create_group("Coalition", [alice.id])
    supergroup = state.migrate(group.id)

    messages = [u.message for u in await bot.get_updates() if u.message]

    assert messages[-2].chat.id == group.id and messages[-2].migrate_to_chat_id == supergroup.id
    assert messages[-1].chat.id == supergroup.id
    assert messages[-1].migrate_from_chat_id == group.id


async def test_bot_promoted_removed_and_added_back(
    bot: Bot, sandbox: SandboxClient, state: EmulatorState
) -> None:
    alice = await sandbox.create_user("Alice")
    group = await sandbox.create_group("Coalition", [alice])
    await group.add_bot(admin=True)
    await group.remove_bot()
    await group.add_bot()

    changes = [u.my_chat_member for u in await bot.get_updates() if u.my_chat_member]

    assert [(c.old_chat_member.status, c.new_chat_member.status) for c in changes] == [
        ("left", "member"),
        ("member", "administrator"),
        ("administrator", "left"),
        ("left", "member"),
    ]
    assert all(c.from_user.id == alice.id for c in changes)
    with pytest.raises(SandboxError, match="already member"):
        await group.add_bot()


async def test_a_webhook_is_https_or_on_loopback_and_keeps_its_secret(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="An HTTPS URL must be provided"):
        await bot.set_webhook("http://example.org/hook")
    with pytest.raises(TelegramBadRequest, match="secret token contains unallowed characters"):
        await bot.set_webhook("https://example.org/hook", secret_token="no spaces")
    assert await bot.set_webhook("http://127.0.0.1:9/hook", secret_token="s3cr3t")
    info = await bot.get_webhook_info()
    assert info.url == "http://127.0.0.1:9/hook"
    assert "s3cr3t" not in info.model_dump_json()


async def test_a_refused_webhook_is_retried_and_reported(
    bot: Bot, state: EmulatorState, emulator: RunningEmulator
) -> None:
    """Nothing listens on the webhook's port: the update stays pending, the error is shown,
    and it is posted again and again (with a pause) until deleteWebhook."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert await bot.set_webhook(f"http://127.0.0.1:{port}/hook")
    alice = state.create_user("Alice")
    state.send_text(alice.id, "hello")
    webhooks = emulator.webhooks
    assert webhooks is not None
    async with asyncio.timeout(30):
        await webhooks.wait_for_attempts(2)
    assert {a.error for a in webhooks.attempts} == {"Connection refused"}
    info = await bot.get_webhook_info()
    assert info.pending_update_count == 1
    assert info.last_error_message == "Connection refused" and info.last_error_date is not None
    await bot.delete_webhook()
    assert len(await bot.get_updates(timeout=0)) == 1

"""The adapters' common contract: both runtimes implement the messenger port the same way."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.app import Runtime, create_runtime
from bot.config import Settings
from botapi_emulator.client import SandboxClient
from botapi_emulator.emulator import RunningEmulator, fake_token
from handlers.kernel.ports import (
    BadRequest,
    BotBlocked,
    BotCommand,
    Button,
    ChatMigrated,
    ChatNotFound,
    Conflict,
    MessageGone,
    MessageNotModified,
    MessengerError,
    NotInChat,
    NotStarted,
    RetryAfter,
    TooLong,
    TransientError,
    Unauthorized,
    Unparsable,
    UserDeactivated,
)


def _runtime(name: str, token: str, url: str) -> Runtime:
    settings = Settings(bot_runtime=name, _env_file=None)  # type: ignore[arg-type, call-arg]
    return create_runtime(settings, token, url)


@pytest.fixture(params=["aiogram", "ptb"])
async def runtime(
    request: pytest.FixtureRequest, emulator: RunningEmulator
) -> AsyncIterator[Runtime]:
    """One runtime, connected to the emulator."""
    opened = _runtime(request.param, emulator.token, emulator.url)
    assert await opened.username() == emulator.state.get_me()["username"]
    yield opened
    await opened.close()


async def test_messages_buttons_edits_and_deletes(runtime: Runtime, sandbox: SandboxClient) -> None:
    alice = await sandbox.create_user("Alice")
    await alice.send("/start")
    messenger = runtime.messenger
    keyboard = [[Button("Yes", "x:1"), Button("Site", url="https://example.org")]]
    sent = await messenger.send_message(alice.id, "<b>Hi</b> &amp; welcome", keyboard)
    shown = await alice.last_bot_message()
    assert shown is not None and shown.message_id == sent.message_id
    assert shown.text == "Hi & welcome"
    assert [(b.label, b.data, b.url) for row in shown.buttons for b in row] == [
        ("Yes", "x:1", None),
        ("Site", None, "https://example.org"),
    ]
    await messenger.edit_message(alice.id, sent.message_id, "Edited", None)
    with pytest.raises(MessageNotModified):
        await messenger.edit_message(alice.id, sent.message_id, "Edited", None)
    await messenger.edit_keyboard(alice.id, sent.message_id, [[Button("No", "x:0")]])
    shown = await alice.last_bot_message()
    assert shown is not None and shown.edited and shown.text == "Edited"
    assert shown.labels == ["No"]
    await messenger.delete_message(alice.id, sent.message_id)
    assert await alice.last_bot_message() is None


async def test_button_answers_polls_files_pins_and_menus(
    runtime: Runtime, sandbox: SandboxClient
) -> None:
    alice = await sandbox.create_user("Alice")
    group = await sandbox.create_group("Coalition", [alice], bot_admin=True)
    messenger = runtime.messenger
    sent = await messenger.send_message(group.id, "Vote below", [[Button("Go", "g:1")]])
    listener = await sandbox.create_user("Bob")
    await group.add(listener)
    poll = await messenger.send_poll(
        group.id, "Which day?", ["Mon", "Tue"], anonymous=False, multiple=True
    )
    assert poll.poll_id
    await messenger.stop_poll(group.id, poll.message_id)
    document = await messenger.send_document(group.id, "roster.csv", b"name\nAda\n", "Roster")
    photo = await messenger.send_photo(group.id, "chart.png", _png(), "Chart")
    await messenger.pin_message(group.id, sent.message_id)
    shown = {m.message_id: m for m in await group.messages()}
    assert shown[poll.message_id].poll is not None and shown[poll.message_id].poll.is_closed
    assert shown[document.message_id].document is not None
    assert shown[document.message_id].document.file_name == "roster.csv"
    assert shown[photo.message_id].photo is not None
    assert shown[sent.message_id].pinned
    await messenger.set_commands([BotCommand("help", "Aide")], language="fr", scope="private")
    assert "Aide" in str(await sandbox.commands())


async def test_errors_map_onto_the_same_neutral_errors(
    runtime: Runtime, sandbox: SandboxClient
) -> None:
    messenger = runtime.messenger
    alice = await sandbox.create_user("Alice")
    await alice.send("/start")
    await alice.block_bot()
    with pytest.raises(BotBlocked):
        await messenger.send_message(alice.id, "hello")
    with pytest.raises(ChatNotFound):
        await messenger.send_message(-4242, "hello")
    bob = await sandbox.create_user("Bob")
    await bob.send("/start")
    await sandbox.add_fault("sendMessage", error_code=429, retry_after=7, count=1)
    with pytest.raises(RetryAfter) as limited:
        await messenger.send_message(bob.id, "hello")
    assert limited.value.seconds == 7
    await sandbox.add_fault("sendMessage", error_code=502, count=1)
    with pytest.raises(TransientError):
        await messenger.send_message(bob.id, "hello")
    group = await sandbox.create_group("Old group", [bob])
    supergroup = await group.migrate()
    with pytest.raises(ChatMigrated) as migrated:
        await messenger.send_message(group.id, "hello")
    assert migrated.value.new_chat_id == supergroup.id


ANSWERS: list[tuple[int, str | None, type[MessengerError]]] = [
    (400, "Bad Request: message to edit not found", MessageGone),
    (400, "Bad Request: can't parse entities: unsupported start tag", Unparsable),
    (400, "Bad Request: MESSAGE_TOO_LONG", TooLong),
    (400, "Bad Request: wrong file identifier", BadRequest),
    (401, "Unauthorized", Unauthorized),
    (403, "Forbidden: user is deactivated", UserDeactivated),
    (403, "Forbidden: bot can't initiate conversation with a user", NotStarted),
    (403, "Forbidden: bot was kicked from the supergroup chat", NotInChat),
    (404, "Not Found", Unauthorized),
    (409, "Conflict: terminated by other getUpdates request", Conflict),
    (413, "Request Entity Too Large", TooLong),
    (500, "Internal Server Error", TransientError),
]


@pytest.mark.parametrize(("status", "description", "kind"), ANSWERS)
async def test_every_answer_maps_onto_the_same_neutral_error(
    runtime: Runtime,
    sandbox: SandboxClient,
    status: int,
    description: str,
    kind: type[MessengerError],
) -> None:
    bob = await sandbox.create_user("Bob")
    await bob.send("/start")
    await sandbox.add_fault("sendMessage", error_code=status, description=description, count=1)
    with pytest.raises(MessengerError) as failed:
        await runtime.messenger.send_message(bob.id, "hello")
    assert type(failed.value) is kind
    assert failed.value.chat_id == bob.id


async def test_a_dropped_connection_is_transient(runtime: Runtime, sandbox: SandboxClient) -> None:
    bob = await sandbox.create_user("Bob")
    await bob.send("/start")
    await sandbox.add_fault("sendMessage", action="drop", count=1)
    with pytest.raises(TransientError):
        await runtime.messenger.send_message(bob.id, "hello")


@pytest.mark.parametrize("name", ["aiogram", "ptb"])
async def test_a_token_telegram_rejects_is_unauthorized(
    name: str, emulator: RunningEmulator
) -> None:
    stranger = _runtime(name, fake_token(111), emulator.url)
    try:
        with pytest.raises(Unauthorized):
            await stranger.username()
    finally:
        await stranger.close()


def _png() -> bytes:
    import base64

    return base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    )

"""Edits of messages that are no more: posted anew once, or dropped — never retried forever."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bot.delivery import DeliveryConfig, DeliveryEngine, MessengerTransport
from handlers.kernel.context import Services
from handlers.kernel.ports import ChatMigrated, Keyboard, MessageGone
from storage import outbox
from storage.models import OutboxMessage
from storage.outbox import Outgoing
from tests.support.recording import RecordingMessenger

GROUP, SUPERGROUP = -4001, -100_4001


class Gone(RecordingMessenger):
    """Telegram as after a migration or a deletion: no message may be edited any more."""

    async def edit_message(
        self, chat_id: int, message_id: int, text: str, keyboard: Keyboard | None = None
    ) -> None:
        if chat_id == GROUP:
            raise ChatMigrated(SUPERGROUP, "Bad Request: group chat was upgraded")
        raise MessageGone("Bad Request: message to edit not found")

    async def edit_keyboard(self, chat_id: int, message_id: int, keyboard: Keyboard | None) -> None:
        raise MessageGone("Bad Request: message to edit not found")


async def _rows(services: Services) -> list[tuple[int, str, int | None, str | None]]:
    async with services.sessionmaker() as session:
        rows = await session.execute(
            select(
                OutboxMessage.chat_id,
                OutboxMessage.state,
                OutboxMessage.edit_of,
                OutboxMessage.failure,
            ).order_by(OutboxMessage.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def test_an_edit_of_a_gone_message_is_posted_anew_and_old_chat_edits_dropped(
    services: Services,
) -> None:
    messenger = Gone()
    engine = DeliveryEngine(
        services.sessionmaker,
        MessengerTransport(messenger),
        services.clock,
        DeliveryConfig(retry_base=0.01, flush_interval=0.01),
    )
    now = datetime.now(UTC)
    async with services.sessionmaker() as session, session.begin():
        edits = [
            Outgoing(SUPERGROUP, "Live results", edit_of=4),
            Outgoing(SUPERGROUP, "", edit_of=4, keyboard_only=True),
            Outgoing(GROUP, "Old chat", edit_of=4),
        ]
        await outbox.add_replies(session, edits, now)
        await outbox.recover(session)  # as if a crash came before they were sent
    await engine.drain()
    assert await _rows(services) == [  # the first, delivered, is a reply: deleted once sent
        (SUPERGROUP, "failed", 4, "bad_request"),  # buttons of nothing: dropped
        (GROUP, "failed", 4, "migrated"),  # id 4 of the old chat is not id 4 of the new one
    ]
    assert [m.text for m in messenger.chats[SUPERGROUP]] == ["Live results"]  # posted anew


async def test_a_migration_forgets_the_old_chats_messages(services: Services) -> None:
    now = datetime.now(UTC)
    async with services.sessionmaker() as session, session.begin():
        await outbox.enqueue(
            session,
            [
                Outgoing(GROUP, "Posted"),
                Outgoing(GROUP, "Waiting"),
                Outgoing(GROUP, "E", edit_of=1),
            ],
            purpose="broadcast",
            ref="b1",
            now=now,
        )
        first = await outbox.claim(session, 1, now)
        results = outbox.Results(sent=[(first[0].id, 1)])
        await outbox.record(session, results, now)
        await outbox.chat_migrated(session, GROUP, SUPERGROUP)
        assert await outbox.sent_messages(session, ["b1"]) == []
    assert [(chat, state) for chat, state, _, _ in await _rows(services)] == [
        (GROUP, "sent"),
        (SUPERGROUP, "pending"),
        (GROUP, "stopped"),
    ]

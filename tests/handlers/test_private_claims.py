"""A reply that says something was done privately is sent only once it was done; someone the
bot cannot write to is told to start a private chat first, with a t.me link."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.app import Storage
from handlers.kernel.ports import BotBlocked, NotStarted
from storage.models import UserPreference
from tests.conftest import COORDINATOR_ID
from tests.handlers.test_polls import members
from tests.support.groups import CountingMessenger, Group
from tests.support.recording import Conversation


class WallMessenger(CountingMessenger):
    """Refuses private messages to the people in `walled` (403), as Telegram does."""

    def __init__(self) -> None:
        super().__init__()
        self.walled: dict[int, type[Exception]] = {}

    def _wall(self, chat_id: int) -> None:
        if chat_id in self.walled:
            raise self.walled[chat_id]("Forbidden: bot was blocked by the user")

    async def send_message(self, chat_id: int, *args: Any, **kwargs: Any) -> Any:
        self._wall(chat_id)
        return await super().send_message(chat_id, *args, **kwargs)

    async def send_document(self, chat_id: int, *args: Any, **kwargs: Any) -> Any:
        self._wall(chat_id)
        return await super().send_document(chat_id, *args, **kwargs)


@pytest.fixture
def messenger() -> WallMessenger:
    return WallMessenger()


async def test_a_block_from_someone_the_bot_cannot_write_to_says_how_to_fix_it(
    conversation: Conversation, messenger: WallMessenger, storage: Storage
) -> None:
    group = Group(conversation)
    coral = conversation.person("Coral", user_id=COORDINATOR_ID)
    amira, bilal = await members(conversation, group, "Amira", "Bilal")
    await group.say(coral, "/consensus We co-sign the letter | in 2d")
    messenger.walled[bilal.person.id] = BotBlocked
    toast, alert = await group.press(bilal, "✋ Block")
    assert alert and toast is not None
    assert "asked you privately" not in toast
    assert "I cannot write to you privately yet: open https://t.me/" in toast
    async with storage.sessionmaker() as session:
        rows = (await session.scalars(select(UserPreference))).all()
        assert any(p.user_id == bilal.person.id and p.unreachable_reason for p in rows)
    del messenger.walled[bilal.person.id]
    toast, alert = await group.press(amira, "✋ Block")  # reachable: the claim is true
    assert toast is not None and "asked you privately" in toast
    assert "Please tell me why" in amira.last.text


async def test_an_export_to_someone_who_never_started_the_bot_is_not_claimed(
    conversation: Conversation, messenger: WallMessenger
) -> None:
    group = Group(conversation)
    coral = conversation.person("Coral", user_id=COORDINATOR_ID)
    await group.say(coral, "/poll Venue? | Hall | Park | in 2h")
    messenger.walled[coral.person.id] = NotStarted
    await group.say(coral, "/decisions csv")
    said = group.last.text
    assert "sent you the CSV" not in said
    assert "I cannot write to you privately yet" in said

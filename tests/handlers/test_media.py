"""Messages without text (stickers, photos, locations, voice notes, contacts, files) are never
dropped silently: a dialog says it needs text and asks again; a private chat gets a hint."""

from __future__ import annotations

import pytest

from bot.updates import event_from_update
from handlers.kernel.events import Event, EventKind
from tests.support.groups import Group
from tests.support.recording import Conversation

KINDS = ["sticker", "photo", "location", "voice", "contact", "document", "dice"]


@pytest.mark.parametrize("media", KINDS)
def test_the_event_says_what_a_message_without_text_holds(media: str) -> None:
    update = {
        "update_id": 1,
        "message": {
            "message_id": 5,
            "date": 0,
            "chat": {"id": 7, "type": "private"},
            "from": {"id": 7, "is_bot": False, "first_name": "Lee"},
            media: {},
        },
    }
    event = event_from_update(update)
    assert event is not None and event.kind is EventKind.MESSAGE
    assert event.media == media and event.text is None


@pytest.mark.parametrize(
    ("media", "language", "words"),
    [
        ("sticker", "en", "I can only read text, so I cannot use a sticker."),
        ("location", "fr", "je ne peux donc pas utiliser une position"),
        ("voice", "es", "no puedo usar un mensaje de voz"),
        ("contact", "ar", "جهة اتصال"),
        ("dice", "en", "this kind of message"),
    ],
)
async def test_outside_a_dialog_a_private_chat_gets_a_hint(
    conversation: Conversation, media: str, language: str, words: str
) -> None:
    lee = conversation.person("Lee", language_code=language)
    await lee.send_media(media)
    assert words in lee.last.text and "/help" in lee.last.text


async def test_a_dialog_says_it_needs_text_and_asks_its_question_again(
    conversation: Conversation,
) -> None:
    lee = conversation.person("Lee")
    await lee.send("/start")
    await lee.send_media("sticker")  # "Which language…?": buttons
    assert "use the buttons" in lee.messages[-2].text
    await lee.press("English")
    await lee.press("An individual")
    question = lee.last.text
    assert "What name" in question
    await lee.send_media("photo")
    said = lee.messages[-2].text
    assert "I can only read text here, so I cannot use a photo." in said
    assert "Please type your answer." in said and "buttons" not in said  # it has none
    assert lee.last.text == question
    await lee.send("Lee Kim")  # the dialog goes on where it was
    assert "Which country" in lee.last.text


async def test_in_a_group_people_s_stickers_are_left_to_them(conversation: Conversation) -> None:
    group = Group(conversation)
    lee = conversation.person("Lee")
    before = len(group.messages)
    await conversation.dispatcher.feed(
        Event(
            conversation.next_update_id(),
            EventKind.MESSAGE,
            lee.person,
            group.chat,
            media="sticker",
            message_id=99,
        )
    )
    assert len(group.messages) == before and lee.messages == []

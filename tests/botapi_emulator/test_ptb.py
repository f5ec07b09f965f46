"""python-telegram-bot 22 works against the emulator too."""

from __future__ import annotations

import pytest
from telegram import Bot as PtbBot
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden

from botapi_emulator import EmulatorState, RunningEmulator


async def test_ptb_get_me_send_message_and_get_updates(
    emulator: RunningEmulator, state: EmulatorState
) -> None:
    alice = state.create_user("Alice", language_code="es")
    state.send_text(alice.id, "/start")
    stranger = state.create_user("Bob")

    async with PtbBot(emulator.token, base_url=f"{emulator.url}/bot") as ptb:
        me = await ptb.get_me()
        assert me.id == state.bot.id and me.username == "chorus_sandbox_bot"

        updates = await ptb.get_updates(timeout=0)
        assert updates[0].message is not None and updates[0].message.text == "/start"
        assert updates[0].message.from_user is not None
        assert updates[0].message.from_user.language_code == "es"

        markup = InlineKeyboardMarkup([[InlineKeyboardButton("Sí", callback_data="yes")]])
        sent = await ptb.send_message(
            alice.id, "<i>Hola</i>", parse_mode="HTML", reply_markup=markup
        )
        assert sent.text == "Hola" and sent.entities[0].type == "italic"
        assert state.chats[alice.id].messages[sent.message_id].reply_markup == {
            "inline_keyboard": [[{"text": "Sí", "callback_data": "yes"}]]
        }

        state.send_text(alice.id, "gracias")
        later = await ptb.get_updates(offset=updates[-1].update_id + 1, timeout=1)
        assert [u.message.text for u in later if u.message] == ["gracias"]

        document = await ptb.send_document(alice.id, b"a,b\n", filename="votes.csv")
        assert document.document is not None and document.document.file_name == "votes.csv"
        stored = state.files[document.document.file_id]
        assert stored.data == b"a,b\n" and stored.mime_type == "text/csv"

        with pytest.raises(BadRequest, match=r"(?i)unsupported start tag"):
            await ptb.send_message(alice.id, "<x>", parse_mode="HTML")
        with pytest.raises(Forbidden, match=r"(?i)initiate conversation"):
            await ptb.send_message(stranger.id, "hola")

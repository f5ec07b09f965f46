"""Bot API methods that send, edit and delete messages, polls, files and button answers."""

from __future__ import annotations

from typing import Any

from .api_common import ApiBase, Handler, Params
from .entities import trim
from .errors import (
    CANT_BE_DELETED,
    CANT_BE_EDITED,
    DELETE_NOT_FOUND,
    EDIT_NOT_FOUND,
    NO_TEXT_TO_EDIT,
    NOT_MODIFIED,
    QUERY_TOO_OLD,
    TEXT_MUST_BE_NON_EMPTY,
    ApiError,
    bad_request,
)
from .files import MAX_UPLOAD, store_upload
from .models import Chat, JsonDict, Message, Poll, StoredFile, Upload
from .params import as_bool, as_int, parse_reply_markup

MAX_POLL_PERIOD = 2_628_000
MAX_POLL_DESCRIPTION = 1024  # characters after entity parsing (sendPoll, Bot API 10.1)


class MessageMethods(ApiBase):
    """sendMessage, edits, deleteMessage, answerCallbackQuery, polls, documents and photos."""

    def handlers(self) -> dict[str, Handler]:
        """Returns the methods this class implements, by Bot API name."""
        return {
            "sendMessage": self.send_message,
            "editMessageText": self.edit_message_text,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "editMessageCaption": self.edit_message_caption,
            "deleteMessage": self.delete_message,
            "answerCallbackQuery": self.answer_callback_query,
            "sendPoll": self.send_poll,
            "stopPoll": self.stop_poll,
            "sendDocument": self.send_document,
            "sendPhoto": self.send_photo,
            "getFile": self.get_file,
        }

    def send_message(self, params: Params) -> JsonDict:
        """Sends a text message."""
        chat = self.writable_chat(params)
        text, entities = self.formatted(params, "text")
        preview = params.get("link_preview_options")
        message = self.new_bot_message(
            chat,
            params,
            text=text,
            entities=entities,
            link_preview_options=preview if isinstance(preview, dict) and preview else None,
        )
        return self.state.message_api(message)

    def _editable(self, params: Params, not_found: str = EDIT_NOT_FOUND) -> tuple[Chat, Message]:
        chat = self.writable_chat(params)
        message = self.own_message(chat, params, not_found)
        if message.from_id != self.state.bot.id or message.service:
            raise bad_request(CANT_BE_EDITED)
        return chat, message

    def _save_edit(self, chat: Chat, message: Message, **changes: Any) -> JsonDict:
        self.state.limiter.acquire_edit(chat.id, chat.type)
        for name, value in changes.items():
            setattr(message, name, value)
        message.edit_date = self.state.today()
        self.state.touch(chat, message)
        return self.state.message_api(message)

    def edit_message_text(self, params: Params) -> JsonDict:
        """Edits the text (and the inline keyboard: omitted means removed) of a bot message."""
        chat, message = self._editable(params)
        if message.text is None:
            raise bad_request(NO_TEXT_TO_EDIT)
        text, entities = self.formatted(params, "text", too_long="MESSAGE_TOO_LONG")
        inline, _ = parse_reply_markup(params.get("reply_markup"), inline_only=True)
        if text == message.text and entities == message.entities and inline == message.reply_markup:
            raise bad_request(NOT_MODIFIED)
        changes: dict[str, Any] = {"text": text, "entities": entities, "reply_markup": inline}
        preview = params.get("link_preview_options")
        if isinstance(preview, dict):
            changes["link_preview_options"] = preview or None
        return self._save_edit(chat, message, **changes)

    def edit_message_reply_markup(self, params: Params) -> JsonDict:
        """Replaces (or, without reply_markup, removes) a bot message's inline keyboard."""
        chat, message = self._editable(params)
        inline, _ = parse_reply_markup(params.get("reply_markup"), inline_only=True)
        if inline == message.reply_markup:
            raise bad_request(NOT_MODIFIED)
        return self._save_edit(chat, message, reply_markup=inline)

    def edit_message_caption(self, params: Params) -> JsonDict:
        """Edits the caption of a bot document or photo."""
        chat, message = self._editable(params)
        if message.document_id is None and message.photo_id is None:
            raise bad_request("there is no caption in the message to edit")
        caption, entities = self.caption(params)
        inline, _ = parse_reply_markup(params.get("reply_markup"), inline_only=True)
        unchanged = (caption, entities, inline) == (
            message.caption,
            message.caption_entities,
            message.reply_markup,
        )
        if unchanged:
            raise bad_request(NOT_MODIFIED)
        return self._save_edit(
            chat, message, caption=caption, caption_entities=entities, reply_markup=inline
        )

    def delete_message(self, params: Params) -> bool:
        """Deletes a message (others' messages in groups only as an administrator)."""
        chat = self.resolve_chat(params.get("chat_id"))
        message = self.own_message(chat, params, DELETE_NOT_FOUND)
        state = self.state
        if (
            chat.type != "private"
            and message.from_id != state.bot.id
            and state.bot_status(chat) not in ("administrator", "creator")
        ):
            raise bad_request(CANT_BE_DELETED)
        message.deleted = True
        state.touch(chat, message)
        return True

    def answer_callback_query(self, params: Params) -> bool:
        """Answers a button press once; the control API shows the text or alert.

        A query not answered within `state.callback_query_timeout` seconds (15) of reaching the
        bot has expired: 400 "query is too old and response timeout expired or query ID is
        invalid". (Telegram counts from the press; counting from delivery keeps a slow test
        machine from expiring presses the bot has not even fetched yet.)
        """
        query = self.state.queries.get(str(params.get("callback_query_id", "")))
        if query is None or query.answer is not None:
            raise bad_request(QUERY_TOO_OLD)
        delivered = query.delivered
        if (
            delivered is not None
            and self.state.now() - delivered > self.state.callback_query_timeout
        ):
            raise bad_request(QUERY_TOO_OLD)
        text = params.get("text")
        answer: JsonDict = {
            "callback_query_id": query.id,
            "user_id": query.user_id,
            "message_id": query.message_id,
            "text": text if isinstance(text, str) and text else None,
            "show_alert": as_bool(params.get("show_alert")),
            "url": params.get("url"),
            "cache_time": as_int(params.get("cache_time")),
            "date": self.state.today(),
        }
        query.answer = answer
        query.answered.set()
        chat = self.state.chats.get(query.chat_id)
        if chat is not None:
            chat.answers = [*chat.answers[-19:], answer]
            self.state.touch(chat)
        return True

    def send_poll(self, params: Params) -> JsonDict:
        """Sends a regular or quiz poll (question 1-300, 2-12 options of 1-100 characters)."""
        chat = self.writable_chat(params)
        question, question_entities = self._poll_text(
            params.get("question"), params.get("question_parse_mode"), "question", 300
        )
        options = self._poll_options(params.get("options"))
        kind = params.get("type") or "regular"
        if kind not in ("regular", "quiz"):
            raise bad_request("wrong poll type specified")
        quiz = kind == "quiz"
        correct = self._correct_options(params, len(options)) if quiz else []
        open_period, close_date = self._poll_period(params)
        poll = Poll(
            id=self.state.next_object_id(),
            chat_id=chat.id,
            message_id=chat.next_message_id,
            question=question,
            options=options,
            question_entities=[e for e in question_entities if e["type"] == "custom_emoji"],
            is_anonymous=as_bool(params.get("is_anonymous", True)),
            type=kind,
            allows_multiple_answers=not quiz and as_bool(params.get("allows_multiple_answers")),
            allows_revoting=as_bool(params.get("allows_revoting", not quiz)),
            correct_option_ids=correct,
            explanation=params.get("explanation") if quiz else None,
            open_period=open_period,
            close_date=close_date,
            is_closed=as_bool(params.get("is_closed")),
            hide_results_until_closes=as_bool(params.get("hide_results_until_closes")),
            description=self._poll_description(params),
        )
        self.state.polls[poll.id] = poll
        try:
            message = self.new_bot_message(chat, params, poll_id=poll.id)
        except ApiError:
            del self.state.polls[poll.id]
            raise
        poll.message_id = message.message_id
        self.state.track_poll(poll)
        return self.state.message_api(message)

    def _poll_description(self, params: Params) -> str | None:
        raw = params.get("description")
        if raw is None or raw == "":
            return None
        text, _ = self._parse(str(raw), params.get("description_parse_mode"), None)
        if len(text) > MAX_POLL_DESCRIPTION:
            raise bad_request("poll description is too long")
        return text

    def _poll_text(self, raw: Any, mode: Any, what: str, limit: int) -> tuple[str, list[JsonDict]]:
        if raw is None or raw == "":
            raise bad_request(TEXT_MUST_BE_NON_EMPTY)
        text, entities = self._parse(str(raw), mode, None)
        text, entities = trim(text, entities)
        if not text:
            raise bad_request(TEXT_MUST_BE_NON_EMPTY)
        if len(text) > limit:
            noun = "question length" if what == "question" else "options length"
            raise bad_request(f"poll {noun} must not exceed {limit}")
        return text, entities

    def _poll_options(self, value: Any) -> list[str]:
        if value is None:
            raise bad_request("poll must have at least one answer option")
        if not isinstance(value, list):
            raise bad_request("can't parse options JSON object")
        options = []
        for option in value:
            if isinstance(option, str):
                raw, mode = option, None
            elif isinstance(option, dict) and "text" in option:
                raw, mode = option["text"], option.get("text_parse_mode")
            else:
                raise bad_request(
                    "can't parse InputPollOption: Expected InputPollOption to be an Object"
                )
            options.append(self._poll_text(raw, mode, "option", 100)[0])
        if not options:
            raise bad_request("poll must have at least one answer option")
        if len(options) < 2:
            raise bad_request("poll must have at least 2 option")
        if len(options) > 12:
            raise bad_request("poll can't have more than 12 options")
        return options

    def _correct_options(self, params: Params, count: int) -> list[int]:
        ids = params.get("correct_option_ids")
        if ids is None and params.get("correct_option_id") is not None:
            ids = [params["correct_option_id"]]
        if not isinstance(ids, list) or not ids:
            raise bad_request("wrong correct option ID specified")
        correct = sorted({as_int(i, -1) for i in ids})
        if any(not 0 <= i < count for i in correct):
            raise bad_request("wrong correct option ID specified")
        return correct

    def _poll_period(self, params: Params) -> tuple[int | None, int | None]:
        now = self.state.today()
        if params.get("open_period") is not None:
            period = as_int(params["open_period"])
            if not 5 <= period <= MAX_POLL_PERIOD:
                raise bad_request(f"open_period must be from 5 to {MAX_POLL_PERIOD} seconds")
            return period, now + period
        if params.get("close_date") is not None:
            close = as_int(params["close_date"])
            if not 5 <= close - now <= MAX_POLL_PERIOD:
                raise bad_request(
                    f"close_date must be from 5 to {MAX_POLL_PERIOD} seconds in the future"
                )
            return None, close
        return None, None

    def stop_poll(self, params: Params) -> JsonDict:
        """Closes a poll the bot sent and returns its final state."""
        chat = self.writable_chat(params)
        message = self.own_message(chat, params, "message with poll to stop not found")
        if message.poll_id is None:
            raise bad_request("message is not a poll")
        if message.from_id != self.state.bot.id:
            raise bad_request("poll can't be stopped")
        poll = self.state.polls[message.poll_id]
        if poll.is_closed:
            raise bad_request("poll has already been closed")
        if params.get("reply_markup") is not None:
            message.reply_markup = parse_reply_markup(params["reply_markup"], inline_only=True)[0]
        self.state.close_poll(poll)
        return poll.to_api()

    def send_document(self, params: Params) -> JsonDict:
        """Sends an uploaded file (or a known file_id) as a document."""
        return self._send_file(params, "document")

    def send_photo(self, params: Params) -> JsonDict:
        """Sends an uploaded picture (or a known file_id) as a photo."""
        return self._send_file(params, "photo")

    def _send_file(self, params: Params, kind: str) -> JsonDict:
        chat = self.writable_chat(params)
        stored = self._input_file(params.get(kind), kind)
        caption, caption_entities = self.caption(params)
        fields: dict[str, Any] = {"caption": caption, "caption_entities": caption_entities}
        fields["photo_id" if kind == "photo" else "document_id"] = stored.file_id
        message = self.new_bot_message(chat, params, **fields)
        return self.state.message_api(message)

    def _input_file(self, value: Any, kind: str) -> StoredFile:
        if value is None or value == "":
            raise bad_request(f"there is no {kind} in the request")
        if isinstance(value, Upload):
            if len(value.data) > MAX_UPLOAD:
                raise ApiError(413, "Request Entity Too Large")
            if not value.data:
                raise bad_request("file must be non-empty")
            stored = store_upload(self.state.files, value, kind)
            if kind == "photo" and not stored.width:
                del self.state.files[stored.file_id]
                raise bad_request("IMAGE_PROCESS_FAILED")
            return stored
        if isinstance(value, str):
            known = self.state.files.get(value)
            if known is not None:
                return known
            if value.startswith(("http://", "https://")):
                raise bad_request("failed to get HTTP URL content")
        raise bad_request("wrong file identifier/HTTP URL specified")

    def get_file(self, params: Params) -> JsonDict:
        """Describes a stored file; it downloads from /file/bot<token>/<file_path>."""
        stored = self.state.files.get(str(params.get("file_id", "")))
        if stored is None:
            raise bad_request("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "file_path": stored.file_path,
        }

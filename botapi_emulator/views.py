"""What a chat shows a person: the control API's JSON view of chats and messages."""

from __future__ import annotations

from typing import Any

from .entities import entities_to_html
from .models import Chat, JsonDict, Message, Poll
from .state import EmulatorState


def chat_summary(state: EmulatorState, chat: Chat) -> JsonDict:
    """Returns a chat's identity and version."""
    if chat.type == "private":
        name = state.users[chat.user_id or chat.id].full_name
    else:
        name = chat.title or ""
    return {
        "id": chat.id,
        "type": chat.type,
        "title": name,
        "username": chat.username,
        "user_id": chat.user_id,
        "version": chat.version,
        "migrated_to": chat.migrated_to,
        "migrated_from": chat.migrated_from,
        "bot_status": state.bot_status(chat),
        "started": chat.started,
        "is_forum": chat.is_forum,
        "linked_chat_id": chat.linked_chat_id,
    }


def chat_view(state: EmulatorState, chat: Chat) -> JsonDict:
    """Returns everything the chat shows: messages (deleted ones omitted), keyboard, members."""
    return {
        "chat": chat_summary(state, chat),
        "version": chat.version,
        "messages": [message_view(state, m) for m in chat.live_messages()],
        "keyboard": chat.keyboard,
        "members": [
            {"user": state.user_api(m.user_id), "status": m.status, "is_anonymous": m.is_anonymous}
            for m in chat.members.values()
        ],
        "topics": [topic.to_api() for topic in chat.topics.values()],
        "callback_answers": list(chat.answers),
        "blocked": chat.blocked,
    }


def message_view(state: EmulatorState, message: Message) -> JsonDict:
    """Returns one message as a person sees it."""
    sender = state.users[message.from_id]
    chat = state.chats[message.chat_id]
    thread_id = state.thread_of(chat, message)
    topic = chat.topics.get(message.thread_id) if message.thread_id is not None else None
    sender_chat = state.chats.get(message.sender_chat_id) if message.sender_chat_id else None
    view: JsonDict = {
        "message_id": message.message_id,
        "chat_id": message.chat_id,
        "version": message.version,
        "date": message.date,
        "from": {
            "id": sender.id,
            "name": sender.full_name,
            "username": sender.username,
            "is_bot": sender.is_bot,
        },
        "text": message.text,
        "html": entities_to_html(message.text, message.entities) if message.text else None,
        "entities": message.entities,
        "caption": message.caption,
        "caption_html": (
            entities_to_html(message.caption, message.caption_entities) if message.caption else None
        ),
        "buttons": [
            [_button_view(b) for b in row]
            for row in (message.reply_markup or {}).get("inline_keyboard", [])
        ],
        "keyboard": message.keyboard,
        "edited": message.edit_date is not None,
        "edit_date": message.edit_date,
        "reply_to_message_id": message.reply_to,
        "pinned": message.pinned,
        "service": _service_text(state, message) if message.service else None,
        "poll": _poll_view(state.polls[message.poll_id]) if message.poll_id else None,
        "document": None,
        "photo": None,
        "message_thread_id": thread_id,
        "is_topic_message": message.thread_id is not None,
        "topic": topic.name if topic is not None else ("General" if chat.is_forum else None),
        "sender_chat": (
            {"id": sender_chat.id, "title": sender_chat.title, "type": sender_chat.type}
            if sender_chat is not None
            else None
        ),
        "automatic_forward": message.forward_origin is not None,
        "media": _media_view(state, message.media) if message.media else None,
    }
    if message.document_id is not None:
        stored = state.files[message.document_id]
        view["document"] = {
            **state.document_api(stored),
            "url": f"/control/files/{stored.file_id}",
        }
    if message.photo_id is not None:
        stored = state.files[message.photo_id]
        view["photo"] = {**state.photo_api(stored), "url": f"/control/files/{stored.file_id}"}
    return view


def _media_view(state: EmulatorState, media: JsonDict) -> JsonDict:
    """Returns {"kind", the Bot API object, "url" of its file (the largest photo)}."""
    kind, value = next(iter(media.items()))
    view: JsonDict = {"kind": kind, kind: value}
    item = value[-1] if isinstance(value, list) else value
    file_id = item.get("file_id") if isinstance(item, dict) else None
    if file_id is not None and file_id in state.files:
        view["url"] = f"/control/files/{file_id}"
    return view


def _button_view(button: JsonDict) -> JsonDict:
    view: JsonDict = {"text": button.get("text", "")}
    for key in ("callback_data", "url"):
        if key in button:
            view[key] = button[key]
    return view


def _poll_view(poll: Poll) -> JsonDict:
    """What the chat shows of a poll; with results hidden until the close (Bot API 10.1), no
    counts and no voters while it is open: only how many have voted."""
    hidden = poll.results_hidden
    counts = [0] * len(poll.options) if hidden else poll.counts()
    view: JsonDict = {
        "id": poll.id,
        "question": poll.question,
        "options": [
            {"text": t, "voter_count": c} for t, c in zip(poll.options, counts, strict=True)
        ],
        "total_voter_count": sum(1 for choice in poll.votes.values() if choice),
        "is_closed": poll.is_closed,
        "is_anonymous": poll.is_anonymous,
        "type": poll.type,
        "allows_multiple_answers": poll.allows_multiple_answers,
        "allows_revoting": poll.allows_revoting,
        "close_date": poll.close_date,
        "results_hidden": hidden,
        "description": poll.description,
        "votes": {} if hidden else {str(u): list(c) for u, c in poll.votes.items()},
    }
    return view


def _service_text(state: EmulatorState, message: Message) -> JsonDict:
    service = message.service
    actor = state.users[message.from_id].full_name
    text: str
    if service.get("group_chat_created"):
        text = f"{actor} created the group"
    elif "new_chat_members" in service:
        names = ", ".join(_name(u) for u in service["new_chat_members"])
        joined = [u["id"] for u in service["new_chat_members"]] == [message.from_id]
        text = f"{names} joined the group" if joined else f"{actor} added {names}"
    elif "left_chat_member" in service:
        left = service["left_chat_member"]
        gone = left["id"] == message.from_id
        text = f"{_name(left)} left the group" if gone else f"{actor} removed {_name(left)}"
    elif "migrate_to_chat_id" in service:
        text = f"The group was upgraded to a supergroup ({service['migrate_to_chat_id']})"
    elif "migrate_from_chat_id" in service:
        text = f"Upgraded from the group {service['migrate_from_chat_id']}"
    elif "pinned_message" in service:
        text = f"{actor} pinned a message"
    elif "forum_topic_created" in service:
        text = f"{actor} created the topic {service['forum_topic_created']['name']}"
    elif service.get("channel_chat_created"):
        text = "Channel created"
    else:
        text = ", ".join(sorted(service))
    return {"text": text, **service}


def _name(user: dict[str, Any]) -> str:
    last = user.get("last_name")
    return f"{user['first_name']} {last}" if last else str(user["first_name"])

"""What the test client reads: messages, buttons, polls, files and answers as a chat shows them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .models import visible

JsonDict = dict[str, Any]


class SandboxError(Exception):
    """The control API refused a request."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Button:
    """An inline button: its label and callback data or URL."""

    label: str
    data: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class SandboxPoll:
    """A poll as a chat shows it."""

    id: str
    question: str
    options: list[str]
    counts: list[int]
    total_voter_count: int
    is_closed: bool
    is_anonymous: bool
    type: str
    allows_multiple_answers: bool
    votes: dict[int, list[int]]  # who chose what, as the chat shows it ({} while hidden)
    results_hidden: bool = False  # hide_results_until_closes, while the poll is open
    description: str | None = None
    allows_revoting: bool = True


@dataclass(frozen=True)
class SandboxFile:
    """A document or photo the bot sent; `url` is relative to the emulator."""

    file_id: str
    file_name: str | None
    mime_type: str | None
    file_size: int
    url: str


@dataclass(frozen=True)
class CallbackAnswer:
    """What the bot answered to a button press (answerCallbackQuery)."""

    text: str | None
    show_alert: bool
    url: str | None


@dataclass(frozen=True)
class SandboxMessage:
    """A message as the chat shows it (deleted messages never appear)."""

    message_id: int
    chat_id: int
    version: int
    from_id: int
    from_bot: bool
    text: str
    html: str
    caption: str | None
    buttons: list[list[Button]]
    edited: bool
    pinned: bool
    reply_to_message_id: int | None
    service: str | None
    poll: SandboxPoll | None
    document: SandboxFile | None
    photo: SandboxFile | None
    raw: JsonDict = field(repr=False, compare=False)
    message_thread_id: int | None = None
    is_topic_message: bool = False
    topic: str | None = None
    sender_chat_id: int | None = None
    media_kind: str | None = None
    media: JsonDict | None = None

    @property
    def anonymous(self) -> bool:
        """True when sent on behalf of a chat (anonymous admin, channel) rather than a person."""
        return self.sender_chat_id is not None

    @property
    def labels(self) -> list[str]:
        """Returns every button label, row by row."""
        return [button.label for row in self.buttons for button in row]

    def button(self, label: str) -> Button:
        """Returns the button with this label (KeyError if absent)."""
        for row in self.buttons:
            for button in row:
                if visible(button.label) == visible(label):
                    return button
        raise KeyError(f"no button {label!r} on message {self.message_id}: {self.labels}")

    @classmethod
    def from_view(cls, view: JsonDict) -> SandboxMessage:
        """Builds a message from the control API's message view."""
        poll = view.get("poll")
        service = view.get("service")
        media = view.get("media")
        return cls(
            message_id=view["message_id"],
            chat_id=view["chat_id"],
            version=view["version"],
            from_id=view["from"]["id"],
            from_bot=view["from"]["is_bot"],
            text=view.get("text") or view.get("caption") or "",
            html=view.get("html") or view.get("caption_html") or "",
            caption=view.get("caption"),
            buttons=[
                [Button(b["text"], b.get("callback_data"), b.get("url")) for b in row]
                for row in view.get("buttons", [])
            ],
            edited=view["edited"],
            pinned=view["pinned"],
            reply_to_message_id=view.get("reply_to_message_id"),
            service=service["text"] if service else None,
            poll=_poll(poll) if poll else None,
            document=_file(view.get("document")),
            photo=_file(view.get("photo")),
            raw=view,
            message_thread_id=view.get("message_thread_id"),
            is_topic_message=bool(view.get("is_topic_message")),
            topic=view.get("topic"),
            sender_chat_id=(view.get("sender_chat") or {}).get("id"),
            media_kind=media["kind"] if media else None,
            media=media[media["kind"]] if media else None,
        )


def _poll(data: JsonDict) -> SandboxPoll:
    return SandboxPoll(
        id=data["id"],
        question=data["question"],
        options=[o["text"] for o in data["options"]],
        counts=[o["voter_count"] for o in data["options"]],
        total_voter_count=data["total_voter_count"],
        is_closed=data["is_closed"],
        is_anonymous=data["is_anonymous"],
        type=data["type"],
        allows_multiple_answers=data["allows_multiple_answers"],
        votes={int(uid): choice for uid, choice in data.get("votes", {}).items()},
        results_hidden=bool(data.get("results_hidden")),
        description=data.get("description"),
        allows_revoting=bool(data.get("allows_revoting", True)),
    )


def _file(data: JsonDict | None) -> SandboxFile | None:
    if not data:
        return None
    return SandboxFile(
        data["file_id"],
        data.get("file_name"),
        data.get("mime_type"),
        data["file_size"],
        data["url"],
    )

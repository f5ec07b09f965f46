"""What a handler gets for one update: the event, a database session, a translator, replies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.kernel.coalesce import EditCoalescer
from handlers.kernel.events import Event
from handlers.kernel.i18n import Translator, translator
from handlers.kernel.ports import Clock, Forbidden, Keyboard, Messenger
from storage import dialogs, outbox, timers
from storage.models import DialogState, Volunteer
from storage.outbox import Outgoing
from storage.retention import RetentionPolicy

AfterCommit = Callable[[Messenger], Awaitable[None]]


class Wakeable(Protocol):
    """Something to nudge after commit: the scheduler (timers changed) or the delivery engine."""

    def wake(self) -> None:
        """New work may be waiting."""
        ...


class _Idle:
    def wake(self) -> None:
        """Nothing to wake (tests that run timers and the outbox by hand)."""


@dataclass(slots=True)
class Reply:
    """A message the person must see (a new one, or an edit of one), queued by `Context.send`
    and `Context.edit`. The dispatcher records it in the outbox in the update's transaction
    and sends it right after commit; a crash in between sends it at the next start."""

    message: Outgoing
    claimed: outbox.Claimed | None = None  # its outbox row, once recorded

    async def __call__(self, messenger: Messenger) -> None:
        """Sends it directly (no delivery engine: handler tests)."""
        message = self.message
        if message.edit_of is None:
            await messenger.send_message(
                message.chat_id, message.text, message.keyboard, thread_id=message.thread_id
            )
        elif message.keyboard_only:
            await messenger.edit_keyboard(message.chat_id, message.edit_of, message.keyboard)
        else:
            await messenger.edit_message(
                message.chat_id, message.edit_of, message.text, message.keyboard
            )


class ReplySender(Wakeable, Protocol):
    """The delivery engine, as the dispatcher sees it: it sends recorded replies."""

    async def send_reply(self, item: outbox.Claimed) -> None:
        """Sends a recorded reply now, paced; keeps it until delivered or refused for good."""
        ...


@dataclass(frozen=True, slots=True)
class HandlerSettings:
    """The settings handlers need, taken from the bot's configuration."""

    admin_ids: frozenset[int] = frozenset()
    default_locale: str = "en"
    default_timezone: str = "UTC"
    bot_username: str = "chorus_bot"
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)


@dataclass(slots=True)
class Services:
    """Long-lived things shared by every update."""

    sessionmaker: async_sessionmaker[AsyncSession]
    messenger: Messenger
    clock: Clock
    settings: HandlerSettings
    scheduler: Wakeable = field(default_factory=_Idle)
    delivery: Wakeable = field(default_factory=_Idle)
    edits: EditCoalescer = field(default_factory=EditCoalescer)  # live-result edits, per message
    started_at: datetime | None = None  # this process's start: a timer due before it was missed
    # because the bot was down (None: unknown, never said)
    # sessions for work that only reads, kept from blocking writers (storage.create_read_
    # sessionmaker; None: the update sessions')
    reads: async_sessionmaker[AsyncSession] | None = None

    def read_session(self) -> AsyncSession:
        """A session for work that only reads: it never holds the write lock (issue 17)."""
        return (self.reads or self.sessionmaker)()


class NotYet(Exception):
    """Raised by a handler for an update that refers to something not committed yet (an answer
    to a native poll whose decision is still being recorded): the update's transaction is rolled
    back and the dispatcher hands it over again a little later (see Dispatcher.feed), a bounded
    number of times; on the last try `Context.may_defer` is False and the handler decides."""


@dataclass(slots=True)
class Context:
    """One update being handled. Replies are sent after the transaction commits."""

    event: Event
    session: AsyncSession
    services: Services
    t: Translator
    volunteer: Volunteer | None
    roles: frozenset[str]
    dialog: DialogState | None
    args: str = ""
    outbox: list[AfterCommit] = field(default_factory=list)
    answered: bool = False
    may_defer: bool = True  # whether raising NotYet gets the update handed over again

    @property
    def settings(self) -> HandlerSettings:
        """The bot's settings."""
        return self.services.settings

    @property
    def user_id(self) -> int:
        """Who acted."""
        return self.event.user.id

    @property
    def chat_id(self) -> int:
        """Where they acted."""
        return self.event.chat.id

    def now(self) -> datetime:
        """The current time, from the one injectable clock."""
        return self.services.clock.now()

    def use_locale(self, locale: str) -> None:
        """Switches the language of the replies that follow."""
        self.t = translator(locale)

    def after_commit(self, action: AfterCommit) -> None:
        """Runs `action` with the messenger once the transaction has committed."""
        self.outbox.append(action)

    def send(
        self,
        chat_id: int,
        text: str,
        keyboard: Keyboard | None = None,
        *,
        thread_id: int | None = None,
    ) -> None:
        """Sends a message to a chat after commit (recorded with the change: see Reply). In the
        chat of the update, it goes to the update's forum topic unless `thread_id` names one."""
        if thread_id is None and chat_id == self.chat_id:
            thread_id = self.event.thread_id
        self.after_commit(Reply(Outgoing(chat_id, text, keyboard, thread_id=thread_id)))

    def reply(self, text: str, keyboard: Keyboard | None = None) -> None:
        """Answers in the chat the update came from."""
        self.send(self.chat_id, text, keyboard)

    def edit(self, text: str, keyboard: Keyboard | None = None) -> None:
        """Replaces the message whose button was pressed."""
        message_id = self.event.message_id
        if message_id is None:
            self.reply(text, keyboard)
            return
        self.after_commit(Reply(Outgoing(self.chat_id, text, keyboard, edit_of=message_id)))

    def edit_keyboard(self, keyboard: Keyboard | None) -> None:
        """Replaces the buttons of the message whose button was pressed."""
        message_id = self.event.message_id
        if message_id is None:
            return
        self.edit_keyboard_of(self.chat_id, message_id, keyboard)

    def edit_keyboard_of(self, chat_id: int, message_id: int, keyboard: Keyboard | None) -> None:
        """Replaces the buttons of a message the bot sent (a reply: recorded with this update's
        change, sent right after its commit)."""
        self.after_commit(
            Reply(Outgoing(chat_id, "", keyboard, edit_of=message_id, keyboard_only=True))
        )

    def privately(
        self,
        send: AfterCommit,
        done: str,
        *,
        alert: bool = False,
        unreachable: str | None = None,
    ) -> None:
        """After commit, runs `send` (a message to this person's private chat, sent directly),
        then says `done` — as the answer to the pressed button, or in the chat of the command.
        If Telegram refuses the private message (the person never started the bot, or blocked
        it), says `unreachable` instead (default: how to start a private chat first, with a
        t.me link): a reply claims only what was done. The 403 is then recorded as usual."""
        callback_id = self.event.callback_id
        if callback_id is not None:
            self.answered = True  # answered after the send, below
        chat_id, thread_id, t = self.chat_id, self.event.thread_id, self.t
        refused = unreachable or t("errors.start_private_first", link=self.private_link())

        async def _say(messenger: Messenger, text: str, as_alert: bool) -> None:
            if callback_id is not None:
                await messenger.answer_button(callback_id, text, as_alert)
            else:
                await messenger.send_message(chat_id, text, thread_id=thread_id)

        async def _privately(messenger: Messenger) -> None:
            try:
                await send(messenger)
            except Forbidden:
                await _say(messenger, refused, True)
                raise
            await _say(messenger, done, alert)

        self.after_commit(_privately)

    def private_link(self) -> str:
        """The t.me link that opens a private chat with the bot."""
        return f"https://t.me/{self.settings.bot_username}"

    def answer(self, text: str | None = None, *, alert: bool = False) -> None:
        """Acknowledges the pressed button (once), with an optional toast or alert."""
        callback_id = self.event.callback_id
        if callback_id is None or self.answered:
            return
        self.answered = True

        async def _answer(messenger: Messenger) -> None:
            await messenger.answer_button(callback_id, text, alert)

        self.outbox.insert(0, _answer)

    async def schedule(
        self,
        kind: str,
        key: str,
        due_at: datetime,
        *,
        chat_id: int | None = None,
        payload: dict[str, Any] | None = None,
        grace_seconds: int | None = None,
    ) -> None:
        """Creates or moves the timer `kind`/`key`; its handler runs at `due_at`."""
        await timers.schedule(
            self.session,
            kind,
            key,
            due_at,
            self.now(),
            chat_id=chat_id,
            payload=payload,
            grace_seconds=grace_seconds,
        )
        self._wake_after_commit(self.services.scheduler)

    async def superseded(self, key_prefix: str) -> bool:
        """In a timer's handler: whether a later timer of the same kind for the same thing (key
        starting with `key_prefix`) is overdue too. The late-timer policy: of overdue timers of
        one thing (after downtime or a clock move), only the latest is sent; one no longer
        useful is dropped (its grace, or its handler's own check); "late" is said only when the
        bot was really down (`payload["offline"]`)."""
        payload = self.event.payload or {}
        return await timers.superseded(
            self.session, self.event.data or "", str(payload.get("key", "")), key_prefix, self.now()
        )

    async def cancel_timers(self, kind: str, key_prefix: str) -> None:
        """Cancels pending timers of `kind` whose key starts with `key_prefix`."""
        if await timers.cancel(self.session, kind, key_prefix):
            self._wake_after_commit(self.services.scheduler)

    async def enqueue(
        self,
        messages: list[Outgoing],
        *,
        purpose: str,
        ref: str | None = None,
        not_before: datetime | None = None,
    ) -> int:
        """Queues messages for paced delivery, in this transaction; returns how many."""
        count = await outbox.enqueue(
            self.session, messages, purpose=purpose, ref=ref, now=self.now(), not_before=not_before
        )
        if count:
            self._wake_after_commit(self.services.delivery)
        return count

    async def enqueue_each(
        self, messages: Select[int, str, Any, datetime | None], *, purpose: str, ref: str | None
    ) -> int:
        """Queues the messages of a storage query — (chat id, text, stored keyboard, not
        before), computed by the database: a broadcast to an audience — in this transaction;
        returns how many."""
        count = await outbox.enqueue_each(
            self.session, messages, purpose=purpose, ref=ref, now=self.now()
        )
        if count:
            self._wake_after_commit(self.services.delivery)
        return count

    async def schedule_each(
        self, kind: str, dues: Select[int, datetime], *, grace_seconds: int | None = None
    ) -> None:
        """`schedule` for each (chat id, due at) of a storage query (key: the chat id), in one
        upsert."""
        if await timers.schedule_each(
            self.session, kind, dues, self.now(), grace_seconds=grace_seconds
        ):
            self._wake_after_commit(self.services.scheduler)

    def _wake_after_commit(self, target: Wakeable) -> None:
        async def _wake(_: Messenger) -> None:
            target.wake()

        self.after_commit(_wake)

    async def set_dialog(self, flow: str, step: str, data: dict[str, Any] | None = None) -> None:
        """Moves this person's dialog in this chat to `step` (stored in this transaction)."""
        self.dialog = await dialogs.save(
            self.session, self.user_id, self.chat_id, flow, step, data or {}, self.now()
        )

    async def clear_dialog(self) -> None:
        """Ends this person's dialog in this chat."""
        await dialogs.clear(self.session, self.user_id, self.chat_id)
        self.dialog = None

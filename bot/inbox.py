"""Updates are written down before Telegram is told to forget them (both runtimes).

With long polling, the next getUpdates (offset past an update) confirms it: Telegram never
sends it again. Each runtime therefore records every update it received in the inbox
(storage/inbox.py) before it asks for more — aiogram records each getUpdates batch in one small
transaction as its answer comes back (`receive_batch`, before its polling loop sees it), PTB's
update queue records each answer likewise when PTB's Updater puts the answer's last update,
before the Updater advances the offset (bot/ptb_runtime.py) — and only then hands it to the
dispatcher, in a task of its own. The handling
transaction deletes the row; after a crash, `replay` handles what is left before polling starts.
The processed-update claim (storage/updates.py) keeps a replayed update from counting twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from bot.updates import event_from_update, storable_update
from handlers.kernel.dispatch import Dispatcher
from handlers.kernel.events import Event
from storage import inbox

log = logging.getLogger(__name__)
T = TypeVar("T")


class Inbox:
    """The runtimes' side of the inbox: record an update, hand it over, replay after a crash."""

    GROUP_MOST = 100  # updates written together by a webhook's group commit

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        # Webhook requests waiting for their update to be written, and the task writing them.
        self._waiting: list[tuple[Mapping[str, Any], asyncio.Future[Event | None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def record(self, update: Mapping[str, Any]) -> Event | None:
        """Writes a Bot API Update (JSON) to the inbox and returns its event; None (nothing
        written) for an update Chorus does not use, or cannot read or keep (logged; see
        `_to_keep`). Raises what the database raised: the runtime must then not confirm the
        update."""
        kept = _to_keep(update)
        if kept is None:
            return None
        stored, event = kept
        services = self.dispatcher.services
        async with services.sessionmaker() as session, session.begin():
            await inbox.add(session, event.update_id, event.user.id, stored, services.clock.now())
        return event

    async def record_batch(self, updates: Sequence[Mapping[str, Any]]) -> list[Event]:
        """`record` for a whole getUpdates batch, in one transaction and one statement (a storm
        brings up to 100 updates a batch); returns the events of the updates Chorus uses, in
        order."""
        return [event for event in await self.record_many(updates) if event is not None]

    async def record_many(self, updates: Sequence[Mapping[str, Any]]) -> list[Event | None]:
        """`record` for several updates in one transaction and one statement: the event of
        each update, in order (None for one Chorus does not use, or cannot read or keep:
        left out, so that it never fails the others' write); an update given twice is written
        once."""
        events: list[Event | None] = []
        rows: dict[int, dict[str, Any]] = {}
        now = self.dispatcher.services.clock.now()
        for update in updates:
            kept = _to_keep(update)
            if kept is None:
                events.append(None)
                continue
            stored, event = kept
            events.append(event)
            rows[event.update_id] = {
                "update_id": event.update_id,
                "user_id": event.user.id,
                "payload": stored,
                "received_at": now,
            }
        if rows:
            async with self.dispatcher.services.sessionmaker() as session, session.begin():
                await inbox.add_many(session, list(rows.values()))
        return events

    async def record_surely(self, update: Mapping[str, Any]) -> Event | None:
        """`record`, tried again (0.1 s, 0.2 s, … up to 2 s apart) until the database takes it:
        the polling waits meanwhile, so nothing unrecorded is ever confirmed."""
        return await _surely(lambda: self.record(update), update.get("update_id"))

    async def record_within(self, update: Mapping[str, Any], seconds: float) -> Event | None:
        """`record`, tried again for at most `seconds`; then raises what the database raised.
        A webhook answers an error then, and Telegram sends the update again later."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        delay = 0.1
        while True:
            try:
                return await self.record(update)
            except Exception:
                if loop.time() + delay > deadline:
                    raise
                log.exception("could not record update %s; trying again", update.get("update_id"))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def accept(self, update: Mapping[str, Any], within: float) -> None:
        """The webhook's `receive`: records the update (within `within` seconds, or raises;
        together with those of the requests that arrive meanwhile), then handles it in a task
        of its own. Returns once recorded: the 200 may go."""
        work = asyncio.ensure_future(self._take_within(update, within))
        self.dispatcher.track(work)
        await asyncio.shield(work)

    async def _take_within(self, update: Mapping[str, Any], within: float) -> None:
        event = await self._record_grouped(update, within)
        if event is not None:  # recorded alone (its group's write failed): handed over alone,
            # behind those of its person written before it and waiting for a chunk
            self.dispatcher.hand_over([event])

    async def _record_grouped(self, update: Mapping[str, Any], within: float) -> Event | None:
        """`record_within`, as a group commit: the updates of the requests that arrive while
        one write is under way are written together by the next (one transaction, one
        statement), so a storm of webhook requests costs a write per group, not per update; a
        lone request is written at once. A group written is handed over as a batch
        (Dispatcher.hand_over, which joins it to what waits for a chunk): None then. If a
        group's write fails, each of its requests tries again alone, for the rest of its
        `within` seconds, and gets its event."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        written: asyncio.Future[Event | None] = loop.create_future()
        self._waiting.append((update, written))
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._write_waiting())
            self.dispatcher.track(self._writer)
        try:
            return await written
        except Exception:
            log.exception("could not record update %s; trying again", update.get("update_id"))
            return await self.record_within(update, max(0.0, within - (loop.time() - started)))

    async def _write_waiting(self) -> None:
        while self._waiting:
            group = self._waiting[: self.GROUP_MOST]
            del self._waiting[: self.GROUP_MOST]
            try:
                events = await self.record_many([update for update, _ in group])
            except Exception as exc:
                for _, written in group:
                    if not written.done():
                        written.set_exception(exc)
                continue
            taken = [event for event in events if event is not None]
            if taken:
                self.dispatcher.hand_over(taken)
            for _, written in group:
                if not written.done():
                    written.set_result(None)

    async def receive(self, update: Mapping[str, Any]) -> None:
        """Records an update, then handles it in a task of its own (the polling goes on).

        A stop cancels the polling, not the write: an SQLite call cancelled halfway would leave
        its worker thread holding the lock. The dispatcher's drain waits for the write and for
        the handling it starts."""
        work = asyncio.ensure_future(self._take(update))
        self.dispatcher.track(work)
        await asyncio.shield(work)

    async def _take(self, update: Mapping[str, Any]) -> None:
        event = await self.record_surely(update)
        if event is not None:
            self.dispatcher.spawn(event)

    async def receive_batch(self, updates: Sequence[Mapping[str, Any]]) -> None:
        """`receive` for a whole getUpdates batch: recorded in one transaction (tried again
        until the database takes it), then handled in a task of its own, in order, as few
        transactions as may be (Dispatcher.feed_batch).
        A stop cancels the polling, not the write (as in `receive`)."""
        work = asyncio.ensure_future(self._take_batch(updates))
        self.dispatcher.track(work)
        await asyncio.shield(work)

    async def _take_batch(self, updates: Sequence[Mapping[str, Any]]) -> None:
        first = updates[0].get("update_id") if updates else None
        events = await _surely(lambda: self.record_batch(updates), first)
        if events:
            self.dispatcher.spawn_batch(events)

    async def replay(self) -> int:
        """Handles, in order, the updates a crash left received but not handled; returns how
        many."""
        services = self.dispatcher.services
        async with services.sessionmaker() as session:
            waiting = await inbox.waiting(session)
        if waiting:
            log.warning(
                "%s updates were received but not handled when Chorus stopped: handling them now",
                len(waiting),
            )
        for update in waiting:
            event = event_from_update(update)
            if event is not None:
                await self.dispatcher.feed(event)
        return len(waiting)


def _to_keep(update: Mapping[str, Any]) -> tuple[dict[str, Any], Event] | None:
    """What the inbox keeps of an update (bot/updates.py `storable_update`: lone surrogates
    replaced by U+FFFD) and its event, read from that; None for an update Chorus does not use,
    and for one it cannot read or keep (an update_id outside 1..2**63-1, an id no BIGINT
    holds, a field missing): that one is logged and dropped, as the webhook drops it, since
    asking Telegram for it again would bring the same update."""
    try:
        stored = storable_update(update)
        event = event_from_update(stored)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        log.error("update %r cannot be read (%r): dropped", update.get("update_id"), exc)
        return None
    if event is None or event.from_bot:
        return None
    return dict(stored), event


async def _surely(write: Callable[[], Awaitable[T]], update_id: Any) -> T:
    """`write`, tried again (0.1 s, 0.2 s, … up to 2 s apart) until the database takes it."""
    delay = 0.1
    while True:
        try:
            return await write()
        except Exception:
            log.exception("could not record update %s; trying again", update_id)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

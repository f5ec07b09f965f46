"""Property-based (issue 12): random sequences of updates of every kind — text and commands,
non-text messages, buttons pressed from any message (or forged), native poll answers, joins,
leaves, the bot removed and added back, a migration, replays, time passing — fed to the
dispatcher. Whatever the sequence: no handler raises, every person gets an answer where one is
due, and nothing the bot sends would be refused by the Bot API (length after entity parsing,
HTML, button data, toasts)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import open_storage
from handlers import build_router
from handlers.kernel.context import HandlerSettings, Services
from handlers.kernel.dispatch import Dispatcher
from handlers.kernel.events import MEDIA_KINDS, Chat, ChatType, Event, EventKind
from handlers.kernel.ports import ShiftedClock
from tests.support.groups import SUPERGROUP_ID, Group, make_volunteer
from tests.support.recording import Conversation, Someone
from tests.support.strict import StrictMessenger

COORDINATOR = 900_001
PEOPLE = ("Coral", "Amira", "🌻" * 30 + " Bilal", "Zoë\u200c" + "x" * 50)
COMMANDS = (
    "/start",
    "/help",
    "/cancel",
    "/language",
    "/profile",
    "/poll Venue? | Hall | Park | in 2h",
    "/poll " + "Long question " * 15 + "| " + " | ".join("🌻" * 40 + str(i) for i in range(10)),
    "/poll Lunch? | Soup | Salad | anonymous | in 1h",
    "/consensus We co-sign the letter | in 1d",
    "/decisions",
    "/decisions csv",
    "/actions",
    "/roster",
    "/members",
    "/stats",
    "/nonsense",
    "/poll",
)
TEXTS = st.one_of(st.sampled_from(COMMANDS), st.text(min_size=1, max_size=40))
WHERE = st.sampled_from(["private", "group"])
STEP = st.one_of(
    st.tuples(st.just("text"), st.integers(0, 3), WHERE, TEXTS),
    st.tuples(st.just("media"), st.integers(0, 3), WHERE, st.sampled_from(MEDIA_KINDS)),
    st.tuples(st.just("press"), st.integers(0, 3), WHERE, st.integers(0, 50)),
    st.tuples(st.just("forged"), st.integers(0, 3), WHERE, st.text(max_size=70)),
    st.tuples(st.just("poll"), st.integers(0, 3), st.just(""), st.integers(0, 3)),
    st.tuples(st.sampled_from(["join", "leave"]), st.integers(1, 3), st.just(""), st.just(0)),
    st.tuples(st.sampled_from(["kicked", "readded"]), st.just(0), st.just(""), st.just(0)),
    st.tuples(st.just("migrate"), st.just(0), st.just(""), st.just(0)),
    st.tuples(st.just("replay"), st.just(0), st.just(""), st.integers(0, 50)),
    st.tuples(st.just("time"), st.just(0), st.just(""), st.integers(1, 30)),
)


@dataclass
class Watch:
    """What the dispatcher reported for each update."""

    outcomes: list[tuple[str, str]] = field(default_factory=list)
    timers: list[tuple[str, str]] = field(default_factory=list)

    def update_done(self, kind: str, outcome: str, seconds: float | None) -> None:
        self.outcomes.append((kind, outcome))

    def timer_done(self, kind: str, outcome: str, late_seconds: float) -> None:
        self.timers.append((kind, outcome))


@pytest.fixture(scope="module")
def template() -> Iterator[Path]:
    """A migrated database, copied for each example (migrating each time would be slow)."""
    folder = Path(tempfile.mkdtemp())
    path = folder / "template.sqlite3"

    async def migrate() -> None:
        storage = await open_storage(f"sqlite+aiosqlite:///{path}")
        await storage.engine.dispose()

    asyncio.run(migrate())
    yield path
    shutil.rmtree(folder, ignore_errors=True)


async def _run(template: Path, steps: list[tuple[str, int, str, Any]]) -> None:
    folder = Path(tempfile.mkdtemp())
    database = folder / "chorus.sqlite3"
    shutil.copy(template, database)
    storage = await open_storage(f"sqlite+aiosqlite:///{database}")
    messenger = StrictMessenger()
    clock = ShiftedClock()
    services = Services(
        sessionmaker=storage.sessionmaker,
        messenger=messenger,
        clock=clock,
        settings=HandlerSettings(admin_ids=frozenset({COORDINATOR}), bot_username="chorus_bot"),
        started_at=clock.now(),
    )
    dispatcher = Dispatcher(build_router(), services)
    watch = Watch()
    dispatcher.observer = watch
    conversation = Conversation(dispatcher, messenger)
    try:
        people = [
            conversation.person(name, user_id=COORDINATOR if i == 0 else 0)
            for i, name in enumerate(PEOPLE)
        ]
        for someone in people[1:3]:
            await make_volunteer(conversation, someone)
        group = Group(conversation, SUPERGROUP_ID)
        await group.join(*people)
        fed: list[Event] = []
        for kind, who, where, value in steps:
            await _step(conversation, group, people, fed, kind, who, where, value, clock)
        await services.edits.flush()
        errors = [o for o in watch.outcomes if o[1] == "error"]
        errors += [t for t in watch.timers if t[1] == "failed"]
        assert errors == [], f"handlers raised: {errors}"
        assert messenger.violations == [], f"refused by the Bot API: {messenger.violations}"
    finally:
        await storage.engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)


async def _step(
    conversation: Conversation,
    group: Group,
    people: list[Someone],
    fed: list[Event],
    kind: str,
    who: int,
    where: str,
    value: Any,
    clock: ShiftedClock,
) -> None:
    someone = people[who]
    chat = someone.chat if where == "private" else group.chat
    messenger = conversation.messenger
    update_id = conversation.next_update_id()
    event: Event | None = None
    if kind == "text":
        event = Event(update_id, EventKind.MESSAGE, someone.person, chat, text=value, message_id=1)
    elif kind == "media":
        event = Event(update_id, EventKind.MESSAGE, someone.person, chat, media=value, message_id=1)
    elif kind in ("press", "forged"):
        shown = [m for m in messenger.chats.get(chat.id, []) if m.keyboard]
        buttons = [(m.message_id, d) for m in shown for row in m.keyboard for _, d in row if d]
        buttons = [(m, d) for m, d in buttons if not d.startswith("http")]
        if kind == "press" and buttons:
            message_id, data = buttons[value % len(buttons)]
        else:
            message_id, data = 1, str(value)
        event = Event(
            update_id,
            EventKind.CALLBACK,
            someone.person,
            chat,
            callback_id=conversation.next_callback_id(),
            data=data,
            message_id=message_id,
        )
    elif kind == "poll":
        polls = list(messenger.polls)
        if polls:
            event = Event(
                update_id,
                EventKind.POLL_ANSWER,
                someone.person,
                someone.chat,
                poll_id=f"poll{polls[-1]}",
                option_ids=(value,),
            )
    elif kind in ("join", "leave"):
        status = "member" if kind == "join" else "left"
        event = Event(
            update_id, EventKind.MEMBERSHIP, someone.person, group.chat, member_status=status
        )
    elif kind in ("kicked", "readded"):
        status = "kicked" if kind == "kicked" else "administrator"
        event = Event(
            update_id, EventKind.BOT_MEMBERSHIP, people[0].person, group.chat, member_status=status
        )
    elif kind == "migrate":
        event = Event(
            update_id,
            EventKind.MIGRATION,
            people[0].person,
            Chat(group.chat.id, ChatType.GROUP, "Coalition"),
            migrate_to_chat_id=group.chat.id - 1,
        )
    elif kind == "replay" and fed:
        await conversation.dispatcher.feed(fed[value % len(fed)])
        return
    elif kind == "time":
        clock.advance(timedelta(hours=value))
        await conversation.dispatcher.run_due_timers()
        return
    if event is None:
        return
    fed.append(event)
    before = len(messenger.chats.get(someone.chat.id, []))
    outcomes = len(conversation.dispatcher.observer.outcomes)  # type: ignore[attr-defined]
    await conversation.dispatcher.feed(event)
    outcome = conversation.dispatcher.observer.outcomes[outcomes:]  # type: ignore[attr-defined]
    if outcome and outcome[0][1] in ("refused", "duplicate"):
        return  # slowed down (said once) or already handled: nothing more is due
    if event.kind is EventKind.CALLBACK:
        answered = {callback for callback, _, _ in messenger.answers}
        assert event.callback_id in answered, f"button {event.data!r} never answered"
    elif chat.is_private and (event.media is not None or (event.text or "").startswith("/")):
        after = len(messenger.chats.get(someone.chat.id, []))
        assert after > before, f"no answer to {event.text or event.media!r}"


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
@given(steps=st.lists(STEP, min_size=1, max_size=25))
def test_any_sequence_of_updates_is_handled_answered_and_within_the_bot_api(
    template: Path, steps: list[tuple[str, int, str, Any]]
) -> None:
    asyncio.run(_run(template, steps))

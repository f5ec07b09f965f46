"""A call to a large audience is enqueued in chunks after the coordinator's transaction, each
chunk a short transaction of its own (issue 17: other updates waited behind the whole fan-out
for SQLite's write lock); a crash between two chunks is resumed at the next start, with every
recipient enqueued once, as when everyone was enqueued in one go."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Any

import pytest
from sqlalchemy import delete, func, select, text, update

from bot.app import Storage, open_storage
from handlers.actions import broadcasts as sending
from handlers.kernel.context import Context, Services
from handlers.kernel.ports import ShiftedClock
from storage import create_engine
from storage.actions import action_store, broadcast_store
from storage.actions.action_models import Action, Broadcast, DigestItem
from storage.models import AuditEntry, OutboxMessage, Timer, UserPreference, Volunteer
from storage.people import preferences
from tests.conftest import COORDINATOR_ID
from tests.handlers.test_actions import create_meeting
from tests.handlers.test_audience_scale import _snapshot
from tests.handlers.test_rsvp_cost import statements_of_first_transaction
from tests.support.crowd import seed
from tests.support.recording import Conversation, Someone

CHUNK = 7  # volunteers a chunk (the bot's is thousands)


@pytest.fixture(params=["sqlite", "postgresql"])
async def storage(request: pytest.FixtureRequest, database_url: str) -> AsyncIterator[Storage]:
    """Each test on SQLite, and on PostgreSQL when CHORUS_TEST_POSTGRES_URL is set."""
    url = database_url
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        await _empty(url)
    opened = await open_storage(url)
    yield opened
    await opened.engine.dispose()
    if request.param == "postgresql":
        await _empty(url)


async def _empty(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


@pytest.fixture
def coordinator(conversation: Conversation) -> Someone:
    """The coordinator (in ADMIN_IDS)."""
    return conversation.person("Coral", user_id=COORDINATOR_ID)


async def _send_held(
    coordinator: Someone, clock: ShiftedClock, storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, Any], int]:
    """`_send_to_everyone` with the rest of the fan-out held back after the commit of "Send it"
    (the bot died then, or a stop comes first); every patch is undone after (the next start)."""

    async def held(services: Services, broadcast_id: int) -> None:
        """The rest of the fan-out waits."""

    monkeypatch.setattr(sending, "continue_fan_out", held, raising=False)
    sent = await _send_to_everyone(coordinator, clock, storage, monkeypatch)
    monkeypatch.undo()
    return sent


async def _send_to_everyone(
    coordinator: Someone,
    clock: ShiftedClock,
    storage: Storage,
    monkeypatch: pytest.MonkeyPatch,
    answering: int = 3,
) -> tuple[dict[str, Any], int]:
    """Publishes a meeting to 300 volunteers, `answering` of whom have answered already: what
    queueing it one by one gives (undone), and the id of the broadcast actually sent."""
    await seed(storage, 300, clock.now())
    monkeypatch.setattr(broadcast_store, "FANOUT_CHUNK", CHUNK, raising=False)
    found: list[tuple[dict[str, Any], int]] = []
    announce = sending.announce

    async def both(
        ctx: Context,
        action: Action,
        *,
        group_ids: Iterable[int] = (),
        report: bool = False,
        **more: Any,
    ) -> Broadcast:
        people = await action_store.audience(ctx.session, action.audience, action.kind)
        for person in people[:answering]:
            await action_store.set_answer(
                ctx.session, action.id, person.user_id, action_store.GOING, ctx.now()
            )
        old = await sending.send_about(ctx, action, people, "announce", group_ids=group_ids)
        before = await _snapshot(ctx.session, old)
        await ctx.session.execute(delete(DigestItem))
        await ctx.session.execute(delete(Timer).where(Timer.kind == sending.DIGEST_TIMER))
        new = await announce(ctx, action, group_ids=group_ids, report=report, **more)
        found.append((before, new.id))
        return new

    monkeypatch.setattr(sending, "announce", both)
    await create_meeting(coordinator, clock)
    await coordinator.press("✅ Send it")
    assert "is on its way" in coordinator.messages[-2].text
    [(before, broadcast_id)] = found
    assert len(before["outbox"]) > 20 * CHUNK // 2  # many chunks
    return before, broadcast_id


async def _now(storage: Storage, broadcast_id: int) -> tuple[dict[str, Any], Broadcast]:
    async with storage.sessionmaker() as session:
        broadcast = await session.get(Broadcast, broadcast_id)
        assert broadcast is not None
        return await _snapshot(session, broadcast), broadcast


async def _rows(storage: Storage, broadcast_id: int) -> int:
    async with storage.sessionmaker() as session:
        count = await session.scalar(
            select(func.count()).where(OutboxMessage.ref == broadcast_store.ref(broadcast_id))
        )
        return int(count or 0)


async def test_the_coordinators_transaction_enqueues_at_most_a_first_chunk(
    coordinator: Someone,
    clock: ShiftedClock,
    storage: Storage,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def killed(services: Services, broadcast_id: int) -> None:
        """The bot dies right after the commit of "Send it"."""

    monkeypatch.setattr(sending, "continue_fan_out", killed, raising=False)
    before, broadcast_id = await _send_to_everyone(coordinator, clock, storage, monkeypatch)
    after, broadcast = await _now(storage, broadcast_id)
    own = 3  # those who answered get their own view in the coordinator's transaction
    assert 0 < len(after["outbox"]) <= CHUNK + own < len(before["outbox"])
    # the shares (and the digests they schedule) are read after the commit: its plan pends
    assert broadcast.fanout_after == broadcast_store.PLANNING and not after["digests"]
    assert broadcast.total == len(after["outbox"])

    monkeypatch.undo()  # the next start
    await sending.resume_fan_outs(services)
    after, broadcast = await _now(storage, broadcast_id)
    assert after == before
    assert broadcast.fanout is None and broadcast.fanout_after is None
    assert broadcast.total == len(before["outbox"])


async def test_send_it_to_more_than_a_chunk_reads_no_shares_in_its_transaction(
    coordinator: Someone,
    clock: ShiftedClock,
    storage: Storage,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every statement of "Send it" runs under SQLite's write lock (issue 17: a press waited
    ~100 ms at 100k volunteers behind the shares' GROUP BY): for an audience larger than a
    chunk, the shares are read after the commit, in a read session, and the audit note's
    count of recipients is filled in by the plan."""
    await seed(storage, 40, clock.now())
    monkeypatch.setattr(broadcast_store, "FANOUT_CHUNK", CHUNK, raising=False)
    await create_meeting(coordinator, clock)
    with statements_of_first_transaction(storage.engine) as seen:
        await coordinator.press("✅ Send it")
    assert "is on its way" in coordinator.messages[-2].text
    grouped = [s for s in seen if _counts_volunteers(s) or "GROUP BY" in s]
    assert not grouped, "\n".join(grouped)
    async with storage.sessionmaker() as session:
        audience = await action_store.audience(session, {}, "meeting")
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "action.send"))
        [broadcast] = (await session.scalars(select(Broadcast))).all()
    rows = await _rows(storage, broadcast.id)
    assert entry is not None and entry.details["recipients"] == len(audience) > CHUNK
    assert broadcast.fanout_after is None and broadcast.total == rows > CHUNK  # digests aside


async def test_a_crash_before_the_plan_is_stored_is_planned_again_at_the_next_start(
    coordinator: Someone,
    clock: ShiftedClock,
    storage: Storage,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store_plan = broadcast_store.store_plan

    async def dies_before_its_commit(*args: Any, **kwargs: Any) -> bool:
        await store_plan(*args, **kwargs)
        raise RuntimeError("killed before the plan's commit")

    monkeypatch.setattr(broadcast_store, "store_plan", dies_before_its_commit)
    before, broadcast_id = await _send_to_everyone(coordinator, clock, storage, monkeypatch)
    after, broadcast = await _now(storage, broadcast_id)
    assert broadcast.fanout_after == broadcast_store.PLANNING  # nothing of the plan stayed
    assert not after["digests"] and len(after["outbox"]) < len(before["outbox"])
    await sending.refresh(services, broadcast_id, force=True)
    _, broadcast = await _now(storage, broadcast_id)
    assert broadcast.state == broadcast_store.RUNNING  # not done while its plan pends
    assert f"Remaining: {len(before['outbox'])}" in coordinator.messages[-1].text

    monkeypatch.setattr(broadcast_store, "store_plan", store_plan)  # the next start
    await sending.resume_fan_outs(services)
    after, broadcast = await _now(storage, broadcast_id)
    assert after == before  # each recipient once, none missed, the digests scheduled once
    assert broadcast.fanout_after is None and broadcast.total == len(before["outbox"])
    await sending.resume_fan_outs(services)  # nothing left: nothing more
    assert await _rows(storage, broadcast_id) == len(before["outbox"])


async def test_a_crash_between_chunks_is_resumed_without_duplicates_or_gaps(
    coordinator: Someone,
    clock: ShiftedClock,
    storage: Storage,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fan_out = broadcast_store.fan_out
    calls: list[int] = []

    async def dies_in_the_fourth_chunk(*args: Any, **kwargs: Any) -> int | None:
        calls.append(1)
        count = await fan_out(*args, **kwargs)
        if len(calls) == 4:
            raise RuntimeError("killed before this chunk's commit")
        return count

    monkeypatch.setattr(broadcast_store, "fan_out", dies_in_the_fourth_chunk)
    before, broadcast_id = await _send_to_everyone(coordinator, clock, storage, monkeypatch)
    assert len(calls) == 4
    _, broadcast = await _now(storage, broadcast_id)
    assert broadcast.fanout_after is not None
    enqueued = await _rows(storage, broadcast_id)
    assert 3 < enqueued < len(before["outbox"])
    assert broadcast.total == enqueued

    monkeypatch.setattr(broadcast_store, "fan_out", fan_out)  # the next start
    await sending.resume_fan_outs(services)
    after, broadcast = await _now(storage, broadcast_id)
    assert after == before  # each recipient once, none missed, with their message
    assert broadcast.fanout_after is None
    await sending.resume_fan_outs(services)  # nothing left: nothing more
    assert await _rows(storage, broadcast_id) == len(before["outbox"])


async def test_two_workers_resuming_one_fan_out_enqueue_each_recipient_once(
    coordinator: Someone,
    clock: ShiftedClock,
    storage: Storage,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before, broadcast_id = await _send_held(coordinator, clock, storage, monkeypatch)
    await asyncio.gather(
        sending.continue_fan_out(services, broadcast_id),
        sending.continue_fan_out(services, broadcast_id),
    )
    after, _ = await _now(storage, broadcast_id)
    assert after == before


async def test_a_broadcast_stopped_during_its_fan_out_sends_nothing_more(
    coordinator: Someone,
    clock: ShiftedClock,
    storage: Storage,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before, broadcast_id = await _send_held(coordinator, clock, storage, monkeypatch)
    async with storage.sessionmaker() as session, session.begin():
        broadcast = await session.get(Broadcast, broadcast_id)
        assert broadcast is not None
        stopped = await broadcast_store.stop(session, broadcast, sending.rows_to_plan)
    assert stopped == len(before["outbox"])  # the coordinator is told how many will not go
    await sending.continue_fan_out(services, broadcast_id)
    async with storage.sessionmaker() as session:
        counts = await sending.outbox.counts(session, broadcast_store.ref(broadcast_id))
    assert counts == {sending.outbox.STOPPED: len(before["outbox"])}


async def test_the_report_counts_what_the_fan_out_has_still_to_enqueue(
    coordinator: Someone,
    clock: ShiftedClock,
    storage: Storage,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before, broadcast_id = await _send_held(coordinator, clock, storage, monkeypatch)
    async with storage.sessionmaker() as session, session.begin():
        sent = await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.ref == broadcast_store.ref(broadcast_id))
            .values(state=sending.outbox.SENT)
        )
    delivered = sent.rowcount  # type: ignore[attr-defined]
    await sending.refresh(services, broadcast_id, force=True)
    _, broadcast = await _now(storage, broadcast_id)
    assert broadcast.state == broadcast_store.RUNNING and broadcast.finished_at is None
    remaining = len(before["outbox"]) - delivered
    assert f"Remaining: {remaining}" in coordinator.messages[-1].text


def _counts_volunteers(statement: str) -> bool:
    """A statement that counts volunteers (an aggregate over the audience or the coalition)."""
    return "count(" in statement.lower() and "volunteers" in statement


async def test_send_it_counts_the_audience_once_in_its_transaction(
    coordinator: Someone, clock: ShiftedClock, storage: Storage
) -> None:
    """The transaction of "Send it" held SQLite's write lock for three passes over the
    volunteers (issue 17: a press waited ~218 ms behind it at 100k): the preview's counts,
    loaded only to read which button was pressed, the audit note's count, and the shares
    announce enqueues. Only the shares are read now, and the note's count is their sum."""
    await seed(storage, 40, clock.now())
    await create_meeting(coordinator, clock)
    with statements_of_first_transaction(storage.engine) as seen:
        await coordinator.press("✅ Send it")
    assert "is on its way" in coordinator.messages[-2].text
    counted = [s for s in seen if _counts_volunteers(s)]
    assert len(counted) == 1 and "GROUP BY volunteers.language" in counted[0], "\n".join(counted)
    async with storage.sessionmaker() as session:
        audience = await action_store.audience(session, {}, "meeting")
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "action.send"))
    assert entry is not None and entry.details["recipients"] == len(audience) > 0


async def test_the_summary_counts_who_could_not_be_reached_before_their_chunk(
    coordinator: Someone,
    clock: ShiftedClock,
    storage: Storage,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The audience leaves out who blocked the bot, when "Send it" was pressed or before their
    chunk was enqueued: the summary counts both (no row of the broadcast says so)."""
    _, broadcast_id = await _send_held(coordinator, clock, storage, monkeypatch)
    ref = broadcast_store.ref(broadcast_id)
    async with storage.sessionmaker() as session, session.begin():
        queued = set(
            await session.scalars(select(OutboxMessage.chat_id).where(OutboxMessage.ref == ref))
        )
        audience = await action_store.audience(session, {}, "meeting")
        late = next(p.user_id for p in audience if p.user_id not in queued and p.digest is None)
        await preferences.set_unreachable(session, late, preferences.BLOCKED, clock.now())
    await sending.continue_fan_out(services, broadcast_id)
    async with storage.sessionmaker() as session, session.begin():
        assert late not in set(
            await session.scalars(select(OutboxMessage.chat_id).where(OutboxMessage.ref == ref))
        )
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.ref == ref).values(state=sending.outbox.SENT)
        )
        blocked = set(
            await session.scalars(
                select(UserPreference.user_id).where(UserPreference.blocked_bot_at.is_not(None))
            )
        )
        meant_for = [
            v
            for v in await session.scalars(select(Volunteer))
            if v.status == "active" and "action:meeting" not in (v.muted or [])
        ]
    expected = sum(1 for v in meant_for if v.user_id in blocked)
    assert expected > 1
    await sending.refresh(services, broadcast_id, force=True)
    summary = coordinator.messages[-1].text
    assert "Sending finished" in summary, summary
    assert f"Not reached: {expected} people it was meant for, because:" in summary, summary
    assert f"  • blocked the bot: {expected}" in summary, summary

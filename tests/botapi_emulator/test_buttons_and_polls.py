"""Button presses with answerCallbackQuery, and polls with their answers and closing."""

from __future__ import annotations

import asyncio

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, InputPollOption

from botapi_emulator import EmulatorState, SandboxClient, SandboxError, start_emulator
from botapi_emulator.models import User
from tests.botapi_emulator.helpers import make_bot


def options(*texts: str) -> list[InputPollOption | str]:
    return [InputPollOption(text=t) for t in texts]


async def test_press_and_answer(bot: Bot, sandbox: SandboxClient, state: EmulatorState) -> None:
    alice = await sandbox.create_user("Alice")
    await alice.send("/start")
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="English", callback_data="lang:en")]]
    )
    sent = await bot.send_message(alice.id, "Language?", reply_markup=markup)
    offset = (await bot.get_updates())[-1].update_id + 1

    pressing = asyncio.create_task(alice.press("English", wait=25))
    update = (await bot.get_updates(offset=offset, timeout=25))[0]
    query = update.callback_query
    assert query is not None and query.data == "lang:en" and query.from_user.id == alice.id
    assert query.message is not None and query.message.message_id == sent.message_id
    assert query.chat_instance == state.chats[alice.id].chat_instance
    assert await bot.answer_callback_query(query.id, text="Saved", show_alert=True)

    answer = await asyncio.wait_for(pressing, 30)
    assert answer is not None and (answer.text, answer.show_alert) == ("Saved", True)
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(query.id)
    with pytest.raises(TelegramBadRequest, match="query ID is invalid"):
        await bot.answer_callback_query("12345")


async def test_forged_data_reaches_the_bot(
    bot: Bot, sandbox: SandboxClient, state: EmulatorState
) -> None:
    alice = await sandbox.create_user("Alice")
    await alice.send("/start")
    await bot.send_message(
        alice.id,
        "Pick",
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="A", callback_data="a")]]
        ),
    )
    message = await alice.wait_for_reply()

    assert await alice.press_data(message, "admin:delete-all", wait=0) is None

    queries = [u.callback_query for u in await bot.get_updates() if u.callback_query]
    assert [q.data for q in queries] == ["admin:delete-all"]
    with pytest.raises(LookupError, match="no button 'B'"):
        await alice.press("B", timeout=0.2)


async def test_poll_answers_reach_the_bot_for_its_non_anonymous_polls(
    bot: Bot, sandbox: SandboxClient
) -> None:
    alice = await sandbox.create_user("Alice")
    bob = await sandbox.create_user("Bob")
    group = await sandbox.create_group("Coalition", [alice, bob])
    sent = await bot.send_poll(
        group.id, "Lunch?", options("Pizza", "Salad", "Soup"), is_anonymous=False
    )
    assert sent.poll is not None and sent.poll.is_anonymous is False
    assert [o.persistent_id for o in sent.poll.options] == ["0", "1", "2"]
    offset = (await bot.get_updates())[-1].update_id + 1

    message = (await group.messages())[-1]
    await alice.vote(message, [1])
    poll = await bob.vote(message, [1])
    await alice.vote(message, [])

    updates = await bot.get_updates(offset=offset)
    answers = [u.poll_answer for u in updates if u.poll_answer]
    assert [(a.user.id, a.option_ids) for a in answers if a.user] == [
        (alice.id, [1]),
        (bob.id, [1]),
        (alice.id, []),
    ]
    states = [u.poll for u in updates if u.poll]
    assert [s.options[1].voter_count for s in states] == [1, 2, 1]
    assert poll.counts == [0, 2, 0] and poll.votes == {alice.id: [1], bob.id: [1]}


async def test_anonymous_polls_send_no_poll_answer(bot: Bot, sandbox: SandboxClient) -> None:
    alice = await sandbox.create_user("Alice")
    group = await sandbox.create_group("Coalition", [alice])
    await bot.send_poll(group.id, "Lunch?", options("Pizza", "Salad"))
    offset = (await bot.get_updates())[-1].update_id + 1

    await alice.vote((await group.messages())[-1], [0])

    updates = await bot.get_updates(offset=offset)
    assert not any(u.poll_answer for u in updates)
    assert [u.poll.total_voter_count for u in updates if u.poll] == [1]


async def test_stop_poll_returns_the_final_poll(bot: Bot, sandbox: SandboxClient) -> None:
    alice = await sandbox.create_user("Alice")
    group = await sandbox.create_group("Coalition", [alice])
    sent = await bot.send_poll(group.id, "Go?", options("Yes", "No"), is_anonymous=False)
    await alice.vote((await group.messages())[-1], [0])

    final = await bot.stop_poll(group.id, sent.message_id)

    assert final.is_closed and final.options[0].voter_count == 1
    with pytest.raises(TelegramBadRequest, match="poll has already been closed"):
        await bot.stop_poll(group.id, sent.message_id)
    with pytest.raises(SandboxError, match="closed"):
        await alice.vote((await group.messages())[-1], [1])


@pytest.mark.parametrize(
    ("question", "choices", "description"),
    [
        ("", ["a", "b"], "text must be non-empty"),
        ("x" * 301, ["a", "b"], "poll question length must not exceed 300"),
        ("Q?", ["a"], "poll must have at least 2 option"),
        ("Q?", [str(i) for i in range(13)], "poll can't have more than 12 options"),
        ("Q?", ["a", "b" * 101], "poll options length must not exceed 100"),
    ],
)
@pytest.mark.nonconforming
async def test_poll_limits(
    bot: Bot, started_user: User, question: str, choices: list[str], description: str
) -> None:
    with pytest.raises(TelegramBadRequest) as caught:
        await bot.send_poll(started_user.id, question, options(*choices))

    assert caught.value.message == f"Bad Request: {description}"


async def test_poll_periods_up_to_30_days(bot: Bot, started_user: User) -> None:
    sent = await bot.send_poll(started_user.id, "Q?", options("a", "b"), open_period=2_628_000)
    assert sent.poll is not None and sent.poll.open_period == 2_628_000

    with pytest.raises(TelegramBadRequest, match="open_period must be from 5 to 2628000"):
        await bot.send_poll(started_user.id, "Q?", options("a", "b"), open_period=2_628_001)


async def test_timed_polls_close_when_the_clock_passes_close_date() -> None:
    clock = [1_800_000_000.0]
    emulator = await start_emulator(now=lambda: clock[0])
    bot = make_bot(emulator)
    try:
        alice = emulator.state.create_user("Alice")
        group = emulator.state.create_group("Coalition", [alice.id])
        sent = await bot.send_poll(group.id, "Q?", options("a", "b"), open_period=60)
        assert sent.poll is not None and sent.poll.close_date is not None
        assert sent.poll.close_date.timestamp() == clock[0] + 60
        offset = (await bot.get_updates())[-1].update_id + 1
        assert await bot.get_updates(offset=offset) == []

        clock[0] += 61
        closed = [u.poll for u in await bot.get_updates(offset=offset) if u.poll]

        assert len(closed) == 1 and closed[0].is_closed
        with pytest.raises(TelegramBadRequest, match="poll has already been closed"):
            await bot.stop_poll(group.id, sent.message_id)
    finally:
        await bot.session.close()
        await emulator.stop()


async def test_a_poll_can_hide_its_results_until_it_closes(
    bot: Bot, sandbox: SandboxClient
) -> None:
    alice = await sandbox.create_user("Alice")
    group = await sandbox.create_group("Coalition", [alice])
    sent = await bot.send_poll(
        group.id,
        "Venue?",
        options("Hall", "Park"),
        is_anonymous=False,
        allows_revoting=True,
        hide_results_until_closes=True,
        description="Rule: majority",
    )
    assert sent.poll is not None and sent.poll.description == "Rule: majority"
    message = (await group.messages())[-1]
    poll = await alice.vote(message, [1])
    assert poll.results_hidden and poll.counts == [0, 0] and poll.votes == {}
    assert poll.total_voter_count == 1 and poll.description == "Rule: majority"
    await alice.vote(message, [0])  # a vote can be changed while it is open
    await bot.stop_poll(group.id, sent.message_id)
    shown = (await group.messages())[-1].poll
    assert shown is not None and not shown.results_hidden
    assert shown.counts == [1, 0] and shown.votes == {alice.id: [0]}
    with pytest.raises(TelegramBadRequest, match="description is too long"):
        await bot.send_poll(group.id, "Q?", options("A", "B"), description="x" * 1025)

"""Webhook delivery as Telegram does it: while a webhook is set, each pending update is POSTed
to its URL (JSON, with X-Telegram-Bot-Api-Secret-Token when a secret was given).

- A 2xx answer confirms the update; anything else (another status, a refused or dropped
  connection, no answer within `timeout`) keeps it pending, records `last_error_date` and
  `last_error_message` for getWebhookInfo, and pauses delivery with a growing back-off
  (`retry_base` doubling up to `retry_max` seconds), after which the update is sent again.
- Up to the webhook's max_connections requests are in flight at once, but never two updates
  from the same person: each person's updates arrive one after the other, in order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
import orjson

from .models import JsonDict
from .world import World

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@dataclass(frozen=True, slots=True)
class Attempt:
    """One POST of an update to the webhook and how it ended (status 0: no answer)."""

    update_id: int
    status: int
    error: str | None


def _sender(update: JsonDict) -> object:
    """Whose update this is (the key that keeps one person's updates in order)."""
    for key, payload in update.items():
        if key == "update_id" or not isinstance(payload, dict):
            continue
        who = payload.get("from") or payload.get("user") or payload.get("chat") or {}
        if isinstance(who, dict) and "id" in who:
            return who["id"]
    return ("update", update["update_id"])


class WebhookDelivery:
    """Posts the pending updates of one emulator to its webhook, until stopped."""

    def __init__(
        self,
        state: World,
        *,
        retry_base: float = 0.05,
        retry_max: float = 1.0,
        timeout: float = 60.0,
    ) -> None:
        self.state = state
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.timeout = timeout
        self.attempts: list[Attempt] = []  # every POST, for tests
        # Called with each update the webhook answered 2xx, before it is confirmed; False drops
        # the answer, as a connection lost just before it arrived (tests kill the bot there).
        self.on_answer: Callable[[JsonDict], bool] | None = None
        self._in_flight: dict[int, object] = {}  # update id → its person
        self._failures = 0
        self._resume_at = 0.0
        self._kick = asyncio.Event()
        self._posts: set[asyncio.Task[None]] = set()
        self._attempted = asyncio.Event()

    async def wait_for_attempts(self, count: int) -> list[Attempt]:
        """Returns the attempts once there are at least `count` (tests)."""
        while len(self.attempts) < count:
            self._attempted.clear()
            await self._attempted.wait()
        return self.attempts

    def kick(self) -> None:
        """Something changed (a post ended, the webhook was set): look again."""
        self._kick.set()

    async def run(self) -> None:
        """The delivery loop (a task of the emulator)."""
        async with aiohttp.ClientSession() as session:
            try:
                while not self.state.closed:
                    self._start_posts(session)
                    await self._wait()
            finally:
                for task in self._posts:
                    task.cancel()
                await asyncio.gather(*self._posts, return_exceptions=True)

    async def _wait(self) -> None:
        loop = asyncio.get_running_loop()
        signal = self.state._update_signal
        wait = 1.0 if self._resume_at <= loop.time() else self._resume_at - loop.time()
        kicked = loop.create_task(self._kick.wait())
        new_update = loop.create_task(signal.wait())
        try:
            await asyncio.wait({kicked, new_update}, timeout=wait, return_when="FIRST_COMPLETED")
        finally:
            kicked.cancel()
            new_update.cancel()
        self._kick.clear()

    def _start_posts(self, session: aiohttp.ClientSession) -> None:
        state = self.state
        hook = state.webhook
        loop = asyncio.get_running_loop()
        if hook is None or loop.time() < self._resume_at:
            return
        room = int(hook.get("max_connections", 40)) - len(self._in_flight)
        busy = set(self._in_flight.values())
        for update in list(state.updates):
            if room <= 0:
                return
            update_id = int(update["update_id"])
            person = _sender(update)
            if update_id in self._in_flight or person in busy:
                busy.add(person)  # a later update of this person waits for this one
                continue
            busy.add(person)
            self._in_flight[update_id] = person
            room -= 1
            state._mark_delivered([update])
            task = loop.create_task(self._post(session, hook, update))
            self._posts.add(task)
            task.add_done_callback(self._posts.discard)

    async def _post(self, session: aiohttp.ClientSession, hook: JsonDict, update: JsonDict) -> None:
        update_id = int(update["update_id"])
        headers = {"Content-Type": "application/json"}
        if hook.get("secret_token"):
            headers[SECRET_HEADER] = str(hook["secret_token"])
        status, error = 0, None
        try:
            async with session.post(
                str(hook["url"]),
                data=orjson.dumps(update),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                await response.read()
                status = response.status
                if not 200 <= status <= 299:
                    error = f"Wrong response from the webhook: {status} {response.reason}"
                elif self.on_answer is not None and not self.on_answer(update):
                    status, error = 0, "Connection reset by peer"
        except TimeoutError:
            error = "Read timeout expired"
        except aiohttp.ClientConnectorError:
            error = "Connection refused"
        except aiohttp.ClientError as exc:
            error = f"Connection failed: {type(exc).__name__}"
        finally:
            self._in_flight.pop(update_id, None)
            self.kick()
        self.attempts.append(Attempt(update_id, status, error))
        self._attempted.set()
        if error is None:
            self._confirm(update_id)
        else:
            self._failed(hook, error)

    def _confirm(self, update_id: int) -> None:
        self._failures = 0
        state = self.state
        for update in list(state.updates):
            if update["update_id"] == update_id:
                state.updates.remove(update)
                state.confirmed.append(update)
                return

    def _failed(self, hook: JsonDict, error: str) -> None:
        log.debug("webhook delivery failed: %s", error)
        hook["last_error_date"] = int(self.state.now())
        hook["last_error_message"] = error
        delay = min(self.retry_base * 2.0**self._failures, self.retry_max)
        self._failures += 1
        loop = asyncio.get_running_loop()
        self._resume_at = max(self._resume_at, loop.time() + delay)

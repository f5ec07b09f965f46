"""Helpers for the emulator tests."""

from __future__ import annotations

import asyncio

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from botapi_emulator import RunningEmulator


class LoopbackSession(AiohttpSession):
    """aiogram's own aiohttp session, minus the 250 ms TLS grace sleep in close()."""

    async def close(self) -> None:
        """Closes the connections (plain HTTP on loopback needs no grace period)."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
            await asyncio.sleep(0)


def make_bot(emulator: RunningEmulator, token: str | None = None) -> Bot:
    """Returns an unmodified aiogram Bot whose API server is the emulator."""
    session = LoopbackSession(api=TelegramAPIServer.from_base(emulator.url))
    return Bot(token or emulator.token, session=session)

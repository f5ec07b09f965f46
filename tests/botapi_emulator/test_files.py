"""Documents and photos: multipart uploads are kept and can be downloaded again."""

from __future__ import annotations

import struct
import zlib

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import BufferedInputFile

from botapi_emulator import RunningEmulator, SandboxClient
from botapi_emulator.models import User


def png(width: int, height: int) -> bytes:
    """Returns a tiny valid PNG of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + b"\x80" * width for _ in range(height)))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


async def test_send_document_then_download_it(
    bot: Bot, sandbox: SandboxClient, started_user: User
) -> None:
    content = b"name,hours\nAlice,4\n"

    sent = await bot.send_document(
        started_user.id, BufferedInputFile(content, filename="roster.csv"), caption="Roster"
    )

    document = sent.document
    assert document is not None
    assert (document.file_name, document.mime_type, document.file_size) == (
        "roster.csv",
        "text/csv",
        len(content),
    )
    assert sent.caption == "Roster"
    shown = (await sandbox.messages(started_user.id))[-1]
    assert shown.document is not None and shown.document.file_name == "roster.csv"
    assert await sandbox.download(shown.document) == content
    again = await bot.send_document(started_user.id, document.file_id)
    assert again.document is not None and again.document.file_id == document.file_id


async def test_send_photo_reads_the_picture_size(
    bot: Bot, emulator: RunningEmulator, started_user: User
) -> None:
    sent = await bot.send_photo(
        started_user.id, BufferedInputFile(png(64, 32), filename="chart.png")
    )

    assert sent.photo is not None
    assert (sent.photo[-1].width, sent.photo[-1].height) == (64, 32)
    file = await bot.get_file(sent.photo[-1].file_id)
    assert file.file_path is not None
    url = f"{emulator.url}/file/bot{emulator.token}/{file.file_path}"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        assert await response.read() == png(64, 32)


async def test_a_photo_must_be_a_picture(bot: Bot, started_user: User) -> None:
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(started_user.id, BufferedInputFile(b"not a picture", filename="x.png"))
    with pytest.raises(TelegramBadRequest, match="wrong file identifier/HTTP URL specified"):
        await bot.send_document(started_user.id, "no-such-file-id")

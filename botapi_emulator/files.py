"""Stored uploads: file ids, MIME types and picture sizes."""

from __future__ import annotations

import hashlib
import mimetypes
import secrets

from .models import StoredFile, Upload

MAX_UPLOAD = 50 * 1024 * 1024


def store_upload(files: dict[str, StoredFile], upload: Upload, kind: str) -> StoredFile:
    """Keeps an uploaded document or photo and returns its record with fresh Telegram ids."""
    digest = hashlib.sha256(upload.data).digest()
    unique = "AgAD" + secrets.token_urlsafe(3) + digest[:6].hex()
    prefix = "AgACAgIAAxkDAAI" if kind == "photo" else "BQACAgIAAxkDAAI"
    file_id = prefix + secrets.token_urlsafe(36)
    name = upload.filename or None
    mime: str | None
    if kind == "photo":
        mime = "image/jpeg"
        extension = ".jpg"
    else:
        guessed = mimetypes.guess_type(name or "")[0]
        declared = (
            upload.content_type if upload.content_type != "application/octet-stream" else None
        )
        mime = guessed or declared or "application/octet-stream"
        extension = mimetypes.guess_extension(mime) or ""
    folder = "photos" if kind == "photo" else "documents"
    stored = StoredFile(
        file_id=file_id,
        file_unique_id=unique,
        data=upload.data,
        file_name=name if kind != "photo" else None,
        mime_type=mime,
        file_path=f"{folder}/file_{len(files)}{extension}",
    )
    if kind == "photo":
        size = image_size(upload.data)
        if size is not None:
            stored.width, stored.height = size
    files[file_id] = stored
    return stored


def image_size(data: bytes) -> tuple[int, int] | None:
    """Returns (width, height) of a PNG, GIF, JPEG or WebP picture, or None for other data."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:4] == b"GIF8" and len(data) >= 10:
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 30:
        if data[12:16] == b"VP8X":
            width = 1 + int.from_bytes(data[24:27], "little")
            return width, 1 + int.from_bytes(data[27:30], "little")
        if data[12:16] == b"VP8 ":
            return (
                int.from_bytes(data[26:28], "little") & 0x3FFF,
                int.from_bytes(data[28:30], "little") & 0x3FFF,
            )
        return 1, 1
    if data[:2] == b"\xff\xd8":
        return _jpeg_size(data)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            i += 1 if marker == 0xFF else 2
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height = int.from_bytes(data[i + 5 : i + 7], "big")
            return int.from_bytes(data[i + 7 : i + 9], "big"), height
        i += 2 + length
    return None

"""What people send besides text: stickers, photos, locations, voice notes, contacts, documents.

`make_media(files, kind, spec, users)` returns the Message fields Telegram fills for that kind
(`{"sticker": Sticker}`, `{"photo": [PhotoSize, ...]}`, `{"location": Location}`,
`{"voice": Voice}`, `{"contact": Contact}`, `{"document": Document}`), storing a made-up file
for every file_id so that the bot's getFile and download work.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import mimetypes
import secrets
from typing import Any

from .errors import ControlError
from .models import JsonDict, StoredFile, User

MEDIA_KINDS = frozenset({"sticker", "photo", "location", "voice", "contact", "document"})
PHOTO_SIDES = (90, 320, 800, 1280)  # the sizes Telegram makes of a picture (longest side)
_PREFIX = {
    "sticker": "CAACAgIAAxkBAAI",
    "photo": "AgACAgIAAxkBAAI",
    "voice": "AwACAgIAAxkBAAI",
    "document": "BQACAgIAAxkBAAI",
}


def make_media(
    files: dict[str, StoredFile], kind: str, spec: JsonDict, users: dict[int, User]
) -> JsonDict:
    """Returns the Message fields of one non-text message; raises ControlError on bad specs.

    spec by kind: sticker {emoji="👍", set_name}; photo {width=1280, height=960};
    location {latitude, longitude, horizontal_accuracy}; voice {duration=2 (s)};
    contact {phone_number, first_name, last_name, user_id}; document {file_name="notes.txt",
    mime_type, content (text) or content_base64}.
    """
    if kind == "sticker":
        return {"sticker": _sticker(files, spec)}
    if kind == "photo":
        return {"photo": _photo(files, spec)}
    if kind == "location":
        return {"location": _location(spec)}
    if kind == "voice":
        duration = _int(spec.get("duration", 2), "duration")
        if not 1 <= duration <= 3600:
            raise ControlError(400, "duration is 1-3600 seconds")
        stored = _store(files, "voice", b"OggS" + secrets.token_bytes(64), "audio/ogg", None)
        return {"voice": {**_file_fields(stored), "duration": duration, "mime_type": "audio/ogg"}}
    if kind == "contact":
        return {"contact": _contact(spec, users)}
    if kind == "document":
        return {"document": _document(files, spec)}
    raise ControlError(400, f"kind must be one of {sorted(MEDIA_KINDS)}")


def _sticker(files: dict[str, StoredFile], spec: JsonDict) -> JsonDict:
    emoji = str(spec.get("emoji") or "👍")
    stored = _store(files, "sticker", b"RIFF\x00\x00\x00\x00WEBP" + emoji.encode(), "image/webp")
    stored.width = stored.height = 512
    sticker: JsonDict = {
        **_file_fields(stored),
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
        "emoji": emoji,
    }
    if spec.get("set_name"):
        sticker["set_name"] = str(spec["set_name"])
    return sticker


def _photo(files: dict[str, StoredFile], spec: JsonDict) -> list[JsonDict]:
    width = _int(spec.get("width", 1280), "width")
    height = _int(spec.get("height", 960), "height")
    if not (1 <= width <= 10_000 and 1 <= height <= 10_000):
        raise ControlError(400, "width and height are 1-10000 pixels")
    longest = max(width, height)
    sides = [side for side in PHOTO_SIDES if side < longest] + [min(longest, 2560)]
    sizes = []
    for side in sides:
        scale = side / longest
        w, h = max(1, round(width * scale)), max(1, round(height * scale))
        data = b"\xff\xd8\xff\xe0" + secrets.token_bytes(16 + side // 10)
        stored = _store(files, "photo", data, "image/jpeg")
        stored.width, stored.height = w, h
        sizes.append({**_file_fields(stored), "width": w, "height": h})
    return sizes


def _location(spec: JsonDict) -> JsonDict:
    try:
        latitude = float(spec["latitude"])
        longitude = float(spec["longitude"])
    except (KeyError, TypeError, ValueError):
        raise ControlError(400, "a location needs latitude and longitude") from None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise ControlError(400, "latitude is -90..90 and longitude -180..180")
    location: JsonDict = {"latitude": latitude, "longitude": longitude}
    if spec.get("horizontal_accuracy") is not None:
        accuracy = float(spec["horizontal_accuracy"])
        if not 0 <= accuracy <= 1500:
            raise ControlError(400, "horizontal_accuracy is 0-1500 meters")
        location["horizontal_accuracy"] = accuracy
    return location


def _contact(spec: JsonDict, users: dict[int, User]) -> JsonDict:
    phone = str(spec.get("phone_number") or "").strip()
    first_name = str(spec.get("first_name") or "").strip()
    if not phone or not first_name:
        raise ControlError(400, "a contact needs phone_number and first_name")
    contact: JsonDict = {"phone_number": phone, "first_name": first_name}
    if spec.get("last_name"):
        contact["last_name"] = str(spec["last_name"])
    if spec.get("user_id") is not None:
        user_id = _int(spec["user_id"], "user_id")
        if user_id not in users:
            raise ControlError(404, f"no user {user_id}")
        contact["user_id"] = user_id
    return contact


def _document(files: dict[str, StoredFile], spec: JsonDict) -> JsonDict:
    name = str(spec.get("file_name") or "notes.txt")
    if spec.get("content_base64") is not None:
        try:
            data = base64.b64decode(str(spec["content_base64"]), validate=True)
        except (binascii.Error, ValueError):
            raise ControlError(400, "content_base64 is not base64") from None
    else:
        data = str(spec.get("content", "Notes\n")).encode()
    if not data:
        raise ControlError(400, "a document is not empty")
    mime = spec.get("mime_type") or mimetypes.guess_type(name)[0] or "application/octet-stream"
    stored = _store(files, "document", data, str(mime), name)
    return {**_file_fields(stored), "file_name": name, "mime_type": str(mime)}


def _store(
    files: dict[str, StoredFile],
    kind: str,
    data: bytes,
    mime: str,
    name: str | None = None,
) -> StoredFile:
    digest = hashlib.sha256(data).digest()
    file_id = _PREFIX[kind] + secrets.token_urlsafe(36)
    extension = mimetypes.guess_extension(mime) or ""
    folder = {"sticker": "stickers", "photo": "photos", "voice": "voice"}.get(kind, "documents")
    stored = StoredFile(
        file_id=file_id,
        file_unique_id="AgAD" + secrets.token_urlsafe(3) + digest[:6].hex(),
        data=data,
        file_name=name,
        mime_type=mime,
        file_path=f"{folder}/file_{len(files)}{extension}",
    )
    files[file_id] = stored
    return stored


def _file_fields(stored: StoredFile) -> JsonDict:
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": len(stored.data),
    }


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ControlError(400, f"{name} must be an integer") from None

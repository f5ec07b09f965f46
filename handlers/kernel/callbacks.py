"""Typed button data: one class per kind of button, packed into Telegram's 64 bytes.

In the spirit of aiogram's `CallbackData` (aiogram/filters/callback_data.py), without a
framework: a subclass names its wire prefix and declares typed fields, and becomes a frozen
dataclass::

    class RsvpButton(CallbackData, prefix="rv"):
        action_id: int
        answer: str

    RsvpButton(7, "going").pack()        # "rv:7:going"
    RsvpButton.unpack("rv:7:going")      # RsvpButton(action_id=7, answer='going')

The wire format is ``prefix:field:field…`` in declaration order, so a class that keeps an old
prefix and field order reads the buttons of messages sent before it existed. Fields may be
`int` (a non-negative decimal number, canonical: no sign, no leading zero), `str` (without
":"), `bool` ("1"/"0"), an `Enum` with string values, or a `Literal` of strings. Trailing
fields with a default may be left out on the wire (and are left out when they equal it).

`pack()` raises `ValueError` at once for data Telegram would refuse (over 64 bytes, a ":" in a
field); `unpack()` raises `StaleButton` for anything malformed, forged, or of another kind.
The router hands the parsed object to the handler (`@router.button(RsvpButton)`).
"""

from __future__ import annotations

import dataclasses
import enum
import typing
from collections.abc import Callable
from typing import Any, ClassVar, Literal, Self, dataclass_transform

MAX_BYTES = 64
SEPARATOR = ":"


class StaleButton(Exception):
    """The button's data is malformed, forged, or belongs to a step that has passed."""


def pack(prefix: str, *parts: str | int) -> str:
    """Builds raw button data "prefix:part:part"; refuses anything over Telegram's 64 bytes."""
    texts = [str(part) for part in parts]
    if any(SEPARATOR in text for text in [prefix, *texts]):
        raise ValueError(f"button data part contains {SEPARATOR!r}: {[prefix, *texts]!r}")
    data = SEPARATOR.join([prefix, *texts])
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"button data over {MAX_BYTES} bytes: {data!r}")
    return data


def prefix_of(data: str) -> str:
    """The prefix of raw button data (what the router routes by); StaleButton if too long."""
    if not data or len(data.encode()) > MAX_BYTES:
        raise StaleButton(data)
    return data.split(SEPARATOR, 1)[0]


@dataclasses.dataclass(frozen=True, slots=True)
class _Codec:
    """How one field goes to and from its text on the wire."""

    name: str
    encode: Callable[[Any], str]
    decode: Callable[[str], Any]
    default: Any  # dataclasses.MISSING when the field is required


def _decode_int(text: str) -> int:
    if not text.isascii() or not text.isdigit() or str(int(text)) != text:
        raise ValueError(text)
    return int(text)


def _encode_int(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"not a non-negative int: {value!r}")
    return str(value)


def _decode_bool(text: str) -> bool:
    if text not in ("0", "1"):
        raise ValueError(text)
    return text == "1"


def _encode_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"not a str: {value!r}")
    return value


def _codec_for(name: str, kind: Any, default: Any) -> _Codec:
    if kind is bool:
        return _Codec(name, lambda v: "1" if v else "0", _decode_bool, default)
    if kind is int:
        return _Codec(name, _encode_int, _decode_int, default)
    if kind is str:
        return _Codec(name, _encode_str, str, default)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        enum_type: type[enum.Enum] = kind
        if not all(isinstance(member.value, str) for member in enum_type):
            raise TypeError(f"button field {name}: enum {kind.__name__} needs string values")
        return _Codec(name, lambda v: enum_type(v).value, enum_type, default)
    if typing.get_origin(kind) is Literal:
        allowed = typing.get_args(kind)
        if not all(isinstance(value, str) for value in allowed):
            raise TypeError(f"button field {name}: only Literal strings are supported")

        def check(text: str) -> str:
            if text not in allowed:
                raise ValueError(text)
            return text

        return _Codec(name, lambda v: check(_encode_str(v)), check, default)
    raise TypeError(f"button field {name}: unsupported type {kind!r}")


@dataclass_transform(frozen_default=True)
class CallbackData:
    """Base of typed button data; subclasses give `prefix=` and annotated fields."""

    __prefix__: ClassVar[str]
    __codecs__: ClassVar[tuple[_Codec, ...] | None]

    def __init_subclass__(cls, *, prefix: str | None = None, **kwargs: Any) -> None:
        """Makes the subclass a frozen dataclass; without `prefix` it is a shared base only."""
        super().__init_subclass__(**kwargs)
        if prefix is not None and (not prefix or SEPARATOR in prefix):
            raise ValueError(f"button prefix {prefix!r} must be non-empty, without {SEPARATOR!r}")
        if prefix is not None:
            cls.__prefix__ = prefix
        cls.__codecs__ = None
        dataclasses.dataclass(frozen=True)(cls)

    @classmethod
    def prefix(cls) -> str:
        """The wire prefix the router routes by (TypeError for a base without one)."""
        prefix: str | None = getattr(cls, "__prefix__", None)
        if prefix is None:
            raise TypeError(f"{cls.__name__} has no button prefix")
        return prefix

    @classmethod
    def codecs(cls) -> tuple[_Codec, ...]:
        """The fields' codecs in wire order (resolved once; TypeError for an unsupported type)."""
        if cls.__codecs__ is None:
            hints = typing.get_type_hints(cls)
            codecs = []
            for item in dataclasses.fields(cls):  # type: ignore[arg-type]
                codecs.append(_codec_for(item.name, hints[item.name], item.default))
            cls.__codecs__ = tuple(codecs)
        return cls.__codecs__

    def pack(self) -> str:
        """The data for a button: "prefix:field:…"; ValueError if Telegram would refuse it."""
        codecs = list(self.codecs())
        while codecs and getattr(self, codecs[-1].name) == codecs[-1].default:
            codecs.pop()
        return pack(self.prefix(), *(codec.encode(getattr(self, codec.name)) for codec in codecs))

    @classmethod
    def unpack(cls, data: str) -> Self:
        """Parses button data of this kind; StaleButton for anything malformed or forged."""
        if not data or len(data.encode()) > MAX_BYTES:
            raise StaleButton(data)
        prefix, *parts = data.split(SEPARATOR)
        codecs = cls.codecs()
        required = sum(1 for codec in codecs if codec.default is dataclasses.MISSING)
        if prefix != cls.prefix() or not required <= len(parts) <= len(codecs):
            raise StaleButton(data)
        values: dict[str, Any] = {}
        for codec, text in zip(codecs, parts, strict=False):
            try:
                values[codec.name] = codec.decode(text)
            except ValueError as exc:
                raise StaleButton(data) from exc
        try:
            return cls(**values)
        except (TypeError, ValueError) as exc:
            raise StaleButton(data) from exc

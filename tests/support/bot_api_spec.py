"""Conformance checks against the machine-readable Bot API (shared/telegram/bot-api.json).

The spec lives outside the project: `../shared/telegram/bot-api.json` from the project root, or
the path in CHORUS_BOT_API_SPEC. Tests that need it call `require_spec()`, which skips them with
a reason when the file is absent.

    problems = check_request("sendMessage", {"chat_id": 1, "text": "hi"})   # -> []
    problems = check_object("Message", message_dict)
    problems = check_log(emulator.state.request_log)
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from botapi_emulator.emulator import CLIENT_GONE

SPEC_ENV = "CHORUS_BOT_API_SPEC"
DEFAULT_SPEC = Path(__file__).resolve().parents[2].parent / "shared/telegram/bot-api.json"
_CONSTANT = re.compile(r"(?:always|must be) \"?([a-z_0-9]+)\"?\.?$")
# Fields newer than the spec's Bot API 10.1 that the installed aiogram (Bot API 10.3) requires,
# so the emulator must send them; they are accepted as known.
NEWER_FIELDS: dict[str, frozenset[str]] = {
    "ChatMemberAdministrator": frozenset({"can_send_welcome_messages"}),
}
_PRIMITIVES = frozenset({"Integer", "Float", "String", "Boolean", "True", "InputFile"})


def spec_path() -> Path:
    """Returns where the spec is looked for."""
    override = os.environ.get(SPEC_ENV)
    return Path(override) if override else DEFAULT_SPEC


class BotApiSpec:
    """The Bot API's methods and types, with checks of requests and returned objects."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.version = str(data.get("version", "?"))
        self.methods: dict[str, dict[str, Any]] = {
            name.lower(): entry for name, entry in data["methods"].items()
        }
        self.types: dict[str, dict[str, Any]] = dict(data["types"])

    # requests

    def check_request(self, method: str, params: Mapping[str, Any]) -> list[str]:
        """Returns the problems of one call: unknown method or parameter, missing, wrong type."""
        entry = self.methods.get(method.lower())
        if entry is None:
            return [f"{method}: unknown method"]
        fields = {f["name"]: f for f in entry.get("fields", [])}
        problems = [
            f"{method}: missing required parameter {name}"
            for name, f in fields.items()
            if f["required"] and params.get(name) is None
        ]
        for key, value in params.items():
            field = fields.get(key)
            if field is None:
                problems.append(f"{method}: unknown parameter {key}")
            elif value is not None:
                problems += self.check_value(field["types"], value, f"{method}.{key}", form=True)
        return problems

    def check_result(self, method: str, result: Any) -> list[str]:
        """Returns the problems of a method's result against its `returns` types."""
        entry = self.methods.get(method.lower())
        if entry is None:
            return [f"{method}: unknown method"]
        return self.check_value(entry["returns"], result, f"{entry['name']} result")

    def check_log(self, log: Iterable[Mapping[str, Any]]) -> list[str]:
        """Checks every logged request, and every successful result against its return type."""
        problems: list[str] = []
        for entry in log:
            if entry.get("error") == CLIENT_GONE:  # a killed client's request never arrived
                continue
            label = f"request #{entry.get('id', '?')}"
            method = str(entry["method"])
            problems += [f"{label} {p}" for p in self.check_request(method, entry["params"])]
            if entry.get("status") == 200 and method.lower() in self.methods:
                problems += [f"{label} {p}" for p in self.check_result(method, entry["result"])]
        return problems

    # values and objects

    def check_value(
        self, types: list[str], value: Any, path: str, *, form: bool = False
    ) -> list[str]:
        """Checks a value against one or several (union) types; `form` decodes form strings."""
        best: list[str] | None = None
        for type_name in types:
            problems = self._check_type(type_name, value, path, form)
            if not problems:
                return []
            if best is None or len(problems) < len(best):
                best = problems
        if len(types) == 1 or best is None:
            return best or []
        return [f"{path}: {_short(value)} is none of {' / '.join(types)}", *best]

    def _check_type(self, type_name: str, value: Any, path: str, form: bool) -> list[str]:
        if type_name.startswith("Array of "):
            inner = type_name.removeprefix("Array of ")
            value = _decode_json(value) if form else value
            if not isinstance(value, list):
                return [f"{path}: expected {type_name}, got {_short(value)}"]
            problems: list[str] = []
            for index, item in enumerate(value):
                problems += self.check_value([inner], item, f"{path}[{index}]")
            return problems
        if type_name in _PRIMITIVES:
            return (
                []
                if _is_primitive(type_name, value, form)
                else [f"{path}: expected {type_name}, got {_short(value)}"]
            )
        if type_name not in self.types:
            return [f"{path}: the spec has no type {type_name}"]
        return self.check_object(type_name, _decode_json(value) if form else value, path)

    def check_object(self, type_name: str, obj: Any, path: str | None = None) -> list[str]:
        """Checks an object: required fields present, no unknown fields, nested types, unions."""
        path = path or type_name
        spec = self.types.get(type_name)
        if spec is None:
            return [f"{path}: the spec has no type {type_name}"]
        subtypes = spec.get("subtypes")
        if subtypes:
            results = [(name, self.check_object(name, obj, path)) for name in subtypes]
            for _, problems in results:
                if not problems:
                    return []
            name, problems = min(results, key=lambda item: len(item[1]))
            return [f"{path}: matches no {type_name} subtype; closest is {name}", *problems]
        if not isinstance(obj, dict):
            return [f"{path}: expected a {type_name} object, got {_short(obj)}"]
        fields = {f["name"]: f for f in spec.get("fields", [])}
        problems = [
            f"{path}: missing required field {name}"
            for name, f in fields.items()
            if f["required"] and name not in obj
        ]
        for key, value in obj.items():
            field = fields.get(key)
            if field is None:
                if key not in NEWER_FIELDS.get(type_name, ()):
                    problems.append(f"{path}: unknown field {key}")
                continue
            problems += self.check_value(field["types"], value, f"{path}.{key}")
            constant = _constant(field)
            if constant is not None and value != constant:
                problems.append(f"{path}.{key}: must be {constant!r}, got {_short(value)}")
        return problems


def _constant(field: Mapping[str, Any]) -> Any:
    """Returns the fixed value a discriminator field must have ("always …" / "must be …")."""
    description = str(field.get("description", ""))
    if field["name"] in ("type", "status", "source") and field["types"] == ["String"]:
        match = _CONSTANT.search(description)
        return match.group(1) if match else None
    if field["types"] == ["Integer"] and description.startswith("Always 0"):
        return 0
    return None


def _decode_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _is_primitive(type_name: str, value: Any, form: bool) -> bool:
    if form and isinstance(value, str) and type_name != "String":
        value = _decode_form_scalar(type_name, value)
    if type_name == "Integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name == "Float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if type_name == "String":
        return isinstance(value, str)
    if type_name == "Boolean":
        return isinstance(value, bool)
    if type_name == "True":
        return value is True
    if isinstance(value, str):
        return value.startswith("attach://")
    return isinstance(value, dict) and "input_file" in value


def _decode_form_scalar(type_name: str, value: str) -> Any:
    if type_name in ("Boolean", "True"):
        return {"true": True, "false": False}.get(value.lower(), value)
    if type_name == "Integer" and re.fullmatch(r"-?\d+", value):
        return int(value)
    if type_name == "Float":
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@functools.cache
def _load(path: str) -> BotApiSpec | None:
    file = Path(path)
    if not file.is_file():
        return None
    return BotApiSpec(json.loads(file.read_text(encoding="utf-8")))


def load_spec() -> BotApiSpec | None:
    """Returns the spec, or None when the file is absent."""
    return _load(str(spec_path()))


def require_spec() -> BotApiSpec:
    """Returns the spec, or skips the calling test with a reason when it is absent."""
    import pytest

    spec = load_spec()
    if spec is None:
        pytest.skip(f"Bot API spec not found at {spec_path()} (set {SPEC_ENV} to point at it)")
    return spec


def check_request(method: str, params: Mapping[str, Any]) -> list[str]:
    """check_request of the default spec (skips the test if the spec is absent)."""
    return require_spec().check_request(method, params)


def check_object(type_name: str, obj: Any) -> list[str]:
    """check_object of the default spec (skips the test if the spec is absent)."""
    return require_spec().check_object(type_name, obj)


def check_log(log: Iterable[Mapping[str, Any]]) -> list[str]:
    """check_log of the default spec (skips the test if the spec is absent)."""
    return require_spec().check_log(log)

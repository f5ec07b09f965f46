"""The control API under /control/: make people and groups, act as them, read chats, tune faults."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import fields
from typing import Any

import orjson
from aiohttp import web

from .errors import ControlError
from .faults import FaultRule
from .limits import RateLimits
from .media import MEDIA_KINDS
from .models import JsonDict
from .state import EmulatorState
from .views import chat_summary, chat_view
from .world import SYSTEM_USER_IDS

Route = Callable[[web.Request], Awaitable[web.StreamResponse]]
log = logging.getLogger(__name__)
STATE_KEY: web.AppKey[EmulatorState] = web.AppKey("sandbox_state", EmulatorState)


def json_response(data: Any, status: int = 200) -> web.Response:
    """Encodes a control-API answer with orjson."""
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


@web.middleware
async def control_errors(request: web.Request, handler: Route) -> web.StreamResponse:
    """Turns ControlError and bad input into `{"error": ...}` answers."""
    if not request.path.startswith("/control/"):
        return await handler(request)
    try:
        return await handler(request)
    except ControlError as error:
        return json_response({"error": error.message}, error.status)
    except (KeyError, TypeError, ValueError) as error:
        log.warning("control request %s %s refused: %r", request.method, request.path, error)
        return json_response({"error": f"bad request: {error}"}, 400)


async def _body(request: web.Request) -> JsonDict:
    raw = await request.read()
    if not raw:
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ControlError(400, "the body must be JSON") from None
    if not isinstance(data, dict):
        raise ControlError(400, "the body must be a JSON object")
    return data


def _optional_int(body: JsonDict, name: str) -> int | None:
    return _int(body[name], name) if body.get(name) is not None else None


def _state(request: web.Request) -> EmulatorState:
    return request.app[STATE_KEY]


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ControlError(400, f"{name} must be an integer") from None


async def index(request: web.Request) -> web.Response:
    """Describes the bot and where its Bot API lives."""
    state = _state(request)
    return json_response(
        {"bot": state.get_me(), "token": state.token, "api_path": f"/bot{state.token}/"}
    )


async def reset(request: web.Request) -> web.Response:
    """Forgets everything but the bot."""
    _state(request).reset()
    return json_response({"ok": True})


async def list_users(request: web.Request) -> web.Response:
    """Lists the people."""
    state = _state(request)
    return json_response(
        [u.to_api() for u in state.users.values() if not u.is_bot and u.id not in SYSTEM_USER_IDS]
    )


async def create_user(request: web.Request) -> web.Response:
    """Creates a person: first_name, last_name, username, language_code, id."""
    body = await _body(request)
    user = _state(request).create_user(
        str(body.get("first_name", "")),
        body.get("last_name"),
        body.get("username"),
        body.get("language_code"),
        user_id=_int(body["id"], "id") if body.get("id") is not None else None,
        is_premium=bool(body.get("is_premium", False)),
    )
    return json_response(user.to_api(), 201)


async def block(request: web.Request) -> web.Response:
    """The person blocks the bot."""
    state = _state(request)
    state.block_bot(_int(request.match_info["user_id"], "user_id"))
    return json_response({"ok": True})


async def unblock(request: web.Request) -> web.Response:
    """The person unblocks the bot."""
    state = _state(request)
    state.unblock_bot(_int(request.match_info["user_id"], "user_id"))
    return json_response({"ok": True})


async def create_group(request: web.Request) -> web.Response:
    """Creates a group: title, type (group|supergroup), member_ids, creator_id, bot_status."""
    body = await _body(request)
    state = _state(request)
    chat = state.create_group(
        str(body.get("title") or "Group"),
        [_int(uid, "member_ids") for uid in body.get("member_ids", [])],
        type=str(body.get("type", "group")),
        creator_id=_int(body["creator_id"], "creator_id") if body.get("creator_id") else None,
        bot_status=str(body.get("bot_status", "member")),
        username=body.get("username"),
        is_forum=bool(body.get("is_forum", False)),
    )
    return json_response(chat_summary(state, chat), 201)


async def create_topic(request: web.Request) -> web.Response:
    """Opens a forum topic: name, by (default: the creator), icon_color; returns ForumTopic."""
    body = await _body(request)
    state = _state(request)
    topic = state.create_topic(
        _int(request.match_info["chat_id"], "chat_id"),
        str(body.get("name", "")),
        by=_int(body["by"], "by") if body.get("by") is not None else None,
        icon_color=_int(body["icon_color"], "icon_color") if body.get("icon_color") else None,
    )
    return json_response(topic.to_api(), 201)


async def set_anonymous(request: web.Request) -> web.Response:
    """Makes a group admin anonymous (body: anonymous, default true)."""
    body = await _body(request)
    state = _state(request)
    chat_id = _int(request.match_info["chat_id"], "chat_id")
    state.set_anonymous(
        chat_id,
        _int(request.match_info["user_id"], "user_id"),
        bool(body.get("anonymous", True)),
    )
    return json_response(chat_summary(state, state.chat(chat_id)))


async def create_channel(request: web.Request) -> web.Response:
    """Creates a channel: title, creator_id, username, discussion_group_id."""
    body = await _body(request)
    state = _state(request)
    group = body.get("discussion_group_id")
    channel = state.create_channel(
        str(body.get("title") or "Channel"),
        creator_id=_int(body.get("creator_id"), "creator_id"),
        username=body.get("username"),
        discussion_group_id=_int(group, "discussion_group_id") if group is not None else None,
    )
    return json_response(chat_summary(state, channel), 201)


async def channel_post(request: web.Request) -> web.Response:
    """Posts in a channel (text); returns the post and its copy in the discussion group."""
    body = await _body(request)
    state = _state(request)
    post, copy = state.channel_post(
        _int(request.match_info["chat_id"], "chat_id"), str(body.get("text", ""))
    )
    return json_response(
        {
            "message": state.message_api(post),
            "forwarded": state.message_api(copy) if copy is not None else None,
        },
        201,
    )


async def list_chats(request: web.Request) -> web.Response:
    """Lists every chat with its version."""
    state = _state(request)
    return json_response([chat_summary(state, c) for c in state.chats.values()])


async def read_chat(request: web.Request) -> web.Response:
    """Shows a chat; with ?after_version=V&timeout=T waits until its version exceeds V."""
    state = _state(request)
    chat = state.chat(_int(request.match_info["chat_id"], "chat_id"))
    after = request.query.get("after_version")
    if after is not None:
        timeout = min(float(request.query.get("timeout", "10")), 60.0)
        await state.wait_chat(chat, _int(after, "after_version"), timeout)
    state.tick()
    return json_response(chat_view(state, chat))


async def add_member(request: web.Request) -> web.Response:
    """Adds a person (or the bot, by its id) to a group: user_id, status, by."""
    body = await _body(request)
    state = _state(request)
    chat_id = _int(request.match_info["chat_id"], "chat_id")
    state.add_member(
        chat_id,
        _int(body.get("user_id"), "user_id"),
        status=str(body.get("status", "member")),
        by=_int(body["by"], "by") if body.get("by") is not None else None,
    )
    return json_response(chat_summary(state, state.chat(chat_id)))


async def remove_member(request: web.Request) -> web.Response:
    """Removes a person (or the bot) from a group; ?kicked=1 bans them."""
    state = _state(request)
    chat_id = _int(request.match_info["chat_id"], "chat_id")
    kicked = request.query.get("kicked", "") in ("1", "true")
    by = request.query.get("by")
    state.remove_member(
        chat_id,
        _int(request.match_info["user_id"], "user_id"),
        kicked=kicked,
        by=_int(by, "by") if by else None,
    )
    return json_response(chat_summary(state, state.chat(chat_id)))


async def migrate(request: web.Request) -> web.Response:
    """Upgrades a group to a supergroup and returns the new chat."""
    body = await _body(request)
    state = _state(request)
    new = state.migrate(
        _int(request.match_info["chat_id"], "chat_id"),
        by=_int(body["by"], "by") if body.get("by") is not None else None,
    )
    return json_response(chat_summary(state, new), 201)


async def send_message(request: web.Request) -> web.Response:
    """A person writes: user_id, chat_id (default: their private chat), reply_to_message_id,
    message_thread_id (a forum topic), as_chat_id (a channel they own), and either text or one
    of sticker, photo, location, voice, contact, document (an object, see media.make_media)
    with an optional caption."""
    body = await _body(request)
    state = _state(request)
    user_id = _int(body.get("user_id"), "user_id")
    where: dict[str, Any] = {
        "chat_id": _optional_int(body, "chat_id"),
        "reply_to": _optional_int(body, "reply_to_message_id"),
        "thread_id": _optional_int(body, "message_thread_id"),
        "as_chat": _optional_int(body, "as_chat_id"),
    }
    kinds = [kind for kind in MEDIA_KINDS if body.get(kind) is not None]
    if len(kinds) > 1 or (kinds and body.get("text") is not None):
        raise ControlError(400, "send text or one kind of media, not several")
    if kinds:
        spec = body[kinds[0]]
        if not isinstance(spec, dict):
            raise ControlError(400, f"{kinds[0]} must be an object")
        caption = body.get("caption")
        message = state.send_media(
            user_id,
            kinds[0],
            spec,
            caption=str(caption) if caption is not None else None,
            **where,
        )
    else:
        message = state.send_text(user_id, str(body.get("text", "")), **where)
    chat = state.chats[message.chat_id]
    return json_response({"message": state.message_api(message), "version": chat.version}, 201)


async def press(request: web.Request) -> web.Response:
    """A person presses a button: user_id, chat_id, message_id, data or label, wait (s)."""
    body = await _body(request)
    state = _state(request)
    user_id = _int(body.get("user_id"), "user_id")
    chat_id = _int(body.get("chat_id", user_id), "chat_id")
    data = body.get("data")
    query = state.press_button(
        user_id,
        chat_id,
        _int(body.get("message_id"), "message_id"),
        data=str(data) if data is not None else None,
        label=body.get("label"),
    )
    chat = state.chats[chat_id]
    version, last_message_id = chat.version, chat.next_message_id - 1
    answer = await state.wait_answer(query.id, min(float(body.get("wait", 0)), 60.0))
    return json_response(
        {
            "callback_query_id": query.id,
            "version": version,
            "last_message_id": last_message_id,
            "answer": answer,
        }
    )


async def vote(request: web.Request) -> web.Response:
    """A person answers a poll: user_id, option_ids, and poll_id or chat_id + message_id."""
    body = await _body(request)
    state = _state(request)
    option_ids = body.get("option_ids")
    if not isinstance(option_ids, list):
        raise ControlError(400, "option_ids must be a list")
    poll = state.vote(
        _int(body.get("user_id"), "user_id"),
        [_int(i, "option_ids") for i in option_ids],
        poll_id=str(body["poll_id"]) if body.get("poll_id") is not None else None,
        chat_id=_int(body["chat_id"], "chat_id") if body.get("chat_id") is not None else None,
        message_id=(
            _int(body["message_id"], "message_id") if body.get("message_id") is not None else None
        ),
    )
    chat = state.chats[poll.chat_id]
    return json_response(
        {
            "poll": poll.to_api(),
            "version": chat.version,
            "last_message_id": chat.next_message_id - 1,
        }
    )


async def requests_log(request: web.Request) -> web.Response:
    """Lists logged Bot API requests; ?method=sendMessage filters (case-insensitive)."""
    state = _state(request)
    method = request.query.get("method", "").lower()
    entries = [e for e in state.request_log if not method or e["method"].lower() == method]
    return json_response(entries)


async def clear_requests(request: web.Request) -> web.Response:
    """Empties the request log."""
    _state(request).request_log.clear()
    return json_response({"ok": True})


async def pending_updates(request: web.Request) -> web.Response:
    """Lists updates not yet confirmed by the bot."""
    return json_response(list(_state(request).updates))


async def confirmed_updates(request: web.Request) -> web.Response:
    """Lists the updates the bot confirmed, oldest first (the last 10,000)."""
    return json_response(list(_state(request).confirmed))


async def redeliver(request: web.Request) -> web.Response:
    """Delivers a confirmed update again, as Telegram does after a bot crashed unconfirmed."""
    update_id = _int(request.match_info["update_id"], "update_id")
    return json_response(_state(request).redeliver(update_id))


async def commands(request: web.Request) -> web.Response:
    """Lists the command sets stored by setMyCommands, by scope and language."""
    state = _state(request)
    return json_response(
        [
            {"scope": scope, "language_code": language, "commands": items}
            for (scope, language), items in state.commands.items()
        ]
    )


async def get_limits(request: web.Request) -> web.Response:
    """Shows the rate limits."""
    return json_response(_state(request).limiter.limits.to_dict())


async def set_limits(request: web.Request) -> web.Response:
    """Changes rate limits (any subset of the fields; `enabled: false` turns them off)."""
    body = await _body(request)
    limiter = _state(request).limiter
    names = {f.name for f in fields(RateLimits)}
    unknown = set(body) - names
    if unknown:
        raise ControlError(400, f"unknown rate limit fields: {sorted(unknown)}")
    limiter.configure(RateLimits(**{**limiter.limits.to_dict(), **body}))
    return json_response(limiter.limits.to_dict())


async def list_faults(request: web.Request) -> web.Response:
    """Lists fault rules with their remaining counts."""
    return json_response([r.to_dict() for r in _state(request).faults.rules])


async def add_fault(request: web.Request) -> web.Response:
    """Adds a fault rule (see FaultRule)."""
    body = await _body(request)
    rule = _state(request).faults.add(FaultRule.from_dict(body))
    return json_response(rule.to_dict(), 201)


async def clear_faults(request: web.Request) -> web.Response:
    """Removes every fault rule."""
    _state(request).faults.clear()
    return json_response({"ok": True})


async def download(request: web.Request) -> web.Response:
    """Serves a file the bot sent."""
    stored = _state(request).files.get(request.match_info["file_id"])
    if stored is None:
        raise ControlError(404, "no such file")
    headers = {}
    if stored.file_name:
        headers["Content-Disposition"] = f'attachment; filename="{stored.file_name}"'
    return web.Response(
        body=stored.data,
        content_type=stored.mime_type or "application/octet-stream",
        headers=headers,
    )


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: one `data:` line per chat change ({"type", "chat_id", "version"})."""
    state = _state(request)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    queue = state.listen()
    try:
        await response.write(b": connected\n\n")
        while not state.closed:
            try:
                event = await asyncio.wait_for(queue.get(), 15)
            except TimeoutError:
                await response.write(b": ping\n\n")
                continue
            await response.write(b"data: " + orjson.dumps(event) + b"\n\n")
    except ConnectionResetError:
        pass
    finally:
        state.unlisten(queue)
    return response


def add_routes(app: web.Application) -> None:
    """Registers the control API."""
    app.router.add_routes(
        [
            web.get("/control/", index),
            web.post("/control/reset", reset),
            web.get("/control/users", list_users),
            web.post("/control/users", create_user),
            web.post("/control/users/{user_id}/block", block),
            web.post("/control/users/{user_id}/unblock", unblock),
            web.post("/control/groups", create_group),
            web.get("/control/chats", list_chats),
            web.get("/control/chats/{chat_id}", read_chat),
            web.post("/control/chats/{chat_id}/members", add_member),
            web.delete("/control/chats/{chat_id}/members/{user_id}", remove_member),
            web.post("/control/chats/{chat_id}/migrate", migrate),
            web.post("/control/chats/{chat_id}/topics", create_topic),
            web.post("/control/chats/{chat_id}/members/{user_id}/anonymous", set_anonymous),
            web.post("/control/channels", create_channel),
            web.post("/control/channels/{chat_id}/posts", channel_post),
            web.post("/control/messages", send_message),
            web.post("/control/press", press),
            web.post("/control/votes", vote),
            web.get("/control/requests", requests_log),
            web.delete("/control/requests", clear_requests),
            web.get("/control/updates", pending_updates),
            web.get("/control/updates/confirmed", confirmed_updates),
            web.post("/control/updates/{update_id}/redeliver", redeliver),
            web.get("/control/commands", commands),
            web.get("/control/rate-limits", get_limits),
            web.put("/control/rate-limits", set_limits),
            web.get("/control/faults", list_faults),
            web.post("/control/faults", add_fault),
            web.delete("/control/faults", clear_faults),
            web.get("/control/files/{file_id}", download),
            web.get("/control/events", events),
        ]
    )

"""The sandbox page: a Telegram-like chat client at `/`, and the control routes it relies on.

The page is static HTML, CSS and JavaScript from `static/` (no build step, no CDN). Beyond the
control API it reads a person's chat list and command menu, and moves the sandbox's clock
through a hook that `chorus sandbox` installs (a bare emulator has no clock to move).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from .control import STATE_KEY, json_response
from .errors import ControlError
from .models import Chat, JsonDict
from .state import EmulatorState
from .views import chat_summary, message_view

STATIC = Path(__file__).parent / "static"
MAX_ADVANCE = 366 * 24 * 3600


@dataclass
class SandboxPage:
    """What the page shows beyond the emulator: people's roles, and how to move time.

    `roles`: fixed labels; `current_roles`, when set, reads them as they stand at each ask
    (a newcomer who registers is labelled so: `chorus sandbox` asks the bot's database)."""

    roles: dict[int, str] = field(default_factory=dict)
    advance_clock: Callable[[float], Awaitable[None]] | None = None
    current_roles: Callable[[], Awaitable[dict[int, str]]] | None = None

    async def roles_now(self) -> JsonDict:
        """People's labels as they stand, by user id (as a string: JSON's keys)."""
        roles = self.roles if self.current_roles is None else await self.current_roles()
        return {str(k): v for k, v in roles.items()}


PAGE_KEY: web.AppKey[SandboxPage] = web.AppKey("sandbox_page", SandboxPage)


def _state(request: web.Request) -> EmulatorState:
    return request.app[STATE_KEY]


def _user_id(request: web.Request) -> int:
    try:
        return int(request.match_info["user_id"])
    except ValueError:
        raise ControlError(400, "user_id must be an integer") from None


async def index(request: web.Request) -> web.FileResponse:
    """Serves the page."""
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})


def clock_view(state: EmulatorState, page: SandboxPage) -> JsonDict:
    """The sandbox's current time, and whether the page may move it."""
    now = state.now()
    return {
        "now": now,
        "iso": datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"),
        "movable": page.advance_clock is not None,
    }


async def page_info(request: web.Request) -> web.Response:
    """What the page needs at start: the bot, people's roles, the clock."""
    state, page = _state(request), request.app[PAGE_KEY]
    return json_response(
        {
            "bot": state.get_me(),
            "roles": await page.roles_now(),
            "clock": clock_view(state, page),
        }
    )


async def get_roles(request: web.Request) -> web.Response:
    """People's labels as they stand now (the page asks again when a private chat changes)."""
    return json_response(await request.app[PAGE_KEY].roles_now())


async def get_clock(request: web.Request) -> web.Response:
    """Shows the sandbox's current time."""
    return json_response(clock_view(_state(request), request.app[PAGE_KEY]))


async def advance_clock(request: web.Request) -> web.Response:
    """Moves the sandbox's time forward by `advance_seconds` and lets due timers fire."""
    state, page = _state(request), request.app[PAGE_KEY]
    if page.advance_clock is None:
        raise ControlError(409, "this emulator's clock cannot be moved (chorus sandbox can)")
    body = await request.json() if request.body_exists else {}
    seconds = body.get("advance_seconds") if isinstance(body, dict) else None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        seconds = 0
    if not 0 < seconds <= MAX_ADVANCE:
        raise ControlError(400, f"advance_seconds must be a number from 1 to {MAX_ADVANCE}")
    await page.advance_clock(float(seconds))
    state.tick()
    view = clock_view(state, page)
    state.broadcast({"type": "clock", "now": view["now"]})
    return json_response(view)


async def person_chats(request: web.Request) -> web.Response:
    """The chats a person sees in their list, the most recently active first."""
    state = _state(request)
    user = state.user(_user_id(request))
    chats = [
        chat
        for chat in state.chats.values()
        if chat.id == user.id or (chat.type != "private" and user.id in chat.members)
    ]
    entries = [_entry(state, chat, user.id) for chat in chats]
    entries.sort(key=lambda e: (e["last"]["date"] if e["last"] else 0, e["id"]), reverse=True)
    return json_response(entries)


def _entry(state: EmulatorState, chat: Chat, user_id: int) -> JsonDict:
    live = chat.live_messages()
    return {
        **chat_summary(state, chat),
        "status": chat.status_of(user_id),
        "last": message_view(state, live[-1]) if live else None,
    }


async def person_commands(request: web.Request) -> web.Response:
    """The bot's command menu as Telegram shows it to a person in a chat (?chat_id=)."""
    state = _state(request)
    user = state.user(_user_id(request))
    chat = state.chat(int(request.query.get("chat_id", user.id)))
    if chat.type == "private":
        scopes = [f"chat:{chat.id}", "all_private_chats", "default"]
    else:
        admin = chat.status_of(user.id) in ("creator", "administrator")
        scopes = [
            f"chat_member:{chat.id}:{user.id}",
            *([f"chat_administrators:{chat.id}"] if admin else []),
            f"chat:{chat.id}",
            *(["all_chat_administrators"] if admin else []),
            "all_group_chats",
            "default",
        ]
    language = user.language_code or ""
    for scope in scopes:
        for code in (language, ""):
            found = state.commands.get((scope, code))
            if found:
                return json_response(found)
    return json_response([])


def add_routes(app: web.Application, page: SandboxPage) -> None:
    """Serves the page and its static files, and registers the routes it uses."""
    app[PAGE_KEY] = page
    app.router.add_get("/", index)
    app.router.add_static("/static/", STATIC, append_version=False)
    app.router.add_routes(
        [
            web.get("/control/page", page_info),
            web.get("/control/roles", get_roles),
            web.get("/control/clock", get_clock),
            web.post("/control/clock", advance_clock),
            web.get("/control/people/{user_id}/chats", person_chats),
            web.get("/control/people/{user_id}/commands", person_commands),
        ]
    )

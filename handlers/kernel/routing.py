"""Routes commands, typed button data, dialog answers and other events to handler functions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from handlers.kernel.callbacks import CallbackData
from handlers.kernel.context import Context

B = TypeVar("B", bound=CallbackData)
Handler = Callable[[Context], Awaitable[None]]
ButtonHandler = Callable[[Context, B], Awaitable[None]]
Guard = Callable[[Context], Awaitable[bool]]


@dataclass(frozen=True, slots=True)
class Route:
    """A handler with the guards every router above it added."""

    handler: Handler
    guards: tuple[Guard, ...]

    async def __call__(self, ctx: Context) -> None:
        for guard in self.guards:
            if not await guard(ctx):
                return
        await self.handler(ctx)


class Router:
    """One conversation area's routes; parents add shared guards once when including it."""

    def __init__(self, name: str, *, guards: Sequence[Guard] = ()) -> None:
        self.name = name
        self.guards = tuple(guards)
        self.commands: dict[str, Route] = {}
        self.buttons: dict[str, Route] = {}
        self.dialogs: dict[str, Route] = {}
        self.events: dict[str, list[Route]] = {}

    def _route(self, handler: Handler, guards: Sequence[Guard]) -> Route:
        return Route(handler, (*self.guards, *guards))

    def command(self, *names: str, guards: Sequence[Guard] = ()) -> Callable[[Handler], Handler]:
        """Routes `/name` to the handler."""

        def register(handler: Handler) -> Handler:
            for name in names:
                if name in self.commands:
                    raise ValueError(f"command /{name} routed twice")
                self.commands[name] = self._route(handler, guards)
            return handler

        return register

    def button(
        self, kind: type[B], guards: Sequence[Guard] = ()
    ) -> Callable[[ButtonHandler[B]], ButtonHandler[B]]:
        """Routes presses of buttons of `kind` to the handler, with the parsed button data.

        The data is parsed after the guards have passed; malformed or forged data raises
        `StaleButton`, which the dispatcher answers politely.
        """
        prefix = kind.prefix()
        kind.codecs()  # an unsupported field type fails at start-up, not at the first press

        def register(handler: ButtonHandler[B]) -> ButtonHandler[B]:
            if prefix in self.buttons:
                raise ValueError(f"button prefix {prefix!r} routed twice")

            async def parsed(ctx: Context) -> None:
                await handler(ctx, kind.unpack(ctx.event.data or ""))

            parsed.__name__ = handler.__name__
            parsed.__doc__ = handler.__doc__
            self.buttons[prefix] = self._route(parsed, guards)
            return handler

        return register

    def dialog(self, flow: str, guards: Sequence[Guard] = ()) -> Callable[[Handler], Handler]:
        """Routes text typed during the dialog `flow` to the handler."""

        def register(handler: Handler) -> Handler:
            if flow in self.dialogs:
                raise ValueError(f"dialog {flow!r} routed twice")
            self.dialogs[flow] = self._route(handler, guards)
            return handler

        return register

    def on(self, kind: str, guards: Sequence[Guard] = ()) -> Callable[[Handler], Handler]:
        """Routes other events (poll_answer, membership, bot_membership, migration, text)."""

        def register(handler: Handler) -> Handler:
            self.events.setdefault(kind, []).append(self._route(handler, guards))
            return handler

        return register

    def timer(self, kind: str, guards: Sequence[Guard] = ()) -> Callable[[Handler], Handler]:
        """Routes the firing of timers of `kind` (scheduled with ctx.schedule) to the handler."""
        return self.on(f"timer:{kind}", guards)

    def include(self, child: Router) -> None:
        """Adopts a child's routes, putting this router's guards in front of theirs."""
        for table, child_table in (
            (self.commands, child.commands),
            (self.buttons, child.buttons),
            (self.dialogs, child.dialogs),
        ):
            for key, route in child_table.items():
                if key in table:
                    raise ValueError(f"{key!r} routed twice (in {child.name})")
                table[key] = Route(route.handler, (*self.guards, *route.guards))
        for kind, routes in child.events.items():
            self.events.setdefault(kind, []).extend(
                Route(route.handler, (*self.guards, *route.guards)) for route in routes
            )

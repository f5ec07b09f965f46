"""Shared rules, applied once where a router is included: where and by whom a route may run."""

from __future__ import annotations

from handlers.context import Context
from handlers.events import EventKind
from storage import roles

COORDINATOR_ROLES = frozenset({roles.OWNER, roles.COORDINATOR})


def _refuse(ctx: Context, key: str) -> None:
    if ctx.event.kind is EventKind.CALLBACK:
        ctx.answer(ctx.t(key), alert=True)
    else:
        ctx.reply(ctx.t(key))


async def private_only(ctx: Context) -> bool:
    """Lets the route run in a private chat only."""
    if ctx.event.chat.is_private:
        return True
    _refuse(ctx, "errors.private_only")
    return False


async def group_only(ctx: Context) -> bool:
    """Lets the route run in a group chat only."""
    if ctx.event.chat.is_group:
        return True
    _refuse(ctx, "errors.group_only")
    return False


async def registered_only(ctx: Context) -> bool:
    """Lets the route run for registered volunteers only."""
    if ctx.volunteer is not None:
        return True
    _refuse(ctx, "errors.not_registered")
    return False


def is_coordinator(ctx: Context) -> bool:
    """True for coordinators and owners."""
    return bool(ctx.roles & COORDINATOR_ROLES)


async def coordinator_only(ctx: Context) -> bool:
    """Lets the route run for coordinators only."""
    if is_coordinator(ctx):
        return True
    _refuse(ctx, "errors.coordinators_only")
    return False

"""Shared rules, applied once where a router is included: where and by whom a route may run."""

from __future__ import annotations

from handlers.context import Context
from handlers.events import EventKind
from storage import audit, roles

# Owner, chair, secretariat, coordinator, volunteer coordinator (see the table in handlers/roles.py)
COORDINATOR_ROLES = roles.COORDINATORS
WAITING_STATUSES = frozenset({"applicant", "rejected"})  # registered, not (yet) a member


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
    if ctx.volunteer is not None and ctx.volunteer.status not in WAITING_STATUSES:
        return True
    if ctx.volunteer is not None:
        _refuse(ctx, f"membership.refused.{ctx.volunteer.status}")
        return False
    _refuse(ctx, "errors.not_registered")
    return False


def is_coordinator(ctx: Context) -> bool:
    """True for coordinators and owners."""
    return bool(ctx.roles & COORDINATOR_ROLES)


async def coordinator_only(ctx: Context) -> bool:
    """Lets the route run for coordinators only."""
    if is_coordinator(ctx):
        await audit_command(ctx)
        return True
    _refuse(ctx, "errors.coordinators_only")
    return False


async def audit_command(ctx: Context) -> None:
    """Writes an admin command (not its buttons or typed answers) to the audit log."""
    text = ctx.event.text or ""
    if ctx.event.kind is not EventKind.MESSAGE or not text.startswith("/"):
        return
    name = text[1:].split(maxsplit=1)[0].split("@")[0].lower() if len(text) > 1 else ""
    if name:
        await audit.record(ctx.session, ctx.user_id, f"command.{name}"[:64], ctx.now())

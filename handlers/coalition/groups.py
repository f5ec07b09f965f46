"""Keeps track of the groups the bot is in and of their members."""

from __future__ import annotations

from handlers.kernel.context import Context
from handlers.kernel.routing import Router
from storage.coalition import group_store

router = Router("groups")


@router.on("bot_membership")
async def bot_added_or_removed(ctx: Context) -> None:
    """Remembers the groups the bot was added to or removed from."""
    chat = ctx.event.chat
    if not chat.is_group:
        return
    if ctx.event.member_status in group_store.PRESENT:
        await group_store.joined(ctx.session, chat.id, chat.title or "", chat.type.value, ctx.now())
        await group_store.set_member(ctx.session, chat.id, ctx.user_id, "member", ctx.now())
    else:
        await group_store.left(ctx.session, chat.id)


@router.on("membership")
async def member_changed(ctx: Context) -> None:
    """Records a person joining or leaving a group."""
    if ctx.event.chat.is_group:
        await group_store.set_member(
            ctx.session, ctx.chat_id, ctx.user_id, ctx.event.member_status or "left", ctx.now()
        )


@router.on("migration")
async def group_migrated(ctx: Context) -> None:
    """Follows a group that became a supergroup."""
    new_id = ctx.event.migrate_to_chat_id
    if new_id is not None:
        await group_store.migrated(ctx.session, ctx.chat_id, new_id, ctx.now())

"""Keeps track of the groups the bot is in and of their members, and welcomes newcomers."""

from __future__ import annotations

import logging

from handlers.kernel.context import Context
from handlers.kernel.ports import Messenger, MessengerError
from handlers.kernel.routing import Router
from storage import outbox
from storage.coalition import group_store, membership_store

WELCOME_PAYLOAD = "group"  # /start payload of the welcome's link (kept with the registration)

router = Router("groups")
log = logging.getLogger(__name__)


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
    """Records a person joining or leaving a group; welcomes a newcomer (once per arrival)."""
    if not ctx.event.chat.is_group:
        return
    status = ctx.event.member_status or "left"
    if status not in group_store.PRESENT:  # recorded only for someone on record (/vanish)
        await group_store.departed(ctx.session, ctx.chat_id, ctx.user_id, status, ctx.now())
        return
    was_there = await group_store.is_member(ctx.session, ctx.chat_id, ctx.user_id)
    await group_store.set_member(ctx.session, ctx.chat_id, ctx.user_id, status, ctx.now())
    if not was_there and not ctx.event.user.is_bot:
        await _welcome(ctx)


async def _welcome(ctx: Context) -> None:
    """A short welcome with a private link to register, for someone Chorus does not know yet
    (saying when membership is by application). Registered people, applicants and rejected
    applicants are not greeted: nothing to invite them to, no "welcome back", and adding a
    coalition's members to a group in bulk does not flood it (about 20 messages a minute)."""
    if ctx.volunteer is not None:
        return
    name = ctx.event.user.first_name
    link = f"https://t.me/{ctx.settings.bot_username}?start={WELCOME_PAYLOAD}"
    mode = await membership_store.setting(ctx.session, "membership")
    key = "groups.welcome_apply" if mode == membership_store.BY_APPLICATION else "groups.welcome"
    ctx.reply(ctx.t(key, name=name, link=link))


@router.on("removed")
async def removal_notice(ctx: Context) -> None:
    """Deletes Telegram's "Chorus removed X" from the group: the bot removes people only for
    /vanish, and someone who vanished should leave no trace there (it can: its own message)."""
    by, message_id = ctx.event.by, ctx.event.message_id
    if by is None or message_id is None or not ctx.event.chat.is_group:
        return
    if (by.username or "").casefold() != ctx.settings.bot_username.casefold():
        return  # another bot's removal: not ours to tidy
    chat_id = ctx.chat_id

    async def delete(messenger: Messenger) -> None:
        try:
            await messenger.delete_message(chat_id, message_id)
        except MessengerError as exc:  # too old (48 h), or already deleted
            log.info("removal notice %s in %s not deleted: %r", message_id, chat_id, exc)

    ctx.after_commit(delete)


@router.on("migration")
async def group_migrated(ctx: Context) -> None:
    """Follows a group that became a supergroup."""
    new_id = ctx.event.migrate_to_chat_id
    if new_id is not None:
        await group_store.migrated(ctx.session, ctx.chat_id, new_id, ctx.now())
        await outbox.chat_migrated(ctx.session, ctx.chat_id, new_id)

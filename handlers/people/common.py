"""What everyone can do in a private chat: start, help, cancel, switch language."""

from __future__ import annotations

from handlers.kernel import menu
from handlers.kernel.callbacks import CallbackData
from handlers.kernel.context import Context
from handlers.kernel.i18n import SUPPORTED_LOCALES, Html
from handlers.kernel.ports import Button, Messenger
from handlers.kernel.routing import Router
from handlers.people import registration
from storage.people import preferences, shown_names, volunteers

router = Router("common")
events = Router("common-events")  # not limited to private chats: each handler checks


class LanguageButton(CallbackData, prefix="lang"):
    """A language offered by /language: lang:<code>."""

    code: str

    def __post_init__(self) -> None:
        if self.code not in SUPPORTED_LOCALES:
            raise ValueError(self.code)


@router.command("start")
async def start(ctx: Context) -> None:
    """Starts or resumes registration; welcomes back a member (an applicant hears where their
    application stands, a rejected one is not welcomed back)."""
    if ctx.volunteer is not None:
        if ctx.args and await registration.run_start_payload(ctx, ctx.args):
            return
        if ctx.volunteer.status == "rejected":
            ctx.reply(ctx.t("membership.rejected"))
        elif ctx.volunteer.status == "applicant":
            ctx.reply(ctx.t("membership.refused.applicant"))
        else:
            ctx.reply(ctx.t("common.welcome_back", name=shown_names.for_themselves(ctx.volunteer)))
        return
    if ctx.dialog is not None and ctx.dialog.flow == registration.FLOW:
        await registration.resume(ctx)
        return
    await registration.begin(ctx, ctx.args)


@router.command("help")
async def help_(ctx: Context) -> None:
    """Lists what this person may do (the commands their roles allow: handlers/permissions.py)."""
    lines: list[str] = [ctx.t("help.intro")]
    for command in menu.commands_for_roles(ctx.t, ctx.roles):
        lines.append(f"/{command.command} — {command.description}")
    group_commands = menu.group_commands(ctx.t)
    if group_commands:
        lines.append("")
        lines.append(ctx.t("help.in_groups"))
        lines.extend(f"/{c.command} — {c.description}" for c in group_commands)
    if ctx.volunteer is None:
        registering = ctx.dialog is not None and ctx.dialog.flow == registration.FLOW
        lines += ["", ctx.t("help.registering" if registering else "help.register_first")]
    ctx.reply(Html("\n".join(lines)))


@router.command("cancel")
async def cancel(ctx: Context) -> None:
    """Leaves the dialog in progress; nothing half-done is kept."""
    if ctx.dialog is None:
        ctx.reply(ctx.t("common.nothing_to_cancel"))
        return
    await ctx.clear_dialog()
    ctx.reply(ctx.t("common.cancelled"))


@router.command("language")
async def language(ctx: Context) -> None:
    """Offers the languages Chorus speaks."""
    keyboard = [
        [Button(ctx.t.language_name(code), LanguageButton(code).pack())]
        for code in SUPPORTED_LOCALES
    ]
    ctx.reply(ctx.t("common.choose_language"), keyboard)


@router.button(LanguageButton)
async def language_chosen(ctx: Context, button: LanguageButton) -> None:
    """Switches the person's language, and their command menu with it."""
    code = button.code
    await preferences.set_language(ctx.session, ctx.user_id, code, ctx.now())
    if ctx.volunteer is not None:
        await volunteers.update_field(ctx.session, ctx.volunteer, "language", code, ctx.now())
    ctx.use_locale(code)
    ctx.answer()
    ctx.edit(ctx.t("common.language_set", language=ctx.t.language_name(code)))
    user_id, held, default_locale = ctx.user_id, ctx.roles, ctx.settings.default_locale

    async def _menu(messenger: Messenger) -> None:
        await menu.publish_for(messenger, user_id, held, default_locale, chosen=code)

    ctx.after_commit(_menu)


@events.on("unknown_command")
async def unknown_command(ctx: Context) -> None:
    """Says the command is unknown and points to /help (in private chats)."""
    if ctx.event.chat.is_private:
        ctx.reply(ctx.t("common.unknown_command"))


@events.on("text")
async def stray_text(ctx: Context) -> None:
    """Answers text outside any dialog in a private chat."""
    if ctx.event.chat.is_private:
        key = "common.not_understood" if ctx.volunteer else "common.not_understood_newcomer"
        ctx.reply(ctx.t(key))


@events.on("bot_membership")
async def bot_membership(ctx: Context) -> None:
    """Remembers when a person blocks or unblocks the bot."""
    if ctx.event.chat.is_private:
        reason = preferences.BLOCKED if ctx.event.member_status == "kicked" else None
        await preferences.set_unreachable(ctx.session, ctx.user_id, reason, ctx.now())

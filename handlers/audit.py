"""/audit: the log of every admin action — who, what, when, on whom — for owners and the chair,
a page at a time, and as CSV (its file name says who exported it and when).
"""

from __future__ import annotations

import orjson

from handlers import csv_export
from handlers.callbacks import CallbackData, StaleButton
from handlers.context import Context
from handlers.i18n import Html, Translator
from handlers.ports import Button, Keyboard, Messenger
from handlers.routing import Router
from storage import audit, membership
from storage.models import AuditEntry

EXPORT = "csv"
PER_PAGE = 15
KNOWN = frozenset(
    {
        "role.grant",
        "role.revoke",
        "settings.change",
        "application.approve",
        "application.reject",
        "application.ask",
        "members.export",
        "audit.export",
        "privacy.forget",
    }
)

router = Router("audit")


def what(t: Translator, action: str) -> str:
    """An action in words (a command as /name)."""
    if action in KNOWN:
        return t(f"audit.act.{action.replace('.', '_')}")
    if action.startswith("command."):
        return "/" + action.removeprefix("command.")
    return action


async def _names(ctx: Context, entries: list[AuditEntry]) -> dict[int, str]:
    ids = {e.actor_id for e in entries} | {e.target_id for e in entries if e.target_id}
    return await membership.names(ctx.session, ids)


def _who(t: Translator, names: dict[int, str], user_id: int | None) -> str:
    if user_id is None:
        return ""
    if user_id == 0:
        return t("audit.erased")
    return names.get(user_id) or str(user_id)


async def _page(ctx: Context, number: int) -> tuple[Html, Keyboard]:
    t = ctx.t
    total = await audit.total(ctx.session)
    pages = max(1, -(-total // PER_PAGE))
    number = min(max(number, 0), pages - 1)
    entries = list(await audit.page(ctx.session, number * PER_PAGE, PER_PAGE))
    names = await _names(ctx, entries)
    lines = [t.plural("audit.title", total), t("audit.page", page=number + 1, pages=pages), ""]
    zone = ctx.volunteer.timezone if ctx.volunteer else ctx.settings.default_timezone
    for entry in entries:
        target = _who(t, names, entry.target_id)
        details = ", ".join(f"{k}={v}" for k, v in entry.details.items())
        lines.append(
            t(
                "audit.line",
                when=t.datetime_text(entry.at, zone),
                who=_who(t, names, entry.actor_id),
                what=what(t, entry.action),
                whom=f" → {target}" if target else "",
                details=f" ({details})" if details else "",
            )
        )
    if not entries:
        lines.append(t("audit.empty"))
    pager: list[Button] = []
    if number > 0:
        pager.append(Button(t("directory.previous"), AuditButton(str(number - 1)).pack()))
    if number + 1 < pages:
        pager.append(Button(t("directory.next"), AuditButton(str(number + 1)).pack()))
    rows = [pager] if pager else []
    rows.append([Button(t("audit.export"), AuditButton(EXPORT).pack())])
    return Html("\n".join(lines)), rows


class AuditButton(CallbackData, prefix="au"):
    """A page of the log, or its export: au:<page number from 0> | au:csv."""

    target: str

    def __post_init__(self) -> None:
        if self.target != EXPORT and not (self.target.isdecimal() and self.target.isascii()):
            raise ValueError(self.target)

    @property
    def page(self) -> int | None:
        """The page asked for; None for the CSV export."""
        return None if self.target == EXPORT else int(self.target)


@router.command("audit")
async def show(ctx: Context) -> None:
    """Shows the latest admin actions."""
    ctx.reply(*await _page(ctx, 0))


CSV_HEADER = ("id", "at", "actor_id", "actor", "action", "target_id", "target", "details")


def export_csv(entries: list[AuditEntry], names: dict[int, str]) -> bytes:
    """The whole log as CSV (see handlers.csv_export; who exported it is in the file name)."""
    return csv_export.table(
        CSV_HEADER,
        (
            (
                e.id,
                e.at.isoformat(timespec="seconds"),
                e.actor_id,
                names.get(e.actor_id, ""),
                e.action,
                e.target_id,
                names.get(e.target_id or 0, ""),
                orjson.dumps(e.details).decode(),
            )
            for e in entries
        ),
    )


@router.button(AuditButton)
async def pressed(ctx: Context, button: AuditButton) -> None:
    """Turns the page, or sends the log as CSV."""
    if button.page is not None:
        ctx.answer()
        ctx.edit(*await _page(ctx, button.page))
        return
    if ctx.event.message_id is None:
        raise StaleButton(ctx.event.data)
    me = ctx.volunteer.display_name if ctx.volunteer else ctx.event.user.full_name
    await audit.record(ctx.session, ctx.user_id, "audit.export", ctx.now())
    entries = list(await audit.everything(ctx.session))
    names = await _names(ctx, entries)
    content = export_csv(entries, names)
    user_id, caption = ctx.user_id, ctx.t("audit.export_caption", name=me, count=len(entries))
    name = csv_export.file_name("audit", ctx.now(), user_id)

    async def _send(messenger: Messenger) -> None:
        await messenger.send_document(user_id, name, content, caption)

    ctx.after_commit(_send)
    ctx.answer(ctx.t("directory.export_sent"))

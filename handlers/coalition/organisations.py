"""Organisations as records: who acts for each, and a coordinator's approval of later registrants.

An organisation's first registrant names it and is its voting representative. A later registrant
typing a name that matches (case, spaces and accents aside) joins it as an alternate or an
observer, pending a coordinator's approval; until then they do not cast its vote. Under one vote
per organisation, its representative or an approved alternate votes for it; observers never do.
"""

from __future__ import annotations

from typing import Literal

from handlers.coalition import roles
from handlers.coalition.audit import note
from handlers.kernel import names, permissions
from handlers.kernel.callbacks import CallbackData, StaleButton
from handlers.kernel.context import Context
from handlers.kernel.i18n import Translator, translator
from handlers.kernel.ports import Button, Keyboard
from handlers.kernel.routing import Router
from storage.coalition import membership_store, organisation_store
from storage.models import Volunteer
from storage.people import shown_names, volunteers

JOIN_ROLES = (organisation_store.ALTERNATE, organisation_store.OBSERVER)

router = Router("organisations")


class JoinButton(CallbackData, prefix="oj"):
    """A coordinator's answer to someone joining an organisation: oj:<user>:ok|no."""

    user_id: int
    verdict: Literal["ok", "no"]


async def registered(ctx: Context, volunteer: Volunteer, join: str | None) -> None:
    """After a registration: links the volunteer to their organisation (founding it when its
    name is new; otherwise as an alternate or observer waiting for a coordinator)."""
    if volunteer.kind != "organisation" or not volunteer.org_name:
        organisation_store.unlink(volunteer)
        return
    role = join if join in JOIN_ROLES else organisation_store.ALTERNATE
    organisation = await organisation_store.join_or_found(
        ctx.session, volunteer, volunteer.org_name, ctx.now(), role=role
    )
    if volunteer.org_status != organisation_store.PENDING:
        return
    ctx.reply(
        ctx.t(f"organisations.waiting_{role}", organisation=organisation.name),
    )
    see_discreet = await permissions.holders(ctx, "members.discreet")
    reviewers = set(await permissions.holders(ctx, "applications.review"))
    reviewers -= await membership_store.blocked(ctx.session, reviewers)
    languages = await membership_store.languages(ctx.session, reviewers)
    people = await organisation_store.people(ctx.session, organisation.id)
    representative = next(
        (p for p in people if p.org_role == organisation_store.REPRESENTATIVE), None
    )
    for reviewer in sorted(reviewers):
        t = translator(languages.get(reviewer) or ctx.settings.default_locale)
        sees = reviewer in see_discreet  # told in their private chat
        text = t(
            f"organisations.review_{role}",
            name=names.in_words(t, shown_names.for_viewer(volunteer, sees)),
            organisation=organisation.name,
            representative=names.in_words(t, shown_names.for_viewer(representative, sees)),
        )
        await roles.tell(ctx, reviewer, text, review_keyboard(t, volunteer.user_id))


async def changed(ctx: Context, volunteer: Volunteer) -> None:
    """After /profile changed the kind or the organisation's name: another spelling of the same
    organisation keeps the place (and its recorded name); another organisation is joined as
    after a registration (founded, or joined as an alternate waiting for a coordinator)."""
    if volunteer.kind == "organisation" and volunteer.org_name and volunteer.org_id is not None:
        found = await organisation_store.find(ctx.session, volunteer.org_name)
        if found is not None and found.id == volunteer.org_id:
            volunteer.org_name = found.name
            return
    await registered(ctx, volunteer, None)


def review_keyboard(t: Translator, user_id: int) -> Keyboard:
    """Approve / Refuse."""
    return [
        [
            Button(t("organisations.approve"), JoinButton(user_id, "ok").pack()),
            Button(t("organisations.refuse"), JoinButton(user_id, "no").pack()),
        ]
    ]


@router.button(JoinButton)
async def review_pressed(ctx: Context, button: JoinButton) -> None:
    """Approves or refuses someone's place in an organisation, and tells them."""
    volunteer = await volunteers.get(ctx.session, button.user_id)
    if volunteer is None:
        raise StaleButton("no such volunteer")
    organisation = await organisation_store.get(ctx.session, volunteer.org_id)
    sees = permissions.may_see_discreet(ctx.roles, ctx.event.chat.is_private)
    name = names.in_words(ctx.t, shown_names.for_viewer(volunteer, sees))
    ctx.edit_keyboard(None)
    if organisation is None or volunteer.org_status != organisation_store.PENDING:
        ctx.answer(ctx.t("organisations.already_decided", name=name), alert=True)
        return
    ctx.answer()
    approved = button.verdict == "ok"
    await note(
        ctx,
        "organisation.approve" if approved else "organisation.refuse",
        target_id=volunteer.user_id,
        organisation=organisation.name,
        org_role=volunteer.org_role,
    )
    t = translator(volunteer.language)
    if approved:
        volunteer.org_status = organisation_store.APPROVED
        said = t(f"organisations.approved_{volunteer.org_role}", organisation=organisation.name)
    else:
        organisation_store.unlink(volunteer)
        said = t("organisations.refused", organisation=organisation.name)
    await ctx.session.flush()
    await roles.tell(ctx, volunteer.user_id, said)
    key = "organisations.you_approved" if approved else "organisations.you_refused"
    ctx.reply(ctx.t(key, name=name, organisation=organisation.name))

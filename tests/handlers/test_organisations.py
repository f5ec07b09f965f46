"""Organisations vote as organisations: records, a coordinator's approval, one vote by record."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.app import Storage
from handlers.kernel.ports import ShiftedClock
from storage.coalition import organisation_store
from storage.coalition.coalition_models import Organisation
from storage.models import AuditEntry, Volunteer
from tests.conftest import COORDINATOR_ID
from tests.handlers.test_polls import close_all
from tests.support.actions import engine_for
from tests.support.groups import CountingMessenger, Group, make_volunteer
from tests.support.recording import Conversation, Someone


@pytest.fixture
def messenger() -> CountingMessenger:
    return CountingMessenger()


@pytest.fixture
def group(conversation: Conversation) -> Group:
    return Group(conversation)


@pytest.fixture
def coral(conversation: Conversation) -> Someone:
    return conversation.person("Coral", user_id=COORDINATOR_ID)


async def register_for(person: Someone, name: str, organisation: str, *join: str) -> None:
    """Registers as an organisation's person in English; `join` answers "already registered"."""
    await person.send("/start")
    await person.press("English")
    await person.press("An organisation")
    await person.send(name)
    await person.send(organisation)
    for answer in join:
        if answer.startswith("type:"):
            await person.send(answer.removeprefix("type:"))
        else:
            await person.press(answer)
    if not any(a.startswith("Yes, as") for a in join):
        await person.press("NGO")
    await person.send("Lebanon")
    await person.press("Media")
    await person.press("Done ✔")
    await person.press("10")
    await person.press("Done ✔")
    await person.press("Done ✔")
    await person.press("No")
    await person.press("I accept the pledge")
    await person.press("I agree")
    await person.press("✅ Confirm")
    await engine_for(person.conversation.dispatcher.services).drain()  # notices to coordinators


async def linked(storage: Storage, someone: Someone) -> tuple[str | None, str | None, str | None]:
    async with storage.sessionmaker() as session:
        volunteer = await session.get(Volunteer, someone.person.id)
        assert volunteer is not None
        organisation = await organisation_store.get(session, volunteer.org_id)
        name = organisation.name if organisation else None
        return name, volunteer.org_role, volunteer.org_status


async def test_first_registrant_names_it_later_ones_join_once_approved(
    conversation: Conversation, group: Group, coral: Someone, clock: ShiftedClock, storage: Storage
) -> None:
    rana, tala, sami = (conversation.person(n) for n in ("Rana", "Tala", "Sami"))
    await register_for(rana, "Rana", "Médecins du Monde")
    assert await linked(storage, rana) == ("Médecins du Monde", "representative", "approved")
    # another spelling is the same organisation: asked, not silently merged
    await register_for(
        tala, "Tala", "  medecins  du MONDE ", "Yes, as an alternate (may cast its vote)"
    )
    assert "Médecins du Monde is already registered. Do you act for it?" in "\n".join(
        m.text for m in tala.messages
    )
    assert await linked(storage, tala) == ("Médecins du Monde", "alternate", "pending")
    assert any("once a coordinator approves" in m.text for m in tala.messages)
    assert "New alternate for Médecins du Monde: Tala (Médecins du Monde)." in coral.last.text
    assert "Its representative: Rana (Médecins du Monde)." in coral.last.text
    # a different organisation of a similar name: they say so and type its name
    await register_for(
        sami, "Sami", "Medecins du monde", "No, another organisation", "type:MdM Liban"
    )
    assert await linked(storage, sami) == ("MdM Liban", "representative", "approved")

    await group.join(rana, tala, sami)
    await group.say(coral, "/decisions")
    await group.press(coral, "One vote per organisation: off")
    await group.say(coral, "/poll Endorse? | Yes | No | in 2h")
    assert "2 eligible" in group.find("Endorse?").text or "of 2" in group.find("Endorse?").text
    toast, alert = await group.press(tala, "No")  # not yet approved: not counted
    assert alert and toast is not None and "not yet approved you to vote for" in toast
    await coral.press("✅ Approve")
    await engine_for(conversation.dispatcher.services).drain()
    assert "Approved: Tala (Médecins du Monde) now acts for" in coral.last.text
    assert "approved you as an alternate of Médecins du Monde" in tala.last.text
    assert await linked(storage, tala) == ("Médecins du Monde", "alternate", "approved")
    await group.press(rana, "Yes")
    await group.press(tala, "No")  # the organisation's latest vote: one vote, not two
    await group.press(sami, "Yes")
    await close_all(conversation, clock, timedelta(hours=2))
    text = group.last.text
    assert "<b>No</b> — 1 (50%): Médecins du Monde" in text
    assert "<b>Yes</b> — 1 (50%): MdM Liban" in text
    assert "2 of 2 eligible members have voted." in text
    async with storage.sessionmaker() as session:
        assert len((await session.scalars(select(Organisation))).all()) == 2
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "organisation.approve")
        )
        assert entry is not None and entry.target_id == tala.person.id


async def test_observers_and_refused_members_do_not_vote(
    conversation: Conversation, group: Group, coral: Someone, storage: Storage
) -> None:
    rana, omar, yara = (conversation.person(n) for n in ("Rana", "Omar", "Yara"))
    await register_for(rana, "Rana", "Amel")
    await register_for(omar, "Omar", "AMEL", "Yes, as an observer (no vote)")
    await coral.press("✅ Approve")
    assert await linked(storage, omar) == ("Amel", "observer", "approved")
    await register_for(yara, "Yara", "amel", "Yes, as an alternate (may cast its vote)")
    await coral.press("✖ Refuse")
    await engine_for(conversation.dispatcher.services).drain()
    assert await linked(storage, yara) == (None, None, None)
    assert "did not confirm you as a member of Amel" in yara.last.text
    await group.join(rana, omar)
    await group.say(coral, "/decisions")
    await group.press(coral, "One vote per organisation: off")
    await group.say(coral, "/poll Join the march? | Yes | No")
    toast, alert = await group.press(omar, "Yes")
    assert alert and toast is not None and "observers of Amel do not vote" in toast
    assert "0 of 1" in group.find("Join the march?").text


async def test_a_representative_gives_the_vote_by_proxy_for_one_decision(
    conversation: Conversation, group: Group, coral: Someone, clock: ShiftedClock, storage: Storage
) -> None:
    rana, omar, sami = (conversation.person(n) for n in ("Rana", "Omar", "Sami"))
    await make_volunteer(conversation, rana, kind="organisation", org_name="Amel")
    await make_volunteer(conversation, omar, kind="organisation", org_name="Omar's Org")
    await make_volunteer(conversation, sami, kind="organisation", org_name="Basmeh")
    await group.join(rana, omar, sami)
    await group.say(coral, "/decisions")
    await group.press(coral, "One vote per organisation: off")
    await group.say(coral, "/poll Endorse? | Yes | No | in 2h")
    await rana.send("/proxy")
    assert "Open decisions with one vote per organisation:" in rana.last.text
    assert "Endorse?" in rana.last.text
    number = rana.last.text.split("<b>")[1].split("</b>")[0]
    await rana.send(f"/proxy {number} Nowhere Org")
    assert "No organisation named Nowhere Org is registered." in rana.last.text
    await rana.send(f"/proxy {number}   basmeh ")
    assert "Proxy given: Basmeh votes for your organisation on “Endorse?”" in rana.last.text
    await engine_for(conversation.dispatcher.services).drain()
    assert "Amel gave your organisation its vote on “Endorse?”" in sami.last.text
    await group.press(sami, "No")
    await group.press(omar, "Yes")
    await close_all(conversation, clock, timedelta(hours=2))
    text = group.last.text
    assert "<b>No</b> — 2 (67%): Basmeh" in text  # Basmeh's ballot, counted for Amel too
    assert "3 of 3 eligible members have voted." in text
    assert "🤝 Basmeh voted for Amel by proxy." in text
    async with storage.sessionmaker() as session:
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "decision.proxy")
        )
        assert entry is not None and entry.actor_id == rana.person.id
        assert entry.details["organisation"] == "Basmeh"


async def test_only_a_representative_gives_a_proxy_and_an_own_vote_counts_first(
    conversation: Conversation, group: Group, coral: Someone, clock: ShiftedClock
) -> None:
    rana, tala, sami = (conversation.person(n) for n in ("Rana", "Tala", "Sami"))
    await make_volunteer(conversation, rana, kind="organisation", org_name="Amel")
    await make_volunteer(conversation, tala, kind="organisation", org_name="AMEL")  # alternate
    await make_volunteer(conversation, sami, kind="organisation", org_name="Basmeh")
    await group.join(rana, tala, sami)
    await group.say(coral, "/decisions")
    await group.press(coral, "One vote per organisation: off")
    await group.say(coral, "/poll Endorse? | Yes | No | in 2h")
    await tala.send("/proxy 1 Basmeh")
    assert "Only an organisation's representative can give its vote" in tala.last.text
    await rana.send("/proxy 1 Basmeh")
    await group.press(sami, "No")
    await group.press(tala, "Yes")  # Amel votes itself: the proxy is not used
    await close_all(conversation, clock, timedelta(hours=2))
    text = group.last.text
    assert "<b>Yes</b> — 1 (50%): Amel" in text and "by proxy" not in text


async def test_a_new_organisation_name_in_the_profile_changes_the_organisation(
    conversation: Conversation, coral: Someone, storage: Storage
) -> None:
    rana, tala = conversation.person("Rana"), conversation.person("Tala")
    await make_volunteer(conversation, rana, kind="organisation", org_name="Amel")
    await make_volunteer(conversation, tala, kind="organisation", org_name="Basmeh")
    await tala.send("/profile")
    await tala.press("Organisation")
    await tala.send("  BASMEH ")  # another spelling: still Basmeh, its representative
    assert await linked(storage, tala) == ("Basmeh", "representative", "approved")
    await tala.send("/profile")
    await tala.press("Organisation")
    await tala.send("amel")  # another organisation: an alternate, once approved
    assert await linked(storage, tala) == ("Amel", "alternate", "pending")
    await engine_for(conversation.dispatcher.services).drain()
    assert "New alternate for Amel" in coral.last.text

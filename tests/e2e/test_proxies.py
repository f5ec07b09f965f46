"""A proxy vote end to end, on both runtimes: an organisation's representative gives its vote in
one decision to another organisation with /proxy; the delegate's ballot counts for both, and the
result says so."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.decisions.decision_models import Decision
from tests.e2e.conftest import ChorusUnderTest
from tests.e2e.test_decisions import coalition, showing
from tests.e2e.test_decisions_more import (
    button_data,
    enrol,
    open_private_chats,
    published,
    until,
)


async def test_an_organisation_votes_for_another_by_proxy(chorus: ChorusUnderTest) -> None:
    coral = chorus.coordinator
    rana, sami = await chorus.person("Rana"), await chorus.person("Sami")
    await enrol(chorus, coral, "active")
    await enrol(chorus, rana, "active", kind="organisation", org_name="Amel")
    await enrol(chorus, sami, "active", kind="organisation", org_name="Basmeh")
    open_private_chats(chorus, rana, sami)
    group, (chadi,) = await coalition(chorus, "Chadi")
    await group.add(rana)
    await group.add(sami)
    await coral.send("/decisions", chat=group)
    await coral.press("One vote per organisation: off", chat=group)
    await coral.send("/poll Endorse the appeal? | Yes | No | in 2h", chat=group)
    live = await coral.wait_for_message(showing("One vote per organisation"), chat=group)
    await published(chorus)
    number: list[int] = []

    async def stored(session: AsyncSession) -> bool:
        found = await session.scalar(select(Decision.id))
        number.extend([found] if found else [])
        return found is not None

    await until(chorus, stored, "the decision was stored")
    await rana.send("/proxy")
    listing = await rana.wait_for_message(showing("Open decisions with one vote per organisation"))
    assert "Endorse the appeal?" in listing.text
    await rana.send(f"/proxy {number[0]} basmeh")
    await rana.wait_for_message(showing("Proxy given: Basmeh votes for your organisation"))
    await sami.wait_for_message(showing("Amel gave your organisation its vote"))
    assert await sami.press_data(live, button_data(live, 1)) is not None  # No, for both
    assert await chadi.press_data(live, button_data(live, 0)) is not None  # Yes
    await chorus.advance(timedelta(hours=2, seconds=1))
    final = await coral.wait_for_message(showing("Result:"), chat=group, since_last_action=False)
    assert "No — 2 (67%): Basmeh" in final.text
    assert "🤝 Basmeh voted for Amel by proxy." in final.text

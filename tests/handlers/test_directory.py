"""/members: search by skill, country, kind, language, time, status; pages; inventory; CSV."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from bot.app import Storage
from handlers.coalition import directory
from handlers.kernel.context import Services
from handlers.kernel.ports import ShiftedClock
from storage import create_read_sessionmaker
from storage.coalition import directory_store
from storage.db import READ_ONLY
from storage.models import Volunteer
from storage.people import preferences
from tests.conftest import COORDINATOR_ID
from tests.support.coalition import make_member, someone
from tests.support.csv_files import read_export
from tests.support.recording import Conversation


async def _people(storage: Storage, clock: ShiftedClock) -> None:
    now = clock.now()
    for i in range(11):
        await make_member(
            storage, 8000 + i, now=now, name=f"Media {i:02}", skills=["media"], hours=i
        )
    await make_member(
        storage,
        8100,
        now=now,
        name="Legal <Org>",
        kind="organisation",
        org_name="Lawyers",
        skills=["legal"],
        country="FR",
        language="fr",
        discreet=True,
    )
    await make_member(storage, 8101, now=now, name="Sleepy", skills=["legal"], status="inactive")


async def test_search_pages_and_filters(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    await _people(storage, clock)
    coral = someone(conversation, COORDINATOR_ID, "Coral")
    await coral.send("/members")
    assert "12 members match" in coral.last.text and "Page 1 of 2" in coral.last.text
    await coral.press("Next ▶")
    assert "Page 2 of 2" in coral.last.text and coral.last.edited
    await coral.send("/members skill:legal")
    assert "1 member matches" in coral.last.text
    assert "🔒 Legal &lt;Org&gt; (Lawyers)" in coral.last.text
    await coral.send("/members skill:legal status:all")
    assert "2 members match" in coral.last.text and "Sleepy" in coral.last.text
    await coral.send("/members country:France kind:organisation lang:fr")
    assert "1 member matches" in coral.last.text
    await coral.send("/members skill:media hours:8")
    assert "3 members match" in coral.last.text
    await coral.send("/members skill:juggling")
    assert "“juggling” is not one of the skills" in coral.last.text
    await coral.send("/members colour:blue")
    assert "I do not understand “colour:blue”" in coral.last.text
    await coral.send("/members status:asleep")
    assert "choose one of" in coral.last.text


async def test_member_card_inventory_and_export(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    await _people(storage, clock)
    await make_member(storage, COORDINATOR_ID, now=clock.now(), name="Coral")
    coral = someone(conversation, COORDINATOR_ID, "Coral")
    await coral.send("/members skill:legal")
    await coral.press("1. 🔒 Legal <Org> (Lawyers)")
    assert "Roles: Member" in coral.last.text and "➕ Give a role" in coral.last.labels
    await coral.press("📊 Skill inventory")
    assert "Media: 11" in coral.last.text and "Legal: 1" in coral.last.text
    assert "France: 1" in coral.last.text
    await coral.press("⬇️ CSV")
    rows = read_export(coral.last.document, "members", COORDINATOR_ID, directory.CSV_HEADER)
    assert [row["name"] for row in rows] == ["Legal <Org>"]
    assert "exported by Coral" in coral.last.text


async def test_one_members_status_reads_in_the_singular(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    """A sandbox finding: a French card said "Statut : actif·ves" (the plural of the filters
    and counts) of one person."""
    await _people(storage, clock)
    await make_member(storage, COORDINATOR_ID, now=clock.now(), name="Coral", language="fr")
    coral = someone(conversation, COORDINATOR_ID, "Coral", language_code="fr")
    await coral.send("/members skill:legal")
    await coral.press("1. 🔒 Legal <Org> (Lawyers)")
    assert "Statut\u202f: actif·ve\n" in coral.last.text  # French's thin space
    assert "actif·ves" not in coral.last.text


async def test_another_coordinators_list_is_refused(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    await _people(storage, clock)
    await make_member(storage, 8200, now=clock.now(), name="Sam", role="coordinator")
    coral = someone(conversation, COORDINATOR_ID, "Coral")
    await coral.send("/members")
    data = coral.last.keyboard[-1][0][1]
    sam = someone(conversation, 8200, "Sam")
    text, alert = await sam.press_data(coral.last.message_id, data)
    assert alert and text is not None and "belongs to another coordinator" in text
    assert sam.messages == []


async def _world(storage: Storage, clock: ShiftedClock) -> None:
    now = clock.now()
    people = [
        (8300, "Amira Haddad", "LB", None, "amira_h"),
        (8301, "Ben Okafor", "GB", "Coalition for Safe Roads", None),
        (8302, "Céline Mbala", "CD", "Réseau des Survivants", None),
        (8303, "Dana Reyes", "US", None, None),
        (8304, "Amir Khan", "GB", None, None),
        (8305, "Koffi Yao", "CI", None, None),
    ]
    for user_id, name, country, org, username in people:
        await make_member(
            storage,
            user_id,
            now=now,
            name=name,
            country=country,
            username=username,
            kind="organisation" if org else "individual",
            org_name=org,
        )


async def test_search_by_name_organisation_and_filters_combined(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    await _world(storage, clock)
    coral = someone(conversation, COORDINATOR_ID, "Coral")
    await coral.send("/members amir")
    assert "2 members match" in coral.last.text
    assert "Amira Haddad" in coral.last.text and "Amir Khan" in coral.last.text
    await coral.send("/members amir country:UK")
    assert "1 member matches" in coral.last.text and "Amir Khan" in coral.last.text
    await coral.send("/members safe roads")
    assert "1 member matches" in coral.last.text and "Ben Okafor" in coral.last.text
    await coral.send("/members reseau kind:organisation")
    assert "1 member matches" in coral.last.text and "Céline Mbala" in coral.last.text
    await coral.send("/members @amira_h")
    assert "1 member matches" in coral.last.text and "Amira Haddad" in coral.last.text
    await coral.send("/members nobody-by-this-name")
    assert "No member matches" in coral.last.text or "0 members match" in coral.last.text


async def test_country_names_in_four_languages_and_short_forms(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    await _world(storage, clock)
    coral = someone(conversation, COORDINATOR_ID, "Coral")
    for words, wanted in (
        ("country:United Kingdom", {"Ben Okafor", "Amir Khan"}),
        ('country:"United Kingdom"', {"Ben Okafor", "Amir Khan"}),
        ("country:UK", {"Ben Okafor", "Amir Khan"}),
        ("country:England", {"Ben Okafor", "Amir Khan"}),
        ("country:Royaume-Uni", {"Ben Okafor", "Amir Khan"}),
        ("country:Liban", {"Amira Haddad"}),
        ("country:لبنان", {"Amira Haddad"}),
        ("country:USA", {"Dana Reyes"}),
        ("country:Estados Unidos", {"Dana Reyes"}),
        ("country:DRC", {"Céline Mbala"}),
        ("country:RDC", {"Céline Mbala"}),
        ("country:Côte d’Ivoire", {"Koffi Yao"}),
        ("country:cote d'ivoire", {"Koffi Yao"}),
        ("country:Ivory Coast", {"Koffi Yao"}),
    ):
        await coral.send(f"/members {words}")
        text = coral.last.text
        shown = {name for name in ("Amira Haddad", "Ben Okafor", "Céline Mbala") if name in text}
        shown |= {name for name in ("Dana Reyes", "Amir Khan", "Koffi Yao") if name in text}
        assert shown == wanted, (words, text)


async def test_did_you_mean_always_names_something(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    await _world(storage, clock)
    coral = someone(conversation, COORDINATOR_ID, "Coral")
    await coral.send("/members country:Lebannon")
    assert "Did you mean" in coral.last.text
    assert "country:Lebanon" in coral.last.text
    await coral.send("/members country:United Kingdomm")
    assert 'country:"United Kingdom"' in coral.last.text
    await coral.send("/members country:Qwxzv")
    assert "Did you mean" not in coral.last.text
    assert "two-letter code" in coral.last.text


async def test_a_name_search_finds_only_what_the_reader_may_see(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    """A coordinator (members.discreet) finds a member by name, pseudonym and @username; a
    reader who may not see behind pseudonyms and discreet mode finds a pseudonymous member by
    the pseudonym only (the real name or @username must not lead to them) and a discreet
    member by no name at all."""
    now = clock.now()
    await make_member(
        storage, 8400, now=now, name="Nour Saleh", username="nour_s", pseudonym="Nightingale"
    )
    await make_member(storage, 8401, now=now, name="Rami Aziz", discreet=True)
    coral = someone(conversation, COORDINATOR_ID, "Coral")
    for words in ("nour", "@nour_s", "nightingale", "rami"):
        await coral.send(f"/members {words}")
        assert "1 member matches" in coral.last.text, (words, coral.last.text)
    async with storage.sessionmaker() as session:
        nour, rami = await session.get(Volunteer, 8400), await session.get(Volunteer, 8401)
    assert nour is not None and rami is not None
    for words, who, found in (
        ("nour", nour, False),
        ("nour_s", nour, False),
        ("nightin", nour, True),
        ("rami", rami, False),
    ):
        assert directory_store.matches(who, {"words": [words]}, False) is found, words


async def test_a_member_card_opens_a_chat_and_says_whether_the_bot_reaches_them(
    conversation: Conversation, storage: Storage, clock: ShiftedClock
) -> None:
    now = clock.now()
    await make_member(storage, 8500, now=now, name="Lina", username="lina_b", skills=["legal"])
    await make_member(storage, 8501, now=now, name="Omar", skills=["legal"])
    async with storage.sessionmaker() as session, session.begin():
        await preferences.set_unreachable(session, 8501, "blocked", now)
    coral = someone(conversation, COORDINATOR_ID, "Coral")
    await coral.send("/members skill:legal")
    await coral.press("1. Lina")
    assert "📬 Can be reached by the bot" in coral.last.text
    assert ("💬 Open a private chat", "https://t.me/lina_b") in coral.last.keyboard[0]
    await coral.press("2. Omar")
    assert "🚫 Cannot be reached by the bot since" in coral.last.text
    assert '<a href="tg://user?id=8501">Omar</a>' in coral.last.text
    assert "💬 Open a private chat" not in coral.last.labels


async def test_an_export_reads_the_members_outside_the_write_lock(
    conversation: Conversation, services: Services, storage: Storage, clock: ShiftedClock
) -> None:
    """At 100,000 members the export's reading took seconds; inside the update's transaction
    every other update waited for it (issue 17). It reads in a read-only session, as rows."""
    services.reads = create_read_sessionmaker(storage.engine)
    await _people(storage, clock)
    await make_member(storage, COORDINATOR_ID, now=clock.now(), name="Coral")
    coral = someone(conversation, COORDINATOR_ID, "Coral")
    await coral.send("/members skill:media")
    read: list[bool] = []

    @event.listens_for(storage.engine.sync_engine, "before_cursor_execute")
    def _statement(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM volunteers" in statement and "ORDER BY volunteers.display_name" in statement:
            read.append(bool(conn.get_execution_options().get(READ_ONLY)))

    await coral.press("⬇️ CSV")
    rows = read_export(coral.last.document, "members", COORDINATOR_ID, directory.CSV_HEADER)
    assert [row["name"] for row in rows] == [f"Media {i:02}" for i in range(11)]
    assert rows[3]["hours_per_month"] == "3" and rows[3]["skills"] == "media"
    assert read == [True]

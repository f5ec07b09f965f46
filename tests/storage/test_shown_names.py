"""The name shown of a person, per audience (storage/shown_names.py)."""

from __future__ import annotations

import pytest

from bot.app import Storage
from handlers.kernel.ports import ShiftedClock
from storage.models import Volunteer
from storage.people import shown_names
from storage.people.shown_names import Hidden
from tests.support.actions import make_volunteer


def person(*, discreet: bool = False, org: str | None = None) -> Volunteer:
    return Volunteer(
        user_id=1,
        display_name="Amira",
        kind="organisation" if org else "individual",
        org_name=org,
        discreet=discreet,
    )


PLAIN, DISCREET, ORG = person(), person(discreet=True), person(org="Beit el Nour")
DISCREET_ORG = person(discreet=True, org="Beit el Nour")


@pytest.mark.parametrize(
    ("volunteer", "members", "results", "results_by_org", "coordinators"),
    [
        (PLAIN, "Amira", "Amira", "Amira", "Amira"),
        (ORG, "Amira (Beit el Nour)", "Amira", "Beit el Nour", "Amira (Beit el Nour)"),
        (DISCREET, Hidden.DISCREET, Hidden.DISCREET, Hidden.DISCREET, "🔒 Amira"),
        (
            DISCREET_ORG,
            Hidden.DISCREET,
            Hidden.DISCREET,
            Hidden.DISCREET,
            "🔒 Amira (Beit el Nour)",
        ),
        (None, Hidden.FORMER, Hidden.FORMER, Hidden.FORMER, Hidden.FORMER),
    ],
)
def test_each_audience_sees_what_it_may(
    volunteer: Volunteer | None,
    members: shown_names.Shown,
    results: shown_names.Shown,
    results_by_org: shown_names.Shown,
    coordinators: shown_names.Shown,
) -> None:
    assert shown_names.for_members(volunteer) == members
    assert shown_names.for_results(volunteer, org_voting=False) == results
    assert shown_names.for_results(volunteer, org_voting=True) == results_by_org
    assert shown_names.for_coordinators(volunteer) == coordinators


@pytest.mark.parametrize("volunteer", [PLAIN, ORG, DISCREET, DISCREET_ORG, None])
def test_a_view_for_either_reader_follows_the_permission(volunteer: Volunteer | None) -> None:
    assert shown_names.for_viewer(volunteer, True) == shown_names.for_coordinators(volunteer)
    assert shown_names.for_viewer(volunteer, False) == shown_names.for_members(volunteer)


def test_files_usernames_and_ones_own_name() -> None:
    secret = person(discreet=True, org="Beit el Nour")
    secret.username = "amira_h"
    assert shown_names.for_files(secret, True) == "Amira"  # the file has its own columns
    assert shown_names.for_files(secret, False) is Hidden.DISCREET
    assert shown_names.for_files(None, True) is Hidden.FORMER
    assert shown_names.username_for_viewer(secret, True) == "amira_h"
    assert shown_names.username_for_viewer(secret, False) == ""
    assert shown_names.username_for_viewer(None, True) == ""
    assert shown_names.for_themselves(secret) == "Amira"  # they know their own name
    assert shown_names.for_themselves(None, "Telegram Name") == "Telegram Name"


async def test_coordinators_names_by_id_leave_out_the_unregistered(
    storage: Storage, clock: ShiftedClock
) -> None:
    await make_volunteer(storage, 51, now=clock.now(), name="Omar")
    await make_volunteer(storage, 52, now=clock.now(), name="Lina", discreet=True)
    async with storage.sessionmaker() as session:
        names = await shown_names.for_coordinators_by_id(session, [51, 52, 53, 0])
    assert names == {51: "Omar", 52: "🔒 Lina"}


def test_a_pseudonym_is_what_others_read_and_coordinators_see_both() -> None:
    masked = person(org="Beit el Nour")
    masked.pseudonym, masked.username = "Sparrow", "amira_h"
    assert shown_names.for_members(masked) == "Sparrow (Beit el Nour)"
    assert shown_names.for_results(masked, org_voting=False) == "Sparrow"
    assert shown_names.for_coordinators(masked) == "Amira (Beit el Nour) 🎭 Sparrow"
    assert shown_names.for_files(masked, True) == "Amira"
    assert shown_names.for_files(masked, False) == "Sparrow"
    assert shown_names.username_for_viewer(masked, True) == "amira_h"
    assert shown_names.username_for_viewer(masked, False) == ""  # it would unmask her
    assert shown_names.for_themselves(masked) == "Amira"
    masked.discreet = True
    assert shown_names.for_members(masked) is Hidden.DISCREET
    assert shown_names.for_coordinators(masked) == "🔒 Amira (Beit el Nour) 🎭 Sparrow"

"""Volunteers (storage/people/volunteers.py): the safety kit's choices outlive a new
registration, and a username not kept is never stored."""

from __future__ import annotations

from bot.app import Storage
from handlers.kernel.ports import ShiftedClock
from storage.people import volunteers


async def test_a_new_registration_keeps_the_pseudonym_and_the_unkept_username(
    storage: Storage, clock: ShiftedClock
) -> None:
    now = clock.now()
    profile = {
        "kind": "individual",
        "display_name": "Amira",
        "username": "amira_h",
        "country": "LB",
        "language": "en",
        "timezone": "UTC",
    }
    stamps = {"pledge_accepted_at": now, "consent_given_at": now, "status": "active", "now": now}
    async with storage.sessionmaker() as session, session.begin():
        amira = await volunteers.register(session, 5, profile, **stamps)
        assert (amira.pseudonym, amira.keep_username, amira.username) == (None, True, "amira_h")
        await volunteers.update_field(session, amira, "pseudonym", "Sparrow", now)
        await volunteers.update_field(session, amira, "keep_username", False, now)
        assert amira.username is None
    async with storage.sessionmaker() as session, session.begin():
        again = await volunteers.register(session, 5, profile, **stamps)
        assert (again.pseudonym, again.keep_username, again.username) == ("Sparrow", False, None)

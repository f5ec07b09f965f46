"""What erasing a person (/forget, /vanish: handlers/people/privacy.py) asks of calls to action:
their answers to actions still taking answers are taken back, so a freed place goes to the
waitlist in turn (rsvp.withdraw_everywhere)."""

from __future__ import annotations

from handlers.actions.rsvp import withdraw_everywhere

__all__ = ["withdraw_everywhere"]

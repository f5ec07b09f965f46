"""Calls to action: /newaction, /actions, RSVPs, broadcasts, reminders, rosters."""

# The modules other areas may use (checked by tests/test_architecture.py).
__all__: list[str] = ["forgotten", "from_decision"]

"""Group decisions: /poll, /consensus, ballots and counting rules, live results, nudges,
/decisions."""

# The modules other areas may use (checked by tests/test_architecture.py).
__all__: list[str] = ["forgotten"]

"""Running the coalition: roles, membership and applications, the directory, check-ins, the audit
log, stats, groups."""

# The modules other areas may use (checked by tests/test_architecture.py).
__all__: list[str] = ["audit", "membership", "organisations", "roles"]

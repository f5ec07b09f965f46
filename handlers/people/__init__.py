"""A person's own life with Chorus: /start and registration, /profile, /language, /help, /mydata
and /forget."""

# The modules other areas may use (checked by tests/test_architecture.py).
__all__: list[str] = ["countries", "fields", "profile", "registration"]

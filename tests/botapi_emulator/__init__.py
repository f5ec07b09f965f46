"""Tests of the Bot API emulator (botapi_emulator)."""

"""Wiring of Chorus: config, CLI, runtimes, scheduler, delivery, sandbox."""

"""Benchmarks (`python -m tests.bench`): the RSVP storm through each runtime beside the bare
frameworks, broadcast delivery, and the cost of updates as the coalition grows.

Files are named bench_*.py (and helpers without test_) so that pytest does not collect them.
"""

"""Benchmarks (`python -m tests.bench`): delivery pacing and capacity, an RSVP storm.

Files are named bench_*.py so that pytest does not collect them.
"""

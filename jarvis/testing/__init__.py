"""Helpers for tests and benchmarks: generated speech with known timings."""

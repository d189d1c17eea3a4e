"""Benchmarks of chok against a client that behaves like the original app.

Both run in one process against the same local mTLS broker, so the numbers
are side by side. ``chok bench`` prints the table; docs/benchmarks.md keeps
the latest measured one.
"""

"""Unit-test hooks: the fuzz suites' case counts at the end of a run."""

from __future__ import annotations

import sys
from typing import Any


def pytest_terminal_summary(terminalreporter: Any) -> None:
    strategies = sys.modules.get("tests.unit.fuzz_strategies")
    if strategies is None or not strategies.CASES:
        return
    counts = strategies.CASES
    parts = ", ".join(f"{name} {count:,}" for name, count in sorted(counts.items()))
    terminalreporter.write_line(f"fuzz cases: {sum(counts.values()):,} ({parts})")

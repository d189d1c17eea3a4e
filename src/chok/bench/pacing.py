"""Talking in real time, as a person does: one 60 ms frame every 60 ms."""

from __future__ import annotations

import time

FRAME_S = 0.060


def pace(index: int, began: float) -> None:
    """Wait until frame ``index`` of a talk that began at ``began`` is due."""
    delay = began + index * FRAME_S - time.perf_counter()
    if delay > 0:
        time.sleep(delay)

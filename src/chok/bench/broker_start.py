"""How long `chok broker start` takes until an mTLS client can use the broker."""

from __future__ import annotations

import os
import statistics
import tempfile
from collections.abc import Callable


def measure_starts(runs: int, say: Callable[[str], None], nodes: int = 1) -> dict[str, float]:
    """First start (formats storage) once, then ``runs`` restarts; seconds.

    With ``nodes`` > 1 all nodes start together and count as started once
    every one serves clients and holds its partitions."""
    os.environ["CHOK_HOME"] = tempfile.mkdtemp(prefix="chok-bench-start-")
    from chok.broker import process

    port = process.free_port_pair(nodes)
    _, first, _ = process.start(port=port, nodes=nodes)
    process.stop()
    say(f"first start (formats storage): {first:.1f} s")
    restarts = []
    for index in range(runs):
        _, took, _ = process.start(port=port)
        process.stop()
        restarts.append(took)
        say(f"restart {index + 1}: {took:.1f} s")
    return {
        "first_start_s": first,
        "restart_median_s": statistics.median(restarts),
        "restart_max_s": max(restarts),
    }

"""How long `chok broker start` takes until an mTLS client can use the broker."""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import tempfile
from collections.abc import Callable


def measure_starts(runs: int, say: Callable[[str], None], nodes: int = 1) -> dict[str, float]:
    """First start (formats storage) once, then ``runs`` restarts after a
    clean stop and ``runs`` after a crash (every node killed with SIGKILL, as
    a power cut would); seconds.

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
    crashes = []
    for index in range(runs):
        process.start(port=port)
        for node in process.status().nodes:
            if node.pid is not None:
                _kill(node.pid)
        _, took, _ = process.start(port=port)
        process.stop()
        crashes.append(took)
        say(f"restart after a crash {index + 1}: {took:.1f} s")
    return {
        "first_start_s": first,
        "restart_median_s": statistics.median(restarts),
        "restart_max_s": max(restarts),
        "crash_restart_median_s": statistics.median(crashes),
        "crash_restart_max_s": max(crashes),
    }


def _kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):  # not this process's child
        os.waitpid(pid, 0)  # reaped, or the next start sees it still running

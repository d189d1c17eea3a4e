"""Bytes a broker sends to one client process, counted on the broker's side.

``ss -tinp`` reads every TCP socket's kernel counters (``bytes_sent``: TLS
records and all, as they leave the broker's socket; no TCP/IP headers). The
client process's sockets (by pid) give the ports it connects from; the
broker-side sockets facing those ports are what the broker sent it. This is
what a hosted plan counts as egress, up to the TCP/IP headers.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass

from chok.errors import EnvironmentError_

_ADDRESS = re.compile(r"(\S+):(\d+)\s+(\S+):(\d+)")
_PID = re.compile(r"pid=(\d+)")
_COUNTER = re.compile(r"\b(bytes_sent|bytes_received):(\d+)")


@dataclass(frozen=True)
class Socket:
    local_port: int
    peer_port: int
    pids: frozenset[int]
    bytes_sent: int
    bytes_received: int


def tcp_sockets() -> list[Socket]:
    """Every established TCP socket on loopback, with its owners and byte counters."""
    exe = shutil.which("ss")
    if exe is None:
        raise EnvironmentError_("`ss` (iproute2) is needed to count bytes per connection")
    out = subprocess.run(
        [exe, "-tinpH", "state", "established"],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    return parse_ss(out)


def parse_ss(text: str) -> list[Socket]:
    """Parse ``ss -tinpH`` output: a socket line, then its indented info line."""
    sockets: list[Socket] = []
    head: re.Match[str] | None = None
    pids: frozenset[int] = frozenset()
    for line in text.splitlines():
        if not line.startswith(("\t", " ")):
            head = _ADDRESS.search(line)
            pids = frozenset(int(p) for p in _PID.findall(line))
            continue
        counters = dict(_COUNTER.findall(line))
        if head is None or not counters:
            continue
        sockets.append(
            Socket(
                int(head.group(2)),
                int(head.group(4)),
                pids,
                int(counters.get("bytes_sent", 0)),
                int(counters.get("bytes_received", 0)),
            )
        )
        head = None
    return sockets


def broker_bytes_to(pids: Iterable[int], broker_ports: Iterable[int]) -> dict[tuple[int, int], int]:
    """Broker-side ``bytes_sent`` per connection of these client processes.

    Keyed by (broker port, client port), so two samples can be subtracted
    connection by connection (a connection opened in between counts from 0).
    """
    wanted, ports = set(pids), set(broker_ports)
    sockets = tcp_sockets()
    client_ports = {s.local_port for s in sockets if s.pids & wanted and s.peer_port in ports}
    return {
        (s.local_port, s.peer_port): s.bytes_sent
        for s in sockets
        if s.local_port in ports and s.peer_port in client_ports
    }


def sent_between(before: dict[tuple[int, int], int], after: dict[tuple[int, int], int]) -> int:
    """Bytes sent over the connections seen at the end, since the first sample."""
    return sum(count - before.get(key, 0) for key, count in after.items())

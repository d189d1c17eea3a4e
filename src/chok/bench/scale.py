"""How chok's cost grows: many `chok listen` processes on one machine, many
people talking at once on one channel. Latency is what each listener process
itself reports per frame (``chok listen --json --frame-times``: arrival minus
the record's timestamp, one clock); CPU and memory are read from /proc."""

from __future__ import annotations

import json
import os
import random
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from chok.bench.egress import ListenerProcess
from chok.bench.pacing import FRAME_S, pace
from chok.channel.session import ChannelSession
from chok.channel.talk import Talker
from chok.kafka.producer import RecordProducer

Say = Callable[[str], None]
TAIL_S = 1.0
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class ScaleRow:
    what: str
    p50_ms: float
    p99_ms: float
    frames_heard: int
    frames_expected: int
    listener_cpu_pct: float  # per listener process, % of one core
    listener_rss_mb: float
    listener_pss_mb: float
    broker_cpu_pct: float  # all broker nodes, % of one core


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) in MB: PSS shares the pages of common libraries fairly."""
    rss = pss = 0.0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("Rss", "Pss"):
            value = int(rest.split()[0]) / 1024
            rss, pss = (value, pss) if name == "Rss" else (rss, value)
    return rss, pss


class TimedListener(ListenerProcess):
    """`chok listen` writing one line per frame heard; lateness collected per transmission."""

    def __init__(self, profile: str, channel: int) -> None:
        cmd = [sys.executable, "-m", "chok", "--profile", profile, "listen", "--channel",
               str(channel), "--no-play", "--json", "--frame-times"]  # fmt: skip
        super().__init__("chok listen", cmd, "tuned_in")
        self.late: dict[str, list[float]] = {}

    def wait_ready(self) -> TimedListener:
        super().wait_ready()
        threading.Thread(target=self._collect, daemon=True).start()
        return self

    def _collect(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if '"frame"' in line:
                event = json.loads(line)
                self.late.setdefault(event["tx"], []).append(float(event["late_ms"]))


def warm_producers(sessions: list[ChannelSession], packets: list[bytes]) -> list[RecordProducer]:
    """One producer per talker, warmed by an unmeasured short talk: a new
    idempotent producer holds its first records until librdkafka's 500 ms
    producer-id timer fired (and the broker's JIT warms up too)."""
    producers = [session.producer() for session in sessions]
    for session, producer in zip(sessions, producers, strict=True):
        talker = Talker(session, producer=producer)
        for packet in packets[:10]:
            talker.send_packet(packet)
        talker.end()
    return producers


def talk_together(
    sessions: list[ChannelSession], packets: list[bytes], producers: list[RecordProducer]
) -> list[str]:
    """Each session talks the packets at once, in real time, each at its own phase."""
    talkers = [Talker(s, producer=p) for s, p in zip(sessions, producers, strict=True)]
    began = time.perf_counter()

    def run(talker: Talker, phase: float) -> None:
        for index, packet in enumerate(packets):
            pace(index, began + phase)
            talker.send_packet(packet)
        talker.end()

    threads = [
        threading.Thread(target=run, args=(t, random.uniform(0, FRAME_S)), daemon=True)
        for t in talkers
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [t.tx_id for t in talkers]


def measure(
    what: str,
    listeners: list[TimedListener],
    talkers: list[ChannelSession],
    packets: list[bytes],
    broker_pids: list[int],
    producers: list[RecordProducer],
) -> ScaleRow:
    """Everyone talks once; every listener's lateness, CPU and memory meanwhile."""
    pids = [listener.pid for listener in listeners]
    cpu0 = [cpu_seconds(p) for p in pids]
    broker0 = sum(cpu_seconds(p) for p in broker_pids)
    began = time.monotonic()
    tx_ids = talk_together(talkers, packets, producers)
    time.sleep(TAIL_S)  # the last frames reach every listener
    took = time.monotonic() - began
    cpu = [(cpu_seconds(p) - c) / took * 100 for p, c in zip(pids, cpu0, strict=True)]
    broker = (sum(cpu_seconds(p) for p in broker_pids) - broker0) / took * 100
    mem = [memory_mb(p) for p in pids]
    late = [ms for listener in listeners for tx in tx_ids for ms in listener.late.get(tx, [])]
    expected = len(sent_seqs(packets)) * len(tx_ids) * len(listeners)
    values = np.array(late) if late else np.array([float("nan")])
    return ScaleRow(
        what,
        float(np.percentile(values, 50)),
        float(np.percentile(values, 99)),
        len(late),
        expected,
        float(np.mean(cpu)),
        float(np.mean([m[0] for m in mem])),
        float(np.mean([m[1] for m in mem])),
        broker,
    )


def sent_seqs(packets: list[bytes]) -> list[int]:
    """The frames that cross the network: a silence run goes out as its first frame only."""
    from chok.protocol.audio import MIN_PACKET_BYTES

    sent, silent_before = [], False
    for seq, packet in enumerate(packets):
        silent = len(packet) < MIN_PACKET_BYTES
        if not (silent and silent_before):
            sent.append(seq)
        silent_before = silent
    return sent


def start_listeners(count: int, profile: str, channel: int) -> list[TimedListener]:
    """Start them all at once, then wait until each is tuned in."""
    listeners = [TimedListener(profile, channel) for _ in range(count)]
    return [listener.wait_ready() for listener in listeners]


def table(rows: list[ScaleRow]) -> str:
    head = (
        "| what                    | p50 ms | p99 ms | frames heard  | CPU/listener | "
        "RSS MB | PSS MB | broker CPU |"
    )
    lines = [head, "|" + "|".join("-" * len(c) for c in head.split("|")[1:-1]) + "|"]
    for r in rows:
        heard = f"{r.frames_heard}/{r.frames_expected}"
        lines.append(
            f"| {r.what:<23} | {r.p50_ms:>6.1f} | {r.p99_ms:>6.1f} | {heard:>13} | "
            f"{r.listener_cpu_pct:>11.1f}% | {r.listener_rss_mb:>6.1f} | "
            f"{r.listener_pss_mb:>6.1f} | {r.broker_cpu_pct:>9.1f}% |"
        )
    return "\n".join(lines)

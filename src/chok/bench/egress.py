"""Egress per listener, the limit on hosted plans (Aiven's free plan: 250 KB/s
out): what the broker sends one listener while nobody talks (fetch polling,
probes) and per second of speech, counted on the broker's side with ``ss``
(chok.bench.sockets) for one listener process at a time."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from chok.bench.pacing import FRAME_S, pace
from chok.bench.sockets import broker_bytes_to, sent_between
from chok.channel.session import ChannelSession
from chok.channel.talk import Talker
from chok.kafka.producer import RecordProducer

Say = Callable[[str], None]
PLAN_BYTES_S = 250_000  # Aiven's free plan: 250 KB/s out (decimal kB, as its pricing page)
TAIL_S = 1.0  # after the last frame, for the listener to fetch it
SETTLE_S = 2.0  # after tuning in: the listener's first requests are not idle polling
STABLE_S = 5.0  # no new connection for this long: the listener has settled
SETTLE_MAX_S = 60.0
FIRST_TALK_FRAMES = 10


@dataclass
class Egress:
    listener: str
    idle_bytes_s: float
    talk_bytes_s: float  # per second of speech, idle polling in the tail left out

    @property
    def idle_mb_hour(self) -> float:
        return self.idle_bytes_s * 3600 / 1e6

    @property
    def reach(self) -> int:
        """Listeners one talker can reach within the plan's egress."""
        return int(PLAN_BYTES_S // self.talk_bytes_s)


class ListenerProcess:
    """A listener in a process of its own (``wait_ready``: until it is tuned in)."""

    def __init__(
        self, name: str, cmd: list[str], ready: str, env: dict[str, str] | None = None
    ) -> None:
        self.name = name
        self._ready = ready
        self.settle_s = SETTLE_S
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, **(env or {})},
        )

    def wait_ready(self) -> ListenerProcess:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        while line and self._ready not in line:
            line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.name} stopped before it was tuned in")
        return self

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def chok_listen(profile: str, channel: int, *extra: str) -> ListenerProcess:
    cmd = [sys.executable, "-m", "chok", "--profile", profile, "listen"]
    cmd += ["--channel", str(channel), "--no-play", "--json", *extra]
    name = " ".join(["chok listen", *extra])
    return ListenerProcess(name, cmd, "tuned_in").wait_ready()


class GuiListener(ListenerProcess):
    """The desktop app (offscreen), listening to its channel and probing."""

    def __init__(self, profile: str, ports: list[int]) -> None:
        cmd = [sys.executable, "-m", "chok", "--profile", profile, "gui"]
        super().__init__("chok gui (offscreen)", cmd, "", {"QT_QPA_PLATFORM": "offscreen"})
        self._ports = ports
        self.settle_s = 10.0  # it loads the timeline after connecting

    def wait_ready(self) -> ListenerProcess:
        """The app prints nothing: ready once it holds connections to the broker."""
        deadline = time.monotonic() + 60
        while not broker_bytes_to([self.pid], self._ports):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the desktop app did not connect to the broker")
            time.sleep(0.2)  # polling the connection table
        return self


def gui_listen(profile: str, ports: list[int]) -> ListenerProcess:
    return GuiListener(profile, ports).wait_ready()


def original_listen(profile: str, topic: str) -> ListenerProcess:
    cmd = [sys.executable, "-m", "chok.bench.listeners", "original", profile, topic]
    return ListenerProcess("original-like", cmd, "ready").wait_ready()


def idle_rate(listener: ListenerProcess, ports: list[int], seconds: float) -> float:
    """Bytes per second the broker sends this listener while nobody talks."""
    before = broker_bytes_to([listener.pid], ports)
    time.sleep(seconds)  # the measurement window itself
    return sent_between(before, broker_bytes_to([listener.pid], ports)) / seconds


def talk_rate(
    listener: ListenerProcess,
    ports: list[int],
    talk: ChannelSession,
    packets: list[bytes],
    idle_bytes_s: float,
    producer: RecordProducer,
) -> float:
    """Bytes per second of speech the broker sends this listener."""
    before = broker_bytes_to([listener.pid], ports)
    began = time.perf_counter()
    _talk(talk, packets, producer)
    time.sleep(TAIL_S)  # the listener fetches the last frames and the end record
    sent = sent_between(before, broker_bytes_to([listener.pid], ports))
    speech_s = len(packets) * FRAME_S
    tail_s = time.perf_counter() - began - speech_s
    return (sent - idle_bytes_s * tail_s) / speech_s


def settle(listener: ListenerProcess, ports: list[int]) -> None:
    """Until the listener has opened every connection it keeps: its family
    service and its first probe connect seconds after it tuned in, and their
    TLS handshakes (~19 KB in all) are a one-time cost, not idle polling."""
    began = time.monotonic()
    seen = set(broker_bytes_to([listener.pid], ports))
    stable_since = began
    while time.monotonic() - began < SETTLE_MAX_S:
        now = time.monotonic()
        if now - began >= listener.settle_s and now - stable_since >= STABLE_S:
            return
        time.sleep(0.5)  # polling the connection table
        current = set(broker_bytes_to([listener.pid], ports))
        if not current <= seen:
            seen |= current
            stable_since = time.monotonic()


def _first_talk(talk: ChannelSession, packets: list[bytes], producer: RecordProducer) -> None:
    """A short unmeasured talk: the first transmission a listener hears from
    someone makes it read the channel's certificates once (a reader of its
    own, ~11 KB with its handshakes), which is not a cost per second of speech."""
    _talk(talk, packets[:FIRST_TALK_FRAMES], producer)


def _talk(talk: ChannelSession, packets: list[bytes], producer: RecordProducer) -> None:
    """One transmission of these packets, in real time."""
    talker = Talker(talk, producer=producer)
    began = time.perf_counter()
    for index, packet in enumerate(packets):
        pace(index, began)
        talker.send_packet(packet)
    talker.end()


def measure(
    listener: ListenerProcess,
    ports: list[int],
    talk: ChannelSession,
    packets: list[bytes],
    idle_s: float,
    producer: RecordProducer,
) -> Egress:
    try:
        _first_talk(talk, packets, producer)
        settle(listener, ports)
        idle = idle_rate(listener, ports, idle_s)
        talking = talk_rate(listener, ports, talk, packets, idle, producer)
        return Egress(listener.name, idle, talking)
    finally:
        listener.stop()


def table(rows: list[Egress]) -> str:
    head = (
        f"| {'listener':<34} | {'idle B/s':>8} | {'idle MB/h':>9} | "
        f"{'B/s of speech':>13} | {'reach @250 KB/s':>15} |"
    )
    lines = [head, "|" + "|".join("-" * (len(c) + 0) for c in head.split("|")[1:-1]) + "|"]
    for r in rows:
        lines.append(
            f"| {r.listener:<34} | {r.idle_bytes_s:>8.0f} | {r.idle_mb_hour:>9.2f} | "
            f"{r.talk_bytes_s:>13.0f} | {r.reach:>15d} |"
        )
    return "\n".join(lines)

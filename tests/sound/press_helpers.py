"""Helpers for the press tests on the virtual sound device: the clock signal
played into the microphone, `chok talk` driven through a pty, recordings read
back from Kafka and compared with what was said between press and release."""

from __future__ import annotations

import os
import pty
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import IO

import numpy as np

from chok.bench.clock_signal import (
    SLOT_SAMPLES,
    ClockPlayer,
    Kept,
    decoded_edges,
    kept,
    slot_edges_between,
)
from chok.channel.replay import replay_frames
from chok.channel.session import ChannelSession
from chok.channel.timeline import Entry, load_timeline
from chok.codec import OpusDecoder, Pcm

HOLD_S = 4.0


def recording(session: ChannelSession, entry: Entry) -> Pcm:
    """The audio of one transmission, decoded, as a listener replaying it hears it."""
    decoder = OpusDecoder(entry.transmission.frame_ms)
    parts = [decoder.decode(frame.packet) for frame in replay_frames(session, entry.transmission)]
    return np.concatenate(parts)


def entries_of(session: ChannelSession, user: str) -> list[Entry]:
    """``user``'s transmissions on the channel, oldest first."""
    found = [e for e in load_timeline(session).entries if e.transmission.user_id == user]
    return sorted(found, key=lambda e: e.id)


def check_markers(
    pcm: Pcm, player: ClockPlayer, pressed: float, released: float
) -> tuple[bool, Kept, str]:
    """Does the recording hold every whole slot said between press and release?

    Returns (holds, measured loss, a sentence for the assertion message).
    """
    first, last = slot_edges_between(player, pressed, released)
    head, tail = decoded_edges(pcm, player.signal)
    measured = kept(pcm, player, pressed, released)
    holds = head.start <= first * SLOT_SAMPLES and tail.end >= (last + 1) * SLOT_SAMPLES
    said = f"markers {first}..{last}"
    got = f"recording holds slots {head.start / SLOT_SAMPLES:.2f}..{tail.end / SLOT_SAMPLES:.2f}"
    glitch = f"player glitch {player.glitch_ms:.1f} ms"
    story = f"{said}, {got} (r={measured.score:.2f}, {glitch}); {measured}"
    return holds, measured, story


@dataclass
class TalkProcess:
    """`chok talk` with a terminal on stdin (it asks for Enter), output in pipes."""

    proc: subprocess.Popen[str]
    master: int
    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    seen: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, profile: str, *args: str, env: dict[str, str] | None = None) -> TalkProcess:
        master, slave = pty.openpty()
        proc = subprocess.Popen(
            [sys.executable, "-m", "chok", "--profile", profile, "talk", "--json", *args],
            stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, **(env or {})},
        )  # fmt: skip
        os.close(slave)
        talk = cls(proc, master)
        assert proc.stderr is not None
        threading.Thread(target=talk._pump, args=(proc.stderr,), daemon=True).start()
        return talk

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = 60) -> float:
        """Wait until a stderr line contains ``text``; return when it was seen."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            self.seen.append(line)
            if text in line:
                return time.monotonic()
        raise AssertionError(f"never saw {text!r}; stderr so far: {''.join(self.seen)}")

    def enter(self) -> float:
        at = time.monotonic()
        os.write(self.master, b"\n")
        return at

    def finish(self, timeout: float = 60) -> str:
        assert self.proc.stdout is not None
        out = self.proc.stdout.read()
        self.proc.wait(timeout)
        os.close(self.master)
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        assert self.proc.returncode == 0, "".join(self.seen)
        return out

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
    align,
    kept,
    slot_edges_between,
)
from chok.codec import Pcm

HOLD_S = 4.0
# A PulseAudio capture stream that woke slowly hands out stale audio under
# wrong capture times for up to ~2 s after its first block (measured: see
# docs/benchmarks.md); a microphone kept open this long has settled.
SETTLED_S = 1.9

MARKER_SCORE = 0.85  # a whole slot scores 0.89-0.99 after Opus; a cut or another one, <= 0.72
# A marker between the two scores is there but blurred: the virtual sound path
# once glitched inside a slot (r=0.75) while the edges had lost 0 ms. It passes
# only when the edge measurement finds nothing lost at either end.
CUT_SCORE = 0.72


def holds_slot(pcm: Pcm, signal: Pcm, slot: int, context: int = 960) -> float:
    """How well the recording holds one slot of the signal (normalised correlation
    at the best place): the slot with 20 ms of its neighbours, so that it matches
    only itself and not another slot of the same tone."""
    begin = max(0, slot * SLOT_SAMPLES - context)
    return align(signal[begin : (slot + 1) * SLOT_SAMPLES + context], pcm).score


def profile(pcm: Pcm, signal: Pcm, chunk: int = 12_000) -> str:
    """Where each quarter second of the recording sits in the signal (for diagnosis:
    a step means audio went missing or a player ran late there)."""
    spots = []
    for begin in range(0, pcm.size - chunk + 1, chunk):
        found = align(pcm[begin : begin + chunk], signal)
        spots.append(f"{(found.start - begin) / SLOT_SAMPLES:.2f}@{found.score:.2f}")
    return " ".join(spots)


def _played_whole(player: ClockPlayer, slot: int) -> bool:
    return player.steady(slot * SLOT_SAMPLES - 960, (slot + 1) * SLOT_SAMPLES + 960)


def check_markers(
    pcm: Pcm, player: ClockPlayer, pressed: float, released: float
) -> tuple[bool, Kept, str]:
    """Does the recording hold the first and the last whole slot said between
    the press and the release (the markers)?

    Returns (holds, the measured loss at either end, a sentence for the assertion).
    """
    first, last = slot_edges_between(player, pressed, released)
    # A slot the player itself did not play whole (the machine starved it) is
    # no test of chok: the nearest whole one inside the hold stands in.
    first = next((k for k in range(first, first + 5) if _played_whole(player, k)), first)
    last = next((k for k in range(last, last - 5, -1) if _played_whole(player, k)), last)
    scores = [holds_slot(pcm, player.signal, slot) for slot in (first, last)]
    measured = kept(pcm, player, pressed, released)
    holds = min(scores) >= MARKER_SCORE or (min(scores) > CUT_SCORE and measured.whole)
    said = f"markers {first} (r={scores[0]:.2f}) and {last} (r={scores[1]:.2f})"
    if holds and min(scores) < MARKER_SCORE:
        said += " (a marker blurred inside the recording; its edges lost nothing)"
    glitch = f"player glitch {player.glitch_ms:.1f} ms"
    story = f"{said} ({glitch}); {measured}"
    if not holds:
        story += f"; profile: {profile(pcm, player.signal)}"
        if os.environ.get("CHOK_PRESS_DUMP"):
            base = f"{os.environ['CHOK_PRESS_DUMP']}-{time.monotonic():.0f}"
            np.save(base + ".npy", pcm)
            np.save(base + ".stamps.npy", np.array(player._stamps))
            np.save(base + ".times.npy", np.array([pressed, released]))
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

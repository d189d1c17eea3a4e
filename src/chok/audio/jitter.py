"""A jitter buffer for one talker: reorder, wait a little, then play at a steady pace.

Kafka hands records over in bursts (a fetch brings several at once, a slow
network brings none for a while). The buffer holds a talker's frames until
``target_delay`` after the first one arrived, then gives one frame per call of
``pop`` — the caller calls it once per output tick (see ``Mixer``), so the
output clock sets the pace. Frames are ordered by ``seq``; a missing frame
whose successors are already here is a loss and comes out as ``GAP`` (played
as a frame of silence); a frame arriving after its turn is dropped. When the
buffer runs dry (the talker paused or stopped) it waits again, re-buffering for
``target_delay`` when frames come back.

It is pure logic: time comes from the injectable ``clock`` or the ``now``
arguments, so tests drive it with a fake clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

T = TypeVar("T")


class Gap:
    """The marker for a lost frame; play a frame of silence in its place."""

    def __repr__(self) -> str:
        return "GAP"


GAP: Final = Gap()


@dataclass
class JitterStats:
    received: int = 0
    played: int = 0
    concealed: int = 0  # gaps played as silence
    late: int = 0  # arrived after their turn: dropped
    duplicates: int = 0
    overflowed: int = 0  # dropped because more than max_delay was queued
    underruns: int = 0  # ran dry (includes the end of every transmission)


class JitterBuffer(Generic[T]):
    def __init__(
        self,
        frame_ms: int = 60,
        target_delay_ms: int = 120,
        *,
        max_delay_ms: int = 5000,
        max_gap_frames: int = 16,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if target_delay_ms < 0 or max_delay_ms < target_delay_ms:
            raise ValueError("need 0 <= target_delay_ms <= max_delay_ms")
        self.frame_ms = frame_ms
        self.target_delay = target_delay_ms / 1000
        self.max_frames = max(1, max_delay_ms // frame_ms)
        # A jump back (or forward, while idle) of more than this many frames
        # is a new stream (the talker's next transmission), not a late frame.
        self.max_gap_frames = max_gap_frames
        self.clock = clock
        self.stats = JitterStats()
        self._buf: dict[int, T] = {}
        self._next: int | None = None  # seq of the next frame to play
        self._start: float | None = None  # when playing (re)starts; None: idle
        self._playing = False  # released a frame since the last (re)start
        self._auto = 0  # seq given to frames pushed without one
        self.last_push: float | None = None

    @property
    def idle(self) -> bool:
        """Nothing buffered and nothing scheduled."""
        return self._start is None and not self._buf

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def push(self, seq: int | None, item: T, now: float | None = None) -> bool:
        """Add a frame (``seq`` None: arrival order). False if it was dropped."""
        now = self.clock() if now is None else now
        self.last_push = now
        self.stats.received += 1
        if seq is None:
            seq = self._auto
        self._auto = max(self._auto, seq + 1)
        if self._next is not None and seq < self._next:
            if self._start is not None and not self._playing:
                self._next = seq  # reordered before playing began: start earlier
            elif self._start is None and not self._buf and self._next - seq > self.max_gap_frames:
                self._next = seq  # idle, and far behind: a new stream
            else:
                self.stats.late += 1
                return False
        if seq in self._buf:
            self.stats.duplicates += 1
            return False
        if self._start is None:
            # (Re)start: wait target_delay so that the next frames can arrive.
            if self._next is None or (not self._buf and seq - self._next > self.max_gap_frames):
                self._next = seq
            self._start = now + self.target_delay
            self._playing = False
        self._buf[seq] = item
        self._bound()
        return True

    def _bound(self) -> None:
        """Skip the oldest frames while more than max_delay is waiting."""
        assert self._next is not None
        while max(self._buf) - self._next + 1 > self.max_frames:
            if self._buf.pop(self._next, None) is not None:
                self.stats.overflowed += 1
            self._next += 1

    def pop(self, now: float | None = None) -> T | Gap | None:
        """The frame for this output tick: an item, GAP (lost frame), or None (nothing to play)."""
        now = self.clock() if now is None else now
        # The 1 µs slack: ticks are sums of float frame durations, and a tick
        # meant to fall exactly on the start must not wait a whole frame more.
        if self._start is None or now < self._start - 1e-6 or self._next is None:
            return None
        if self._next in self._buf:
            item: T | Gap = self._buf.pop(self._next)
            self.stats.played += 1
        elif self._buf:
            item = GAP
            self.stats.concealed += 1
        else:
            # Ran dry: wait for the talker's next frame, then buffer again.
            self.stats.underruns += 1
            self._start = None
            return None
        self._next += 1
        self._playing = True
        return item

    def reset(self) -> None:
        self._buf.clear()
        self._next = None
        self._start = None
        self._playing = False

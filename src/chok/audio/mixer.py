"""Live playback of several talkers at once: one jitter buffer and decoder each, one mix.

Overlapping talkers (the original app lets two people talk at once; their
frames interleave in the audio topic) must be decoded separately — an Opus
decoder carries state from packet to packet — and then summed. The mixer runs
one output clock: a tick every frame; on each tick every talker that is
playing contributes one frame, and the frames are summed with int16
saturation. The ticks stop when nobody is playing and start again with the
next packet.

Not thread-safe: a caller pushing from a consumer thread and popping from a
player thread holds one lock around both (as channel.player does).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from chok.audio.jitter import Gap, JitterBuffer
from chok.codec import DEFAULT_FRAME_MS, OpusDecoder, Pcm, frame_samples, silence


class Decoder(Protocol):
    last_samples: int

    def decode(self, packet: bytes) -> Pcm: ...


def mix(parts: Sequence[Pcm]) -> Pcm:
    """Sum signals aligned at their start (shorter ones end early), clipping to int16."""
    if not parts:
        return silence(0)
    total = np.zeros(max(p.size for p in parts), dtype=np.int32)
    for p in parts:
        total[: p.size] += p
    return np.clip(total, -32768, 32767).astype(np.int16)


@dataclass
class _Talker:
    buffer: JitterBuffer[bytes]
    decoder: Decoder
    pending: Pcm = field(default_factory=lambda: silence(0))


class Mixer:
    def __init__(
        self,
        frame_ms: int = DEFAULT_FRAME_MS,
        target_delay_ms: int = 120,
        *,
        forget_after_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        decoder_factory: Callable[[], Decoder] = OpusDecoder,
    ) -> None:
        self.frame_samples = frame_samples(frame_ms)
        self.frame_s = frame_ms / 1000
        self.target_delay_ms = target_delay_ms
        self.forget_after_s = forget_after_s
        self.clock = clock
        self._decoder_factory = decoder_factory
        self._talkers: dict[Hashable, _Talker] = {}
        self._tick: float | None = None  # time of the next output frame; None: silent

    @property
    def talkers(self) -> list[Hashable]:
        return list(self._talkers)

    def buffer(self, talker: Hashable) -> JitterBuffer[bytes] | None:
        """A talker's jitter buffer (for its statistics), if the talker is known."""
        t = self._talkers.get(talker)
        return t.buffer if t else None

    def push(self, talker: Hashable, packet: bytes, seq: int | None = None) -> bool:
        """Queue one talker's packet (``seq`` None: arrival order). Empty packets are ignored.

        ``talker`` is any key: a user name, or (user, transmission) to give each
        transmission a fresh decoder.
        """
        if not packet:
            return False
        now = self.clock()
        t = self._talkers.get(talker)
        if t is None:
            buffer: JitterBuffer[bytes] = JitterBuffer(
                round(self.frame_s * 1000), self.target_delay_ms, clock=self.clock
            )
            t = self._talkers[talker] = _Talker(buffer, self._decoder_factory())
        if self._tick is None:
            self._tick = now
        return t.buffer.push(seq, packet, now)

    def next_due(self) -> float | None:
        """Clock time of the next output frame, or None while nobody is playing."""
        return self._tick

    def pop_due(self) -> list[Pcm]:
        """The mixed frames whose tick has come (usually zero or one)."""
        now = self.clock()
        out: list[Pcm] = []
        while self._tick is not None and self._tick <= now:
            parts = [p for t in self._talkers.values() if (p := self._frame_of(t, self._tick)).size]
            if parts:
                out.append(mix(parts))
            self._tick += self.frame_s
            if all(t.buffer.idle and not t.pending.size for t in self._talkers.values()):
                self._tick = None
        self._forget(now)
        return out

    def _frame_of(self, t: _Talker, tick: float) -> Pcm:
        # Pull packets until one frame is there: a talker using 20 ms packets
        # gives three per 60 ms tick, so talkers with any frame size mix.
        while t.pending.size < self.frame_samples:
            item = t.buffer.pop(tick)
            if item is None:
                break
            pcm = (
                silence(t.decoder.last_samples) if isinstance(item, Gap) else t.decoder.decode(item)
            )
            t.pending = np.concatenate([t.pending, pcm])
        frame, t.pending = t.pending[: self.frame_samples], t.pending[self.frame_samples :]
        return frame

    def _forget(self, now: float) -> None:
        """Drop talkers silent for a while, so a returning one gets a fresh decoder."""
        for key, t in list(self._talkers.items()):
            last = t.buffer.last_push
            if t.buffer.idle and (last is None or now - last > self.forget_after_s):
                del self._talkers[key]

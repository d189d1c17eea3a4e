"""A fake live microphone on the real clock, for press tests without a sound card.

It behaves as the virtual PulseAudio device does at its worst, but every
time: it can wake slowly (no audio for ``wake_s`` after it starts, as an
idle PulseAudio sink, a Bluetooth headset switching profile or a USB
microphone waking from suspend), and it can fail mid-hold. Frame i covers
[t0 + i*60 ms, t0 + (i+1)*60 ms) and is handed out when it ends, timed as
PortAudio's ADC time would be; the signal loops, as a room never goes quiet.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from chok.audio.base import AudioInput, TimedBlock
from chok.codec import Pcm, frame_samples
from chok.errors import AudioDeviceError


class FakeMicrophone(AudioInput):
    def __init__(
        self,
        signal: Pcm,
        frame_ms: int = 60,
        *,
        wake_s: float = 0.0,
        fail_after_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.frame_samples = frame_samples(frame_ms)
        self._frame_s = frame_ms / 1000
        frames = max(1, signal.size // self.frame_samples)
        self._frames = signal[: frames * self.frame_samples].reshape(frames, -1)
        self._wake_s = wake_s
        self._fail_after_s = fail_after_s
        self._clock = clock
        self._t0: float | None = None
        self._next = 0
        self.started = 0  # how many times start() was called

    @property
    def t0(self) -> float:
        """When frame 0 began (after the wake-up)."""
        assert self._t0 is not None
        return self._t0

    def start(self) -> None:
        self.started += 1
        self._t0 = self._clock() + self._wake_s
        self._next = 0

    def read_block(self, timeout: float | None = None) -> TimedBlock | None:
        if self._t0 is None:
            return None
        begins = self._t0 + self._next * self._frame_s
        if self._fail_after_s is not None and begins - self._t0 >= self._fail_after_s:
            raise AudioDeviceError("the sound input device stopped delivering audio")
        wait = begins + self._frame_s - self._clock()
        if timeout is not None and wait > timeout:
            time.sleep(max(0.0, timeout))  # a device's pacing: nothing yet
            return None
        if wait > 0:
            time.sleep(wait)  # a device's pacing: the frame is not complete before this
        pcm = self._frames[self._next % len(self._frames)].copy()
        self._next += 1
        return TimedBlock(begins, pcm)

    def read_frame(self, timeout: float | None = None) -> Pcm | None:
        block = self.read_block(timeout)
        return None if block is None else block.pcm

    def stop(self) -> None:
        self._t0 = None


def ramp(frames: int = 200, frame_ms: int = 60) -> Pcm:
    """A signal whose every frame is distinct (frame i holds the value i + 1)."""
    n = frame_samples(frame_ms)
    return np.repeat(np.arange(1, frames + 1, dtype=np.int16), n)

"""A clock signal for measuring what a press kept: 100 ms tone slots.

The signal is a run of 100 ms slots, each a sine of one of 25 frequencies
(400 to 3400 Hz) chosen by a seeded random draw, so any few hundred
milliseconds of it occur once. A recording of it (after Opus, through the
devices and Kafka) is aligned to it by cross-correlation to within about a
millisecond, which says exactly which part of the signal the recording holds.

``ClockPlayer`` plays it on a sound device (in a process of its own) and
notes, for every block PortAudio takes, the time its first sample reaches the
device
(``outputBufferDacTime``, mapped to ``time.monotonic``): that maps a position
in the signal to the moment it was "said", and back.
"""

from __future__ import annotations

import bisect
import functools
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from chok.codec import SAMPLE_RATE, Pcm, decode_packets, encode_pcm

SLOT_S = 0.1
SLOT_SAMPLES = int(SAMPLE_RATE * SLOT_S)
FREQS = tuple(400 + 125 * i for i in range(25))
_LEVEL = 0.25 * 32767  # -12 dBFS: loud, never clipping after the codec
_FADE = 96  # 2 ms fades: the slot edges stay sharp but click-free
_STEADY_BLOCKS = 10  # 200 ms of blocks on time before the signal starts


def clock_signal(slots: int, seed: int = 8) -> Pcm:
    """``slots`` tone slots of 100 ms each (the same for the same seed)."""
    rng = np.random.default_rng(seed)
    t = np.arange(SLOT_SAMPLES) / SAMPLE_RATE
    ramp = np.ones(SLOT_SAMPLES)
    ramp[:_FADE] = np.linspace(0, 1, _FADE)
    ramp[-_FADE:] = np.linspace(1, 0, _FADE)
    pieces = []
    previous = -1
    for _ in range(slots):
        index = int(rng.integers(len(FREQS)))
        if index == previous:  # two equal neighbours would blur a slot edge
            index = (index + 1) % len(FREQS)
        previous = index
        pieces.append(np.sin(2 * np.pi * FREQS[index] * t) * ramp * _LEVEL)
    return np.concatenate(pieces).astype(np.int16)


@dataclass(frozen=True)
class Alignment:
    start: int  # the signal sample at which the recording begins
    length: int  # samples in the recording
    score: float  # normalised correlation there (1.0 = identical)

    @property
    def end(self) -> int:
        return self.start + self.length


def align(recording: Pcm, signal: Pcm) -> Alignment:
    """Where ``recording`` sits inside ``signal``: its start may be negative (the
    recording began before the signal, with silence) and its end past the end."""
    r = recording.astype(np.float64)
    s = np.concatenate([np.zeros(r.size), signal.astype(np.float64), np.zeros(r.size)])
    n = 1 << int(np.ceil(np.log2(r.size + s.size)))
    corr = np.fft.irfft(np.fft.rfft(s, n) * np.conj(np.fft.rfft(r, n)), n)
    lag = int(np.argmax(corr[: s.size - r.size + 1]))
    window = s[lag : lag + r.size]
    score = float(np.dot(r, window) / (np.linalg.norm(r) * np.linalg.norm(window) + 1e-9))
    return Alignment(lag - r.size, r.size, score)


@functools.cache
def codec_delay(frame_ms: int = 60) -> int:
    """Samples by which Opus coding shifts a recording (its lookahead), measured."""
    signal = clock_signal(30, seed=1)
    coded = decode_packets(encode_pcm(signal[SAMPLE_RATE : 2 * SAMPLE_RATE], frame_ms), frame_ms)
    return SAMPLE_RATE - align(coded, signal).start


def decoded_alignment(recording: Pcm, signal: Pcm, frame_ms: int = 60) -> Alignment:
    """``align`` for a recording that went through Opus. Its first samples are
    the decoder's priming (the encoder's lookahead), not signal: the recording
    holds the signal from ``raw start + delay`` to ``raw start + length``."""
    found = align(recording, signal)
    delay = codec_delay(frame_ms)
    return Alignment(found.start + delay, found.length - delay, found.score)


def decoded_edges(
    recording: Pcm, signal: Pcm, frame_ms: int = 60, window: int = SAMPLE_RATE // 2
) -> tuple[Alignment, Alignment]:
    """The first and the last ``window`` of a decoded recording, each aligned on
    its own: a glitch in the middle (a player that ran late) moves neither edge."""
    if recording.size < 2 * window:
        whole = decoded_alignment(recording, signal, frame_ms)
        return whole, whole
    head = decoded_alignment(recording[:window], signal, frame_ms)
    tail = align(recording[-window:], signal)
    delay = codec_delay(frame_ms)
    shifted = Alignment(tail.start + delay - recording.size + window, recording.size - delay, 0)
    return head, Alignment(shifted.start, shifted.length, tail.score)


class ClockPlayer:
    """Plays the clock signal on an output device, from a process of its own.

    Its own process, so that the program under test (which may share this one)
    never delays the player's callback: a late callback would leave a gap in
    what is "said". The child prints, for every block PortAudio takes, the
    signal sample it starts with and when that sample is heard.
    """

    def __init__(self, slots: int = 400, seed: int = 8, env: dict[str, str] | None = None) -> None:
        self.signal = clock_signal(slots, seed)
        self._args = [str(slots), str(seed)]
        self._env = env
        self._stamps: list[tuple[int, float]] = []
        self._proc: subprocess.Popen[str] | None = None
        self._started = threading.Event()

    def start(self, timeout: float = 10.0) -> ClockPlayer:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "chok.bench.clock_signal", "play", *self._args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env={**os.environ, **(self._env or {})},
        )  # fmt: skip
        threading.Thread(target=self._read, args=(self._proc.stdout,), daemon=True).start()
        if not self._started.wait(timeout):
            self.stop()
            raise RuntimeError("the clock signal did not start playing")
        return self

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            sample, at = line.split()
            self._stamps.append((int(sample), float(at)))
            self._started.set()

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.stdin is not None:
            proc.stdin.close()  # the child stops at the end of its input
            proc.wait(10)

    def __enter__(self) -> ClockPlayer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def glitch_ms(self) -> float:
        """How far the blocks strayed from one steady clock (a gap means a glitch)."""
        stamps = list(self._stamps)
        if not stamps:
            return 0.0
        s0, t0 = stamps[0]
        return max(abs((t - t0) - (s - s0) / SAMPLE_RATE) for s, t in stamps) * 1000

    def steady(self, first: int, last: int, tolerance: float = 0.002) -> bool:
        """Was the signal from sample ``first`` to ``last`` played without a gap?
        (A player the machine starved leaves one: its blocks' times jump.)"""
        stamps = [(s, t) for s, t in self._stamps if first - 960 <= s <= last]
        if len(stamps) < 2:
            return bool(stamps)
        s0, t0 = stamps[0]
        return all(abs((t - t0) - (s - s0) / SAMPLE_RATE) < tolerance for s, t in stamps)

    def time_of(self, sample: int) -> float:
        """When signal sample ``sample`` was (or will be) heard, by the monotonic clock."""
        stamps = list(self._stamps)
        index = max(0, bisect.bisect_right([s for s, _ in stamps], sample) - 1)
        base, at = stamps[index]
        return at + (sample - base) / SAMPLE_RATE

    def sample_at(self, when: float) -> int:
        """The signal sample heard at monotonic time ``when``."""
        stamps = list(self._stamps)
        index = max(0, bisect.bisect_right([t for _, t in stamps], when) - 1)
        base, at = stamps[index]
        return base + round((when - at) * SAMPLE_RATE)


def _play(slots: int, seed: int) -> None:
    """(The child) play the signal on the default output; print "sample time" per block.

    The signal starts only once the stream is steady: a new stream's first
    blocks are taken at once and heard much later (up to a second on an idle
    PulseAudio sink), so their times would be wrong.
    """
    import sounddevice

    signal = clock_signal(slots, seed)
    stamps: queue.SimpleQueue[tuple[int, float]] = queue.SimpleQueue()
    position = 0
    steady = 0  # blocks in a row whose times advanced by exactly their length
    last: tuple[float, int] | None = None

    def callback(outdata: Any, frames: int, time_info: Any, status: Any) -> None:
        nonlocal position, steady, last
        heard = time.monotonic() + (time_info.outputBufferDacTime - time_info.currentTime)
        if last is not None and abs(heard - last[0] - last[1] / SAMPLE_RATE) < 0.002:
            steady += 1
        elif position == 0:
            steady = 0
        last = (heard, frames)
        outdata[:, 0] = 0
        if steady < _STEADY_BLOCKS:
            return
        chunk = signal[position : position + frames]
        outdata[: chunk.size, 0] = chunk
        if chunk.size:
            stamps.put((position, heard))
        position += chunk.size

    done = threading.Event()

    def wait_for_eof() -> None:
        sys.stdin.read()
        done.set()

    threading.Thread(target=wait_for_eof, daemon=True).start()
    with sounddevice.OutputStream(
        samplerate=SAMPLE_RATE, channels=1, dtype="int16", blocksize=960, callback=callback,
        latency="high",  # a deep buffer: a busy machine delays the callback, not the sound
    ):  # fmt: skip
        while not done.wait(0.02) and position < signal.size:
            while not stamps.empty():
                sample, at = stamps.get()
                print(sample, f"{at:.6f}", flush=True)


@dataclass(frozen=True)
class Kept:
    """What one recording kept of what was said between a press and a release."""

    lost_at_press_ms: float  # said after the press but missing at the start (0 = all kept)
    lost_at_release_ms: float  # said before the release but missing at the end
    preroll_ms: float  # kept from before the press
    score: float

    @property
    def whole(self) -> bool:
        return self.lost_at_press_ms <= 0 and self.lost_at_release_ms <= 0


def kept(
    recording: Pcm, player: ClockPlayer, pressed: float, released: float, frame_ms: int = 60
) -> Kept:
    """Compare a recording with what the player was saying from ``pressed`` to ``released``.

    Only the signal from 2 s before the press to 2 s after the release is searched
    (the recording must be in there), so a long signal costs no more."""
    margin = 2 * SAMPLE_RATE
    first = max(0, player.sample_at(pressed) - margin)
    last = player.sample_at(released) + margin
    head, tail = decoded_edges(recording, player.signal[first:last], frame_ms)
    began, ended = player.time_of(first + head.start), player.time_of(first + tail.end)
    return Kept(
        lost_at_press_ms=max(0.0, (began - pressed) * 1000),
        lost_at_release_ms=max(0.0, (released - ended) * 1000),
        preroll_ms=max(0.0, (pressed - began) * 1000),
        score=min(head.score, tail.score),
    )


def slot_edges_between(player: ClockPlayer, pressed: float, released: float) -> tuple[int, int]:
    """The first and last whole slot said between press and release (the "markers")."""
    first = -(-player.sample_at(pressed) // SLOT_SAMPLES)
    last = player.sample_at(released) // SLOT_SAMPLES - 1
    return first, last


class EarRecorder:
    """Records a sound source (PULSE_SOURCE in ``env``) from a process of its own,
    every block timed by its capture time: what a listener's speaker played."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self._env = env
        self._dir = tempfile.TemporaryDirectory(prefix="chok-ear-")
        self._path = os.path.join(self._dir.name, "ear.npz")
        self._proc: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 10.0) -> EarRecorder:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "chok.bench.clock_signal", "record", self._path],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env={**os.environ, **(self._env or {})},
        )  # fmt: skip
        ready = threading.Event()

        def first_line(stream: IO[str]) -> None:
            stream.readline()  # "recording": the first block came
            ready.set()

        assert self._proc.stdout is not None
        threading.Thread(target=first_line, args=(self._proc.stdout,), daemon=True).start()
        if not ready.wait(timeout):
            raise RuntimeError("the ear recorder did not start recording")
        return self

    def stop(self) -> tuple[np.ndarray, Pcm]:
        """Stop; the blocks' capture times (monotonic) and their audio."""
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.close()
        self._proc.wait(20)
        with np.load(self._path) as saved:
            starts, pcm = saved["starts"], saved["pcm"]
        self._dir.cleanup()
        return starts, pcm


def _record(path: str) -> None:
    """(The child) record the default source until stdin ends; save times and audio."""
    from chok.audio.base import TimedBlock
    from chok.audio.sound import SoundDeviceInput

    source = SoundDeviceInput()
    blocks: list[TimedBlock] = []
    done = threading.Event()

    def wait_for_eof() -> None:
        sys.stdin.read()
        done.set()

    threading.Thread(target=wait_for_eof, daemon=True).start()
    with source:
        while not done.is_set():
            block = source.read_block(timeout=0.1)
            if block is not None:
                if not blocks:
                    print("recording", flush=True)
                blocks.append(block)
    np.savez(
        path,
        starts=np.array([b.start for b in blocks]),
        pcm=np.stack([b.pcm for b in blocks]) if blocks else np.zeros((0, 2880), np.int16),
    )


if __name__ == "__main__":
    if sys.argv[1] == "play":
        _play(int(sys.argv[2]), int(sys.argv[3]))
    else:
        _record(sys.argv[2])

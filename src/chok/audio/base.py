"""The small device interface, and the devices that need no sound card.

An input hands out frames of ``frame_samples`` 48 kHz mono int16 samples,
either bare (``read_frame``) or as a ``TimedBlock`` that also says when its
first sample was captured, by ``time.monotonic`` (``read_block``): a press
keeps exactly the audio said between its press and its release by those
times. An output takes PCM of any length. Sound-card devices live in
``sound.py``; the ones here make talk and listen work (and testable) without
one.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import numpy as np

from chok.codec import (
    DEFAULT_FRAME_MS,
    EXPORT_SUFFIXES,
    SAMPLE_RATE,
    Pcm,
    as_pcm,
    export,
    frame_samples,
    silence,
)
from chok.codec.files import AudioFileReader
from chok.errors import CodecError, UsageError

LOG = logging.getLogger("chok.audio")


@dataclass(frozen=True)
class TimedBlock:
    """A frame of captured audio and when its first sample was captured."""

    start: float  # time.monotonic() of the first sample
    pcm: Pcm

    @property
    def end(self) -> float:
        """When the sample after its last one was (or will be) captured."""
        return self.start + self.pcm.size / SAMPLE_RATE


class AudioInput(ABC):
    """A source of fixed-size frames (a microphone, a file)."""

    frame_samples: int

    @abstractmethod
    def start(self) -> None:
        """Begin capturing; frames are queued from now on."""

    @abstractmethod
    def read_frame(self, timeout: float | None = None) -> Pcm | None:
        """The next frame, or None if none came within ``timeout`` or the input ended."""

    def read_block(self, timeout: float | None = None) -> TimedBlock | None:
        """The next frame with its capture time. An input that cannot tell says
        the frame ended when it was read (right for a live source read promptly)."""
        frame = self.read_frame(timeout)
        if frame is None:
            return None
        return TimedBlock(time.monotonic() - frame.size / SAMPLE_RATE, frame)

    @abstractmethod
    def stop(self) -> None:
        """Stop capturing and release the device; ``start`` may be called again."""

    def clear(self) -> None:  # noqa: B027 - optional for inputs with no queue
        """Drop frames captured but not read yet (e.g. between two presses)."""

    @property
    def at_end(self) -> bool:
        """True once a finite input (a file) has handed out its last frame."""
        return False

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class AudioOutput(ABC):
    """A sink of 48 kHz mono int16 PCM (a loudspeaker, a file, nothing)."""

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def write(self, pcm: Pcm) -> None:
        """Queue PCM for playing; may block while the device's queue is full."""

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until everything written has been handed to the device; False on timeout."""
        return True

    @abstractmethod
    def close(self) -> None:
        """Play what is queued, then release the device."""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class ArrayInput(AudioInput):
    """Frames cut from a signal in memory, optionally paced like a live microphone.

    When ``realtime`` is set, frame i is not handed out before ``start + i * frame
    duration`` by ``clock``, so a file talks at the speed a person would. Its
    blocks are timed as a microphone's would be: each one ends when it is
    handed out (paced or not, on the same timeline).
    """

    def __init__(
        self,
        pcm: Pcm,
        frame_ms: int = DEFAULT_FRAME_MS,
        *,
        realtime: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.frame_samples = frame_samples(frame_ms)
        self._frame_s = frame_ms / 1000
        flat = as_pcm(pcm)
        padding = (-flat.size) % self.frame_samples
        self._pcm = np.concatenate([flat, np.zeros(padding, dtype=np.int16)])
        self._realtime = realtime
        self._clock = clock
        self._sleep = sleep
        self._next = 0
        self._started_at: float | None = None

    @property
    def frames(self) -> int:
        return self._pcm.size // self.frame_samples

    def start(self) -> None:
        if self._started_at is None:
            self._started_at = self._clock()

    def read_frame(self, timeout: float | None = None) -> Pcm | None:
        if self.at_end:
            return None
        if self._started_at is None:
            self.start()
        if self._realtime:
            assert self._started_at is not None
            wait = self._started_at + self._next * self._frame_s - self._clock()
            if wait > 0:
                if timeout is not None and wait > timeout:
                    self._sleep(timeout)
                    return None
                self._sleep(wait)
        frame = self._frame(self._next)
        self._next += 1
        return frame

    def _frame(self, index: int) -> Pcm:
        begin = index * self.frame_samples
        return self._pcm[begin : begin + self.frame_samples].copy()

    def read_block(self, timeout: float | None = None) -> TimedBlock | None:
        index = self._next
        frame = self.read_frame(timeout)
        if frame is None or self._started_at is None:
            return None
        return TimedBlock(self._started_at + (index - 1) * self._frame_s, frame)

    def stop(self) -> None:
        self._started_at = None

    @property
    def at_end(self) -> bool:
        return self._next >= self.frames


class FileInput(ArrayInput):
    """Frames from any audio file PyAV reads (CodecError if it cannot), decoded
    as they are read: memory stays small whatever the file's length.

    ``frames`` is the length the file announces; reading stops at its real end.
    A file that cannot be decoded past some point ends there, with a warning:
    what was read is still sent.
    """

    def __init__(
        self,
        path: str | Path,
        frame_ms: int = DEFAULT_FRAME_MS,
        *,
        realtime: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._reader = AudioFileReader(path)
        super().__init__(silence(0), frame_ms, realtime=realtime, clock=clock, sleep=sleep)
        self.path = Path(path)
        self._frames = math.ceil(self._reader.seconds * 1000 / frame_ms)

    @property
    def frames(self) -> int:
        return self._frames

    def _frame(self, index: int) -> Pcm:
        try:
            frame = self._reader.read(self.frame_samples)
        except CodecError as exc:
            self._broken(exc)
            frame = None
        return silence(self.frame_samples) if frame is None else frame

    @property
    def at_end(self) -> bool:
        try:
            return self._reader.done
        except CodecError as exc:
            self._broken(exc)
            return True

    def _broken(self, exc: CodecError) -> None:
        LOG.warning(f"{exc}: the rest of it is left out")
        self._reader.close()


class NullOutput(AudioOutput):
    """Discards audio, counting it (for listening without a sound card)."""

    def __init__(self) -> None:
        self.samples_written = 0
        self.writes = 0

    def start(self) -> None:
        pass

    def write(self, pcm: Pcm) -> None:
        self.samples_written += as_pcm(pcm).size
        self.writes += 1

    def close(self) -> None:
        pass


class BufferOutput(AudioOutput):
    """Collects everything written; ``pcm()`` returns it as one signal."""

    def __init__(self) -> None:
        self._parts: list[Pcm] = []
        self._lock = threading.Lock()  # the writer may be another thread than the reader

    def start(self) -> None:
        pass

    def write(self, pcm: Pcm) -> None:
        with self._lock:
            self._parts.append(as_pcm(pcm).copy())

    def pcm(self) -> Pcm:
        with self._lock:
            return np.concatenate(self._parts) if self._parts else np.zeros(0, dtype=np.int16)

    def close(self) -> None:
        pass


class FileOutput(BufferOutput):
    """Collects PCM and saves it on close (.wav, or .ogg/.opus encoded with Opus)."""

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        # Refuse a bad name now rather than after the whole message was received.
        if self.path.suffix.lower() not in EXPORT_SUFFIXES:
            raise UsageError(f"cannot write audio to {self.path.name!r}: use .wav, .ogg or .opus")
        self._closed = False

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            export(self.path, self.pcm())

"""The microphone side of a press: timed blocks, opened at the press or kept open.

A ``Capture`` reads an ``AudioInput``'s timed blocks on a thread of its own
and hands them to whoever is armed (the press runtime). Two ways to run:

- opened at each press (``keep_open=False``): the input starts when the press
  does; a device that wakes slowly delivers late, and the press machine says
  "microphone starting" until it does;
- kept open (``keep_open=True``): the input runs while the app is ready to
  talk, and the last ``ring_s`` of audio wait in a ring, so a press gets its
  pre-roll (the syllable said a hair before pressing) and never waits for a
  device to wake. The stream is open all that time (the system may show the
  microphone as in use).

Blocks older than a press's ``since`` are not handed out; the machine decides
what else belongs to the hold by the blocks' capture times.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable
from typing import Protocol

from chok.audio.base import AudioInput, TimedBlock
from chok.errors import AudioDeviceError, ChokError

InputFactory = Callable[[], AudioInput]
_READ_TIMEOUT_S = 0.1  # how often the reader looks whether it should stop


class BlockSink(Protocol):
    """Where an armed capture delivers (called on the capture's thread)."""

    def block(self, block: TimedBlock) -> None: ...

    def error(self, error: ChokError) -> None: ...

    def ended(self) -> None: ...


class _Stream:
    """One run of an input, read on its own thread until stopped, ended or failed."""

    def __init__(self, owner: Capture, source: AudioInput | None) -> None:
        self._owner = owner
        self.source = source  # None: open (and start) it on the thread
        self.delivered = False
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="chok-capture", daemon=True)

    def _run(self) -> None:
        try:
            if self.source is None:
                self.source = self._owner.open_input()
                self.source.start()
            self._read(self.source)
        except ChokError as exc:
            self._owner._failed(self, exc)
        except Exception as exc:  # a driver's own error: still a device problem, said once
            self._owner._failed(self, AudioDeviceError(f"the microphone failed: {exc}"))
        finally:
            if self.source is not None:
                with contextlib.suppress(ChokError):
                    self.source.stop()

    def _read(self, source: AudioInput) -> None:
        while not self.stopping.is_set():
            block = source.read_block(timeout=_READ_TIMEOUT_S)
            if block is not None:
                if not self.delivered:
                    self.delivered = True
                    self._owner._warm.set()
                self._owner._deliver(self, block)
            elif source.at_end:
                self._owner._ended(self)
                return


class Capture:
    def __init__(
        self,
        open_input: InputFactory,
        *,
        keep_open: bool = False,
        ring_s: float = 2.0,
        on_problem: Callable[[ChokError], None] | None = None,
    ) -> None:
        self.open_input = open_input
        self.keep_open = keep_open
        self._ring_s = ring_s
        self._on_problem = on_problem  # a kept-open input failed while nobody was talking
        self._lock = threading.Lock()
        self._ring: deque[TimedBlock] = deque()
        self._stream: _Stream | None = None
        self._sink: BlockSink | None = None
        self._warm = threading.Event()  # the current stream has delivered audio

    def open(self) -> None:
        """Keep-open: start the input now (errors are raised here); else nothing."""
        if not self.keep_open:
            return
        with self._lock:
            if self._stream is not None:
                return
        source = self.open_input()
        source.start()
        with self._lock:
            self._start(_Stream(self, source))

    @property
    def warm(self) -> bool:
        """The input is delivering audio now (a press will be heard at once)."""
        stream = self._stream
        return stream is not None and stream.delivered

    def wait_warm(self, timeout: float) -> bool:
        """Wait (bounded) until the input delivers audio; False if it did not."""
        return self._warm.wait(timeout)

    @property
    def buffered_s(self) -> float:
        """Seconds of recent audio in the ring (what a press's pre-roll can draw on)."""
        with self._lock:
            return self._ring[-1].end - self._ring[0].start if self._ring else 0.0

    @property
    def latency(self) -> float:
        """The input's own reported latency in seconds (0 when it reports none)."""
        stream = self._stream
        source = stream.source if stream is not None else None
        return float(getattr(source, "latency", 0.0))

    def arm(self, since: float, sink: BlockSink) -> None:
        """Deliver to ``sink`` from now on, starting with audio captured after ``since``."""
        with self._lock:
            self._sink = sink
            if self._stream is None:
                if not self.keep_open:
                    self._ring.clear()
                self._start(_Stream(self, None))
                return
            for block in self._ring:
                if block.end > since:
                    sink.block(block)

    def disarm(self) -> None:
        """Deliver no more; an input opened for the press is stopped."""
        with self._lock:
            self._sink = None
            if not self.keep_open:
                self._stop()

    def close(self) -> None:
        with self._lock:
            self._sink = None
            self._stop()

    # -- on the stream's thread -------------------------------------------------

    def _start(self, stream: _Stream) -> None:
        self._warm.clear()
        self._stream = stream
        stream.thread.start()

    def _stop(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.stopping.set()

    def _deliver(self, stream: _Stream, block: TimedBlock) -> None:
        with self._lock:
            if stream is not self._stream:
                return
            self._ring.append(block)
            while self._ring and self._ring[0].end < block.end - self._ring_s:
                self._ring.popleft()
            if self._sink is not None:
                self._sink.block(block)

    def _failed(self, stream: _Stream, error: ChokError) -> None:
        with self._lock:
            if stream is not self._stream:
                return
            self._stream = None
            sink = self._sink
        if sink is not None:
            sink.error(error)
        elif self._on_problem is not None:
            self._on_problem(error)

    def _ended(self, stream: _Stream) -> None:
        with self._lock:
            if stream is not self._stream:
                return
            self._stream = None
            sink = self._sink
        if sink is not None:
            sink.ended()

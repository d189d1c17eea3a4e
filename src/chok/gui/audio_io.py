"""Sound for the app: the devices chosen in Settings (or injected by tests and
the screenshot script), a volume knob, and one output for cues and replays that
is only ever written from threads of its own, never from the UI thread."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from chok import profiles
from chok.audio import AudioInput, AudioOutput, busy_cue, end_cue, open_input, open_output
from chok.audio import talk_permit_cue as permit_cue
from chok.codec import Pcm
from chok.errors import AudioDeviceError, ChokError

NO_INPUT = "none"  # Settings: "No microphone" (listen only)
NO_OUTPUT = "null"  # Settings: "No sound"

InputFactory = Callable[[str | None], AudioInput]
OutputFactory = Callable[[str | None], AudioOutput]

CUES: dict[str, Callable[[], Pcm]] = {"permit": permit_cue, "end": end_cue, "busy": busy_cue}


def system_input(spec: str | None) -> AudioInput:
    if spec == NO_INPUT:
        raise AudioDeviceError("no microphone chosen (Settings, Input)")
    return open_input(spec)


def system_output(spec: str | None) -> AudioOutput:
    return open_output(spec)


@dataclass(frozen=True)
class AudioDevices:
    """How devices are opened: the real ones by default; tests pass their own."""

    open_input: InputFactory = system_input
    open_output: OutputFactory = system_output


@dataclass
class AudioSettings:
    input: str | None = None  # None: the system default; "none"; "file:PATH"; a name/number
    output: str | None = None  # None: the system default; "null"; a name/number
    volume: float = 1.0  # 0 .. 1.5
    # The microphone stays open while the app is ready to talk: a press is heard
    # at once, with the moment before it (no first word lost to a waking device).
    keep_mic_open: bool = True
    KEYS: ClassVar[tuple[str, str, str, str]] = (
        "gui_input", "gui_output", "gui_volume", "gui_keep_mic_open",
    )  # fmt: skip

    @classmethod
    def load(cls, profile: str) -> AudioSettings:
        got = [profiles.recall(profile, key) for key in cls.KEYS]
        volume = got[2] if isinstance(got[2], int | float) else 1.0
        return cls(
            got[0] if isinstance(got[0], str) else None,
            got[1] if isinstance(got[1], str) else None,
            min(1.5, max(0.0, float(volume))),
            got[3] if isinstance(got[3], bool) else True,
        )

    def save(self, profile: str) -> None:
        values = (self.input, self.output, self.volume, self.keep_mic_open)
        for key, value in zip(self.KEYS, values, strict=True):
            profiles.remember(profile, key, value)


def scale(pcm: Pcm, volume: float) -> Pcm:
    if abs(volume - 1.0) < 1e-3:
        return pcm
    scaled = np.clip(pcm.astype(np.float32) * volume, -32768, 32767)
    result: Pcm = scaled.astype(np.int16)
    return result


class VolumeOutput(AudioOutput):
    """An output whose loudness follows the volume setting (read at each write)."""

    def __init__(self, inner: AudioOutput, volume: Callable[[], float]) -> None:
        self.inner = inner
        self._volume = volume

    def start(self) -> None:
        self.inner.start()

    def write(self, pcm: Pcm) -> None:
        self.inner.write(scale(pcm, self._volume()))

    def drain(self, timeout: float | None = None) -> bool:
        return self.inner.drain(timeout)

    def close(self) -> None:
        self.inner.close()


class SoundOut:
    """Cues and replays: one output, opened on first use, off the UI thread.

    ``cue(name)`` returns at once (a thread of its own plays it); ``write(pcm)``
    is for the replay thread and may block while the device's queue is full.
    ``on_problem`` is called (on a worker thread) once if the device cannot open.
    """

    def __init__(
        self,
        devices: AudioDevices,
        spec: str | None,
        volume: Callable[[], float],
        on_problem: Callable[[str], None] | None = None,
    ) -> None:
        self._devices = devices
        self._spec = spec
        self._volume = volume
        self._on_problem = on_problem
        self._lock = threading.Lock()
        self._output: AudioOutput | None = None
        self._failed = False
        self.cues_played: list[str] = []  # what was played, in order (shown to tests)
        self._queue: queue.Queue[Pcm | None] = queue.Queue()
        self._thread = threading.Thread(target=self._cue_loop, name="chok-gui-cues", daemon=True)
        self._thread.start()

    def _ensure(self) -> AudioOutput | None:
        with self._lock:
            if self._output is None and not self._failed:
                try:
                    self._output = VolumeOutput(self._devices.open_output(self._spec), self._volume)
                    self._output.start()
                except ChokError as exc:
                    self._failed = True
                    if self._on_problem is not None:
                        self._on_problem(str(exc))
            return self._output

    def cue(self, name: str) -> None:
        self.cues_played.append(name)
        self._queue.put(CUES[name]())

    def write(self, pcm: Pcm) -> None:
        output = self._ensure()
        if output is not None:
            output.write(pcm)

    def _cue_loop(self) -> None:
        while (pcm := self._queue.get()) is not None:
            try:
                self.write(pcm)
            except ChokError:
                continue

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(3)
        with self._lock:
            output, self._output = self._output, None
        if output is not None:
            with contextlib.suppress(ChokError):
                output.close()

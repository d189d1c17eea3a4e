"""Sound-card input and output through sounddevice (PortAudio) callback streams.

PortAudio calls our callbacks on its own real-time thread; they only copy one
block into or out of a bounded queue and never wait (the pattern of
python-sounddevice's examples/asyncio_generators.py). Everything else happens
on the caller's thread. Callback streams also avoid a hang seen when two
blocking streams were open at once in one process.

sounddevice is imported on first use: a machine without PortAudio can still
talk from a file and listen into one, and gets a one-line AudioDeviceError
only when it asks for a sound card.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal, cast

import numpy as np

from chok.audio.base import (
    AudioInput,
    AudioOutput,
    FileInput,
    FileOutput,
    NullOutput,
    TimedBlock,
)
from chok.codec import DEFAULT_FRAME_MS, SAMPLE_RATE, Pcm, as_pcm, frame_samples
from chok.errors import AudioDeviceError

Kind = Literal["input", "output"]
_NO_DEVICE = {
    "input": "no sound input device found: connect a microphone or use --file AUDIO",
    "output": "no sound output device found: connect speakers or headphones, "
    "or write the audio to a file",
}


def _sd() -> ModuleType:
    try:
        import sounddevice
    except OSError as exc:  # sounddevice raises this when libportaudio is absent
        raise AudioDeviceError(
            "PortAudio is not installed: install libportaudio2 (Debian/Ubuntu) or portaudio, "
            "or use an audio file instead of a sound device"
        ) from exc
    return cast(ModuleType, sounddevice)


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    name: str
    host_api: str
    max_input_channels: int
    max_output_channels: int
    default_samplerate: float
    is_default_input: bool
    is_default_output: bool


def list_devices() -> list[DeviceInfo]:
    """The sound devices PortAudio sees (an empty list when there are none)."""
    sd = _sd()
    try:
        devices = sd.query_devices()
        apis = sd.query_hostapis()
        default_in, default_out = sd.default.device
    except sd.PortAudioError as exc:
        raise AudioDeviceError(f"cannot list sound devices: {exc}") from exc
    return [
        DeviceInfo(
            index=d["index"],
            name=d["name"],
            host_api=apis[d["hostapi"]]["name"],
            max_input_channels=d["max_input_channels"],
            max_output_channels=d["max_output_channels"],
            default_samplerate=d["default_samplerate"],
            is_default_input=d["index"] == default_in,
            is_default_output=d["index"] == default_out,
        )
        for d in devices
    ]


def _device_arg(device: str | int | None) -> str | int | None:
    """None/"default" is the system default; a number is a PortAudio index; else a name."""
    if device is None or device in ("", "default"):
        return None
    if isinstance(device, str) and device.isdigit():
        return int(device)
    return device


def _check(kind: Kind, device: str | int | None) -> None:
    """Turn every way of not having a usable device into a one-line AudioDeviceError."""
    sd = _sd()
    check = sd.check_input_settings if kind == "input" else sd.check_output_settings
    try:
        check(device=device, channels=1, dtype="int16", samplerate=SAMPLE_RATE)
    except (ValueError, sd.PortAudioError) as exc:
        channels = "max_input_channels" if kind == "input" else "max_output_channels"
        usable = [d for d in list_devices() if getattr(d, channels) > 0]
        names = [f"{d.name} ({d.index})" for d in usable]
        if not names:
            raise AudioDeviceError(_NO_DEVICE[kind]) from exc
        if device is None:
            raise AudioDeviceError(
                f"no default sound {kind} device: choose one of {', '.join(names)}"
            ) from exc
        if isinstance(device, int) and device not in [d.index for d in usable]:
            raise AudioDeviceError(
                f"no sound {kind} device number {device}: choose one of {', '.join(names)}"
            ) from exc
        if isinstance(exc, ValueError) and "matching" in str(exc):
            raise AudioDeviceError(
                f"no sound {kind} device matches {device!r}: choose one of {', '.join(names)}"
            ) from exc
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AudioDeviceError(
            f"sound {kind} device {device!r} cannot do 48 kHz mono 16-bit audio: {first}"
        ) from exc


class SoundDeviceInput(AudioInput):
    """A microphone; frames wait in a bounded queue, the oldest dropped when it is full.

    Each frame is timed by PortAudio's ``inputBufferAdcTime`` (when its first
    sample was at the converter), moved from the stream's clock to
    ``time.monotonic`` by the two clocks' difference at that callback.
    """

    def __init__(
        self,
        device: str | int | None = None,
        frame_ms: int = DEFAULT_FRAME_MS,
        *,
        queue_frames: int = 50,
    ) -> None:
        self.frame_samples = frame_samples(frame_ms)
        self.device = _device_arg(device)
        _check("input", self.device)
        self._queue: queue.Queue[TimedBlock] = queue.Queue(maxsize=queue_frames)
        self._stream: Any = None
        self.dropped = 0  # frames lost because nobody read them in time
        self.overflows = 0  # blocks PortAudio itself reported as overflowed

    def _callback(self, indata: Any, frames: int, time_info: Any, status: Any) -> None:
        now = time.monotonic()
        if status.input_overflow:
            self.overflows += 1
        adc, current = time_info.inputBufferAdcTime, time_info.currentTime
        # A host that does not know (0) gets "the block just ended".
        age = current - adc if adc > 0 and current >= adc else frames / SAMPLE_RATE
        block = TimedBlock(now - age, np.array(indata[:, 0], dtype=np.int16))
        try:
            self._queue.put_nowait(block)
        except queue.Full:
            # Keep the newest audio: a late reader should catch up, not lag.
            self.dropped += 1
            try:
                self._queue.get_nowait()
                self._queue.put_nowait(block)
            except (queue.Empty, queue.Full):
                pass

    def start(self) -> None:
        sd = _sd()
        try:
            if self._stream is None:
                self._stream = sd.InputStream(
                    samplerate=SAMPLE_RATE,
                    channels=1,
                    dtype="int16",
                    blocksize=self.frame_samples,  # PortAudio then gives exactly one frame
                    device=self.device,
                    callback=self._callback,
                )
            self._stream.start()
        except sd.PortAudioError as exc:
            self._stream = None
            raise AudioDeviceError(f"cannot start recording: {exc}") from exc

    def read_block(self, timeout: float | None = None) -> TimedBlock | None:
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def read_frame(self, timeout: float | None = None) -> Pcm | None:
        block = self.read_block(timeout)
        return None if block is None else block.pcm

    @property
    def latency(self) -> float:
        """Seconds from the microphone to the callback, as PortAudio reports it."""
        return float(self._stream.latency) if self._stream is not None else 0.0

    def clear(self) -> None:
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return

    def stop(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.close()  # close() stops the stream first
            except _sd().PortAudioError as exc:
                raise AudioDeviceError(f"cannot stop recording: {exc}") from exc


class SoundDeviceOutput(AudioOutput):
    """A loudspeaker; ``write`` blocks while more than ``queue_frames`` frames wait."""

    def __init__(
        self,
        device: str | int | None = None,
        frame_ms: int = DEFAULT_FRAME_MS,
        *,
        queue_frames: int = 32,
        block_ms: int = 20,
    ) -> None:
        self.frame_samples = frame_samples(frame_ms)
        # The callback assembles blocks of any size from the queue, so the
        # device block can be shorter than a frame: PortAudio's output latency
        # is about two blocks (measured 120 ms with 60 ms blocks, 40 with 20).
        self.block_samples = frame_samples(block_ms)
        self.device = _device_arg(device)
        _check("output", self.device)
        self._queue: queue.Queue[Pcm] = queue.Queue(maxsize=queue_frames)
        self._pending = np.zeros(0, dtype=np.int16)  # touched by the callback only
        self._idle = threading.Event()
        self._idle.set()
        self._stream: Any = None
        self._queue_s = queue_frames * frame_samples(frame_ms) / SAMPLE_RATE
        self.underruns = 0  # times playing ran dry before close

    def _callback(self, outdata: Any, frames: int, time_info: Any, status: Any) -> None:
        out = outdata[:, 0]
        filled = 0
        while filled < frames:
            if self._pending.size == 0:
                try:
                    self._pending = self._queue.get_nowait()
                except queue.Empty:
                    break
            n = min(frames - filled, self._pending.size)
            out[filled : filled + n] = self._pending[:n]
            self._pending = self._pending[n:]
            filled += n
        if filled < frames:
            out[filled:] = 0
            if not self._idle.is_set():
                self.underruns += 1
                self._idle.set()

    def start(self) -> None:
        if self._stream is not None:
            return
        sd = _sd()
        try:
            self._stream = sd.OutputStream(
                samplerate=SAMPLE_RATE,
                channels=1,
                dtype="int16",
                blocksize=self.block_samples,
                device=self.device,
                callback=self._callback,
            )
            self._stream.start()
        except sd.PortAudioError as exc:
            self._stream = None
            raise AudioDeviceError(f"cannot start playing: {exc}") from exc

    def write(self, pcm: Pcm) -> None:
        if self._stream is None:
            self.start()
        flat = as_pcm(pcm)
        # Queue frame-sized pieces so the queue's bound is a bound in time.
        for begin in range(0, flat.size, self.frame_samples):
            try:
                # The whole queue plays in _queue_s; longer means the device is gone.
                self._queue.put(
                    flat[begin : begin + self.frame_samples].copy(), timeout=self._queue_s + 2.0
                )
            except queue.Full:
                raise AudioDeviceError("the sound output device stopped playing") from None
            # Cleared after the put: if the callback drained the queue in
            # between and set idle, the next callback sets it again.
            self._idle.clear()

    def drain(self, timeout: float | None = None) -> bool:
        if self._stream is None:
            return True
        return self._idle.wait(timeout)

    @property
    def latency(self) -> float:
        """Seconds from the callback to the loudspeaker, as PortAudio reports it."""
        return float(self._stream.latency) if self._stream is not None else 0.0

    def close(self) -> None:
        stream = self._stream
        if stream is None:
            return
        self.drain(self._queue_s + 2.0)
        self._stream = None
        try:
            stream.close()  # stop() inside waits for PortAudio's buffers to play
        except _sd().PortAudioError as exc:
            raise AudioDeviceError(f"cannot stop playing: {exc}") from exc


def open_input(device: str | None = None, frame_ms: int = DEFAULT_FRAME_MS) -> AudioInput:
    """``None``/"default": the system microphone; "file:PATH": a file at talking speed;
    a number or a name (part of one): that sound device."""
    if device is not None and device.startswith("file:"):
        return FileInput(device.removeprefix("file:"), frame_ms, realtime=True)
    return SoundDeviceInput(device, frame_ms)


def open_output(device: str | None = None, frame_ms: int = DEFAULT_FRAME_MS) -> AudioOutput:
    """``None``/"default": the system speaker; "null": nowhere; "file:PATH": a .wav/.ogg
    written on close; a number or a name (part of one): that sound device."""
    if device == "null":
        return NullOutput()
    if device is not None and device.startswith("file:"):
        return FileOutput(device.removeprefix("file:"))
    return SoundDeviceOutput(device, frame_ms)

"""Devices without a sound card, the device factory, and the callbacks' hand-over logic."""

from __future__ import annotations

import builtins
import subprocess
import sys
import time
import wave
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from chok.audio import (
    ArrayInput,
    AudioInput,
    BufferOutput,
    FileInput,
    FileOutput,
    NullOutput,
    SoundDeviceInput,
    SoundDeviceOutput,
    open_input,
    open_output,
)
from chok.audio import sound as sound_module
from chok.codec import read_audio_file, write_wav
from chok.errors import AudioDeviceError, CodecError, UsageError


class FakeTime:
    def __init__(self) -> None:
        self.now = 10.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def ramp(samples: int) -> np.ndarray[Any, np.dtype[np.int16]]:
    return (np.arange(samples) % 1000).astype(np.int16)


def test_array_input_hands_out_padded_frames_then_ends() -> None:
    source = ArrayInput(ramp(2880 * 2 + 10))
    with source:
        frames = [source.read_frame(0), source.read_frame(0), source.read_frame(0)]
        assert source.at_end
        assert source.read_frame(0) is None
    assert [f.size for f in frames if f is not None] == [2880, 2880, 2880]
    assert frames[2] is not None and not frames[2][10:].any()


def test_realtime_input_is_paced_like_a_microphone() -> None:
    fake = FakeTime()
    source = ArrayInput(ramp(2880 * 3), realtime=True, clock=fake.clock, sleep=fake.sleep)
    source.start()
    for _ in range(3):
        assert source.read_frame() is not None
    assert fake.slept == [0.06, 0.06]


def test_realtime_input_returns_none_when_the_timeout_is_shorter_than_the_wait() -> None:
    fake = FakeTime()
    source = ArrayInput(ramp(2880 * 2), realtime=True, clock=fake.clock, sleep=fake.sleep)
    source.start()
    assert source.read_frame(0.01) is not None
    assert source.read_frame(0.01) is None
    assert source.read_frame(0.1) is not None


def test_file_input_reads_any_file(tmp_path: Path) -> None:
    write_wav(tmp_path / "in.wav", ramp(2880 * 2))
    source = FileInput(tmp_path / "in.wav")
    assert source.frames == 2
    frame = source.read_frame(0)
    assert frame is not None and np.array_equal(frame, ramp(2880))


def test_file_input_of_a_missing_file_is_a_codec_error(tmp_path: Path) -> None:
    with pytest.raises(CodecError):
        FileInput(tmp_path / "missing.wav")


def test_null_and_buffer_outputs() -> None:
    null = NullOutput()
    buffer = BufferOutput()
    for out in (null, buffer):
        with out:
            out.write(ramp(100))
            out.write(ramp(50))
            assert out.drain(0)
    assert null.samples_written == 150
    assert np.array_equal(buffer.pcm(), np.concatenate([ramp(100), ramp(50)]))


def test_file_output_writes_on_close(tmp_path: Path) -> None:
    out = open_output(f"file:{tmp_path / 'heard.wav'}")
    assert isinstance(out, FileOutput)
    with out:
        out.write(ramp(4000))
    assert np.array_equal(read_audio_file(tmp_path / "heard.wav"), ramp(4000))


def test_file_output_refuses_an_unknown_suffix_at_once(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        FileOutput(tmp_path / "heard.mp3")


def test_factory_names(tmp_path: Path) -> None:
    write_wav(tmp_path / "in.wav", ramp(2880))
    source = open_input(f"file:{tmp_path / 'in.wav'}")
    assert isinstance(source, FileInput)
    assert isinstance(open_output("null"), NullOutput)


@pytest.mark.parametrize("opener", [open_input, open_output])
def test_an_unknown_device_is_an_audio_device_error(opener: Any) -> None:
    with pytest.raises(AudioDeviceError, match=r"no sound (input|output) device"):
        opener("chok-no-such-device-3f9a")


def test_missing_portaudio_is_an_audio_device_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_portaudio(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_portaudio)
    with pytest.raises(AudioDeviceError, match="PortAudio is not installed"):
        open_input(None)


@pytest.fixture
def no_device_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """Build sound-device objects without a sound card, to drive their callbacks by hand."""
    monkeypatch.setattr(sound_module, "_check", lambda kind, device: None)


OK = SimpleNamespace(input_overflow=False)
TIMES = SimpleNamespace(currentTime=1.0, inputBufferAdcTime=0.94)


@pytest.mark.usefixtures("no_device_check")
def test_input_callback_queues_copies_and_drops_the_oldest_when_full() -> None:
    mic = SoundDeviceInput(queue_frames=2)
    block = np.zeros((2880, 1), dtype=np.int16)
    for value in (1, 2, 3):
        block[:] = value
        mic._callback(block, 2880, TIMES, OK)
    assert mic.dropped == 1
    first, second = mic.read_frame(0), mic.read_frame(0)
    assert first is not None and second is not None
    assert (int(first[0]), int(second[0])) == (2, 3)
    assert first.shape == (2880,)
    assert mic.read_frame(0) is None
    mic._callback(block, 2880, TIMES, SimpleNamespace(input_overflow=True))
    assert mic.overflows == 1
    mic.clear()
    assert mic.read_frame(0) is None


@pytest.mark.usefixtures("no_device_check")
def test_input_blocks_are_timed_by_the_adc_time_on_the_monotonic_clock() -> None:
    mic = SoundDeviceInput()
    block = np.zeros((2880, 1), dtype=np.int16)
    before = time.monotonic()
    # PortAudio's stream clock is unrelated to ours: only the difference counts.
    mic._callback(block, 2880, SimpleNamespace(currentTime=500.25, inputBufferAdcTime=500.1), OK)
    timed = mic.read_block(0)
    assert timed is not None
    assert before - 0.15 <= timed.start <= time.monotonic() - 0.15
    assert timed.end == pytest.approx(timed.start + 0.06)
    # A host that does not know the ADC time (0): the block ended when it came.
    mic._callback(block, 2880, SimpleNamespace(currentTime=0.0, inputBufferAdcTime=0.0), OK)
    unknown = mic.read_block(0)
    assert unknown is not None and unknown.end == pytest.approx(time.monotonic(), abs=0.05)


def test_array_blocks_end_when_they_are_handed_out_like_a_microphone_s() -> None:
    fake = FakeTime()
    source = ArrayInput(
        np.zeros(2880 * 3, dtype=np.int16), realtime=True, clock=fake.clock, sleep=fake.sleep
    )
    starts = []
    while (block := source.read_block()) is not None:
        assert block.end == pytest.approx(fake.now)
        starts.append(block.start)
    assert starts == pytest.approx([9.94, 10.0, 10.06])


def test_an_input_without_times_gets_them_from_the_moment_it_is_read() -> None:
    class Bare(AudioInput):
        frame_samples = 2880

        def start(self) -> None: ...
        def stop(self) -> None: ...
        def read_frame(self, timeout: float | None = None) -> Any:
            return np.zeros(2880, dtype=np.int16)

    block = Bare().read_block()
    assert block is not None and block.end == pytest.approx(time.monotonic(), abs=0.05)


@pytest.mark.usefixtures("no_device_check")
def test_output_callback_fills_blocks_across_writes_and_pads_with_silence() -> None:
    speaker = SoundDeviceOutput()
    speaker._stream = object()  # pretend started; write() must not open a device
    speaker.write(np.full(2000, 5, dtype=np.int16))
    speaker.write(np.full(1500, 7, dtype=np.int16))
    assert not speaker.drain(0)
    out = np.full((2880, 1), -1, dtype=np.int16)
    speaker._callback(out, 2880, None, OK)
    assert (out[:2000, 0] == 5).all() and (out[2000:, 0] == 7).all()
    speaker._callback(out, 2880, None, OK)
    assert (out[:620, 0] == 7).all() and not out[620:, 0].any()
    assert speaker.drain(0)
    assert speaker.underruns == 1
    speaker._stream = None


def test_file_input_hands_out_every_frame_then_ends(tmp_path: Path) -> None:
    write_wav(tmp_path / "in.wav", ramp(2880 * 3 + 100))
    source = FileInput(tmp_path / "in.wav")
    assert source.frames == 4
    frames = []
    while (frame := source.read_frame(0)) is not None:
        frames.append(frame)
    assert source.at_end and len(frames) == 4
    assert np.array_equal(np.concatenate(frames)[: 2880 * 3 + 100], ramp(2880 * 3 + 100))
    assert not frames[-1][100:].any()  # the last frame is padded with silence


_READ_A_LONG_FILE = """
import resource, sys
from chok.audio.base import FileInput
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
source = FileInput(sys.argv[1], 60)
count = 0
while source.read_frame(0) is not None:
    count += 1
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(count, before, after)
"""


def test_file_input_memory_stays_bounded_whatever_the_length(tmp_path: Path) -> None:
    # 20 minutes of sound is 115 MB of PCM: reading it whole used ~3.4 times that.
    minutes = 20
    with wave.open(str(tmp_path / "long.wav"), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(48000)
        minute = (np.sin(np.arange(48000 * 60) / 9) * 5000).astype("<i2").tobytes()
        for _ in range(minutes):
            out.writeframes(minute)
    result = subprocess.run(
        [sys.executable, "-c", _READ_A_LONG_FILE, str(tmp_path / "long.wav")],
        capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    count, before_kb, after_kb = map(int, result.stdout.split())
    assert count == minutes * 60 * 1000 // 60
    growth_mb = (after_kb - before_kb) / 1024
    print(f"\nFileInput over {minutes} min: peak RSS grew by {growth_mb:.1f} MB")
    assert growth_mb < 40

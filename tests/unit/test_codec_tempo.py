"""Replay at 1.5x and 2x: shorter by the speed, same pitch (libavfilter's atempo)."""

from __future__ import annotations

import numpy as np
import pytest

from chok.codec import frames_of, sample_speech
from chok.codec.tempo import Tempo, change_tempo, check_speed
from chok.errors import UsageError

RATE = 48_000


def tone(hz: float, seconds: float) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return (np.sin(2 * np.pi * hz * t) * 12_000).astype(np.int16)


def peak_hz(pcm: np.ndarray) -> float:
    middle = pcm[RATE // 4 : -RATE // 4].astype(np.float64)  # away from the edges
    spectrum = np.abs(np.fft.rfft(middle * np.hanning(middle.size)))
    return float(np.argmax(spectrum) * RATE / middle.size)


@pytest.mark.parametrize("speed", [1.5, 2.0])
def test_a_tone_keeps_its_pitch_and_lasts_one_over_the_speed(speed: float) -> None:
    source = tone(440.0, 3.0)
    faster = change_tempo(source, speed)
    assert faster.size / RATE == pytest.approx(3.0 / speed, rel=0.02)
    assert peak_hz(faster) == pytest.approx(440.0, abs=3.0)  # played fast, it would be 660/880


@pytest.mark.parametrize("speed", [1.0, 1.5, 2.0])
def test_speech_streamed_frame_by_frame_lasts_one_over_the_speed(speed: float) -> None:
    speech = sample_speech()
    tempo = Tempo(speed)
    parts = [tempo.process(frame) for frame in frames_of(speech, 60)]
    parts.append(tempo.flush())
    out = np.concatenate(parts)
    assert out.dtype == np.int16
    assert out.size / RATE == pytest.approx(speech.size / RATE / speed, rel=0.02)
    # Same voice: the loudest band of the speech stays where it was.
    assert peak_hz(out) == pytest.approx(peak_hz(speech), rel=0.1)


def test_speeds_out_of_range_are_refused() -> None:
    assert check_speed(1.5) == 1.5
    with pytest.raises(UsageError, match=r"between 0\.5 and 4"):
        check_speed(10)
    with pytest.raises(UsageError):
        Tempo(0.1)

"""Level meter in dBFS and the audio cues."""

from __future__ import annotations

import numpy as np
import pytest

from chok.audio import FLOOR_DBFS, LevelMeter, busy_cue, end_cue, measure, talk_permit_cue, tone


def test_full_scale_sine_is_minus_3_rms_and_0_peak() -> None:
    t = np.arange(4800) / 48_000
    sine = (np.sin(2 * np.pi * 1000 * t) * 32767).astype(np.int16)
    level = measure(sine)
    assert level.rms_dbfs == pytest.approx(-3.01, abs=0.05)
    assert level.peak_dbfs == pytest.approx(0.0, abs=0.01)


def test_half_scale_is_minus_6_and_silence_is_the_floor() -> None:
    assert measure(np.full(100, 16384, dtype=np.int16)).rms_dbfs == pytest.approx(-6.02, abs=0.01)
    assert measure(np.zeros(2880, dtype=np.int16)).rms_dbfs == FLOOR_DBFS
    assert measure(np.zeros(0, dtype=np.int16)).peak_dbfs == FLOOR_DBFS


def test_peak_hold_falls_back_slowly() -> None:
    meter = LevelMeter(decay_db_per_s=20.0)
    meter.update(np.full(2880, 32767, dtype=np.int16))
    assert meter.peak_hold_dbfs == pytest.approx(0.0, abs=0.01)
    meter.update(np.zeros(48_000 // 2, dtype=np.int16))  # half a second of silence
    assert meter.peak_hold_dbfs == pytest.approx(-10.0, abs=0.01)
    assert meter.level.peak_dbfs == FLOOR_DBFS


def test_tone_has_its_frequency_level_and_no_clicks() -> None:
    beep = tone(1000, 100, level_dbfs=-12)
    assert beep.size == 4800
    spectrum = np.abs(np.fft.rfft(beep.astype(float)))
    assert np.fft.rfftfreq(beep.size, 1 / 48_000)[np.argmax(spectrum)] == pytest.approx(1000)
    assert measure(beep).peak_dbfs == pytest.approx(-12, abs=0.1)
    assert abs(int(beep[0])) < 50 and abs(int(beep[-1])) < 50


@pytest.mark.parametrize("cue", [talk_permit_cue, end_cue, busy_cue])
def test_cues_are_short_audible_and_distinct(cue: object) -> None:
    pcm = cue()  # type: ignore[operator]
    assert pcm.dtype == np.int16
    assert 0.05 * 48_000 < pcm.size < 0.6 * 48_000
    assert measure(pcm).peak_dbfs > -20


def test_the_three_cues_differ() -> None:
    cues = [talk_permit_cue(), end_cue(), busy_cue()]
    assert len({c.tobytes() for c in cues}) == 3

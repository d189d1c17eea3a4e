"""Loudness of frames in dBFS, for level bars in the UI and for tests that need "not silent"."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np

from chok.codec import Pcm

# The quietest level reported: one 16-bit step is about -90 dBFS, so anything
# below this is digital silence. A finite floor keeps UIs free of -inf.
FLOOR_DBFS: Final = -96.0
_FULL_SCALE: Final = 32768.0


def _dbfs(amplitude: float) -> float:
    if amplitude <= 0:
        return FLOOR_DBFS
    return max(FLOOR_DBFS, 20 * math.log10(amplitude / _FULL_SCALE))


@dataclass(frozen=True)
class Level:
    rms_dbfs: float
    peak_dbfs: float


def measure(pcm: Pcm) -> Level:
    """RMS and peak of a frame; a full-scale sine measures -3 dBFS RMS, 0 dBFS peak."""
    if pcm.size == 0:
        return Level(FLOOR_DBFS, FLOOR_DBFS)
    samples = pcm.astype(np.float64)
    rms = math.sqrt(float(np.mean(samples * samples)))
    peak = float(np.max(np.abs(samples)))
    return Level(_dbfs(rms), _dbfs(peak))


class LevelMeter:
    """Per-frame levels plus a peak hold that falls back slowly, as level bars show."""

    def __init__(self, decay_db_per_s: float = 20.0) -> None:
        self.decay_db_per_s = decay_db_per_s
        self.level = Level(FLOOR_DBFS, FLOOR_DBFS)
        self.peak_hold_dbfs = FLOOR_DBFS

    def update(self, pcm: Pcm, sample_rate: int = 48_000) -> Level:
        self.level = measure(pcm)
        fallen = self.peak_hold_dbfs - self.decay_db_per_s * pcm.size / sample_rate
        self.peak_hold_dbfs = max(self.level.peak_dbfs, fallen, FLOOR_DBFS)
        return self.level

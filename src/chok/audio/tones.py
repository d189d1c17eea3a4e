"""Short audio cues (48 kHz mono int16): talk permit, end of transmission, channel busy.

Push-to-talk users expect a chirp when they may speak, another when a message
ends, and a distinct sound when someone else holds the channel. Each tone has
5 ms fades so that it starts and stops without a click.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np

from chok.codec import SAMPLE_RATE, Pcm, silence

CUE_DBFS: Final = -12.0  # loud enough to hear, well below speech peaks
_FADE_S: Final = 0.005


def tone(freq_hz: float, ms: int, level_dbfs: float = CUE_DBFS) -> Pcm:
    """A sine beep with faded edges."""
    n = SAMPLE_RATE * ms // 1000
    t = np.arange(n) / SAMPLE_RATE
    wave = np.sin(2 * np.pi * freq_hz * t) * (32767 * 10 ** (level_dbfs / 20))
    fade = min(n // 2, int(SAMPLE_RATE * _FADE_S))
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        wave[:fade] *= ramp
        wave[n - fade :] *= ramp[::-1]
    return wave.astype(np.int16)


def sequence(parts: Sequence[tuple[float, int]], gap_ms: int = 0) -> Pcm:
    """Beeps (frequency Hz, length ms; frequency 0 is a pause) separated by ``gap_ms``."""
    gap = silence(SAMPLE_RATE * gap_ms // 1000)
    pieces: list[Pcm] = []
    for i, (freq, ms) in enumerate(parts):
        if i:
            pieces.append(gap)
        pieces.append(tone(freq, ms) if freq else silence(SAMPLE_RATE * ms // 1000))
    return np.concatenate(pieces) if pieces else silence(0)


def talk_permit_cue() -> Pcm:
    """Two rising beeps: the channel is yours, speak now."""
    return sequence([(880, 60), (1320, 60)], gap_ms=20)


def end_cue() -> Pcm:
    """One falling pair: a transmission ended ("roger beep")."""
    return sequence([(1320, 50), (880, 80)], gap_ms=10)


def busy_cue() -> Pcm:
    """Three low beeps: someone else is talking."""
    return sequence([(440, 90), (440, 90), (440, 90)], gap_ms=70)

"""Mixer: saturation, one decoder per talker, overlapping talkers, pacing by ticks."""

from __future__ import annotations

import numpy as np

from chok.audio import Mixer, mix
from chok.codec import SILENCE_MARKER, OpusEncoder, Pcm


class FakeClock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


class RawDecoder:
    """Packets are raw int16 PCM: makes the mixing arithmetic visible."""

    def __init__(self) -> None:
        self.last_samples = 2880

    def decode(self, packet: bytes) -> Pcm:
        pcm = np.frombuffer(packet, dtype=np.int16).copy()
        self.last_samples = pcm.size
        return pcm


def const(value: int, samples: int = 2880) -> bytes:
    return np.full(samples, value, dtype=np.int16).tobytes()


def make(target_ms: int = 0) -> tuple[Mixer, FakeClock]:
    clock = FakeClock()
    return Mixer(60, target_ms, clock=clock, decoder_factory=RawDecoder), clock


def test_mix_sums_and_saturates() -> None:
    a = np.array([30000, -30000, 100, 5], dtype=np.int16)
    b = np.array([10000, -10000, -50], dtype=np.int16)
    assert mix([a, b]).tolist() == [32767, -32768, 50, 5]
    assert mix([]).size == 0


def test_one_talker_plays_one_frame_per_tick() -> None:
    mixer, clock = make()
    for v in (1, 2, 3):
        mixer.push("ann", const(v))
    frames = mixer.pop_due()
    assert [f[0] for f in frames] == [1]
    clock.now += 0.060
    assert [f[0] for f in mixer.pop_due()] == [2]
    clock.now += 0.130  # a late caller gets every tick that has passed
    assert [f[0] for f in mixer.pop_due()] == [3]
    assert mixer.next_due() is None


def test_overlapping_talkers_are_summed_frame_by_frame() -> None:
    mixer, clock = make()
    mixer.push("ann", const(100))
    mixer.push("bob", const(20))
    mixer.push("ann", const(300))
    frames = mixer.pop_due()
    clock.now += 0.060
    frames += mixer.pop_due()
    assert [int(f[0]) for f in frames] == [120, 300]
    assert all(f.size == 2880 for f in frames)


def test_loud_talkers_saturate_instead_of_wrapping() -> None:
    mixer, _ = make()
    mixer.push("ann", const(30000))
    mixer.push("bob", const(30000))
    assert mixer.pop_due()[0].min() == 32767


def test_talkers_with_20_ms_packets_mix_with_60_ms_ones() -> None:
    mixer, _ = make()
    mixer.push("ann", const(1000))
    for v in (1, 2, 3):
        mixer.push("bob", const(v, 960))
    (frame,) = mixer.pop_due()
    assert frame.size == 2880
    assert frame[0] == 1001 and frame[960] == 1002 and frame[1920] == 1003


def test_a_talker_has_its_own_decoder_and_gaps_are_silence() -> None:
    mixer, clock = make()
    mixer.push("ann", const(7), seq=0)
    mixer.push("ann", const(9), seq=2)
    out = []
    for _ in range(3):
        out += mixer.pop_due()
        clock.now += 0.060
    assert [int(f[0]) for f in out] == [7, 0, 9]
    buffer = mixer.buffer("ann")
    assert buffer is not None and buffer.stats.concealed == 1


def test_the_target_delay_holds_the_first_frame_back() -> None:
    mixer, clock = make(120)
    mixer.push("ann", const(5))
    assert mixer.pop_due() == []
    clock.now += 0.060
    assert mixer.pop_due() == []
    clock.now += 0.060
    assert [int(f[0]) for f in mixer.pop_due()] == [5]


def test_empty_packets_are_ignored_and_silent_talkers_forgotten() -> None:
    mixer, clock = make()
    assert mixer.push("ann", b"") is False
    assert mixer.talkers == []
    mixer.push("ann", const(1))
    mixer.pop_due()
    clock.now += 0.060
    mixer.pop_due()
    assert mixer.talkers == ["ann"]
    clock.now += 31
    mixer.pop_due()
    assert mixer.talkers == []


def test_real_opus_packets_and_markers_decode_per_talker() -> None:
    clock = FakeClock()
    mixer = Mixer(clock=clock, target_delay_ms=0)
    t = np.arange(2880) / 48_000
    tone = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
    encoder = OpusEncoder()
    mixer.push("ann", encoder.encode(tone))
    mixer.push("bob", SILENCE_MARKER)
    (frame,) = mixer.pop_due()
    assert frame.size == 2880
    assert np.abs(frame).max() > 1000

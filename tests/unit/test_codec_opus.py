"""Opus encoder/decoder: one packet per frame, sizes, the silence marker, bad input."""

from __future__ import annotations

import functools
import shutil

import numpy as np
import pytest
from pesq import pesq

from chok.codec import (
    DEFAULT_BITRATE,
    MIN_PACKET_BYTES,
    SILENCE_MARKER,
    OpusDecoder,
    OpusEncoder,
    Pcm,
    decode_packets,
    encode_pcm,
    frame_samples,
    frames_of,
    make_speech,
    packet_samples,
    resample,
    to_wire,
)
from chok.errors import CodecError, UsageError


@functools.cache
def speech() -> Pcm:
    """espeak-ng speech (CI installs it); a voiced synthetic signal otherwise."""
    if shutil.which("espeak-ng"):
        return make_speech("The birch canoe slid on the smooth planks. Over and out.")
    t = np.arange(48_000 * 3) / 48_000
    pitch = 120 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.cumsum(np.pi * pitch / 48_000)
    voiced = sum(np.sin(k * phase) / k for k in range(1, 20)) * (np.sin(np.pi * t * 2) ** 2)
    return (voiced * 6000).astype(np.int16)


def sine(samples: int, freq: float = 440.0, amplitude: int = 8000) -> Pcm:
    t = np.arange(samples) / 48_000
    return (np.sin(2 * np.pi * freq * t) * amplitude).astype(np.int16)


@pytest.mark.parametrize(("ms", "samples"), [(20, 960), (40, 1920), (60, 2880)])
def test_frame_samples(ms: int, samples: int) -> None:
    assert frame_samples(ms) == samples


@pytest.mark.parametrize("ms", [10, 30, 120, 0])
def test_frame_ms_outside_20_40_60_is_a_usage_error(ms: int) -> None:
    with pytest.raises(UsageError, match="20, 40 or 60"):
        OpusEncoder(frame_ms=ms)


@pytest.mark.parametrize(
    "kwargs",
    [{"bitrate": 1000}, {"application": "music"}, {"cutoff_hz": 7000}],
)
def test_bad_encoder_settings_are_usage_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        OpusEncoder(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("ms", [20, 40, 60])
def test_every_frame_gives_exactly_one_packet_at_once(ms: int) -> None:
    encoder = OpusEncoder(frame_ms=ms)
    frames = list(frames_of(speech(), ms))
    packets = [encoder.encode(f) for f in frames]
    assert len(packets) == len(frames)
    assert all(packet_samples(p) == frame_samples(ms) for p in packets)
    decoder = OpusDecoder(frame_ms=ms)
    assert all(decoder.decode(p).size == frame_samples(ms) for p in packets)


def test_encoder_lookahead_is_312_samples_and_flush_gives_the_tail() -> None:
    encoder = OpusEncoder()
    encoder.encode(sine(2880))
    assert encoder.lookahead == 312
    tail = encoder.flush()
    assert len(tail) == 1
    # Reusable after flush, for the next transmission.
    assert packet_samples(encoder.encode(sine(2880))) == 2880


def test_encode_accepts_little_endian_bytes() -> None:
    frame = sine(2880)
    assert OpusEncoder().encode(frame.astype("<i2").tobytes()) == OpusEncoder().encode(frame)


@pytest.mark.parametrize("samples", [2879, 2881, 0])
def test_wrong_frame_size_is_a_codec_error(samples: int) -> None:
    with pytest.raises(CodecError, match="2880 samples"):
        OpusEncoder().encode(sine(samples))


def test_float_pcm_is_refused() -> None:
    with pytest.raises(CodecError, match="16-bit"):
        OpusEncoder().encode(np.zeros(2880, dtype=np.float32))


def test_speech_round_trip_keeps_quality() -> None:
    ref = speech()
    encoder = OpusEncoder()
    packets = [encoder.encode(f) for f in frames_of(ref)] + encoder.flush()
    decoded = decode_packets(packets)[encoder.lookahead : encoder.lookahead + ref.size]
    assert decoded.size == ref.size
    correlation = np.corrcoef(ref.astype(float), decoded.astype(float))[0, 1]
    assert correlation > 0.7
    score = pesq(
        16_000,
        resample(ref, 16_000).astype(np.float32),
        resample(decoded, 16_000).astype(np.float32),
        "wb",
    )
    # docs/audio.md: the defaults measured 3.5 to 3.9 on espeak-ng speech;
    # the synthetic fallback scores about 3.1.
    assert score > (3.4 if shutil.which("espeak-ng") else 2.9)


def test_speech_packets_fit_the_bitrate_and_stay_above_the_marker_size() -> None:
    ref = speech()
    packets = encode_pcm(ref, flush=False)
    loud = [np.sqrt(np.mean(f.astype(float) ** 2)) > 300 for f in frames_of(ref)]
    speech_sizes = [len(p) for p, is_loud in zip(packets, loud, strict=True) if is_loud]
    assert speech_sizes
    assert min(speech_sizes) >= MIN_PACKET_BYTES
    bits_per_second = 8 * sum(len(p) for p in packets) / (len(packets) * 0.060)
    assert 0.5 * DEFAULT_BITRATE < bits_per_second < 1.3 * DEFAULT_BITRATE


def test_to_wire_replaces_small_packets_with_the_marker() -> None:
    assert to_wire(b"x" * 24) == SILENCE_MARKER
    assert to_wire(b"x" * 25) == b"x" * 25


def test_digital_silence_encodes_to_a_marker_packet() -> None:
    encoder = OpusEncoder()
    packets = [encoder.encode(np.zeros(2880, dtype=np.int16)) for _ in range(5)]
    assert all(to_wire(p) == SILENCE_MARKER for p in packets[1:])


def test_marker_decodes_to_a_frame_of_silence() -> None:
    decoder = OpusDecoder()
    pcm = decoder.decode(SILENCE_MARKER)
    assert pcm.dtype == np.int16
    assert pcm.size == 2880
    assert not pcm.any()


def test_marker_and_garbage_take_the_last_frame_length() -> None:
    encoder = OpusEncoder(frame_ms=20)
    decoder = OpusDecoder()
    assert decoder.decode(encoder.encode(sine(960))).size == 960
    assert decoder.decode(SILENCE_MARKER).size == 960
    assert decoder.decode(b"\xff\xff\xff\xff\xff").size == 960


@pytest.mark.parametrize(
    "garbage", [b"\xff\xff\xff\xff\xff", b"garbage-1234567890-garbage", b"\x03"]
)
def test_garbage_decodes_to_silence_and_the_decoder_goes_on(garbage: bytes) -> None:
    encoder = OpusEncoder()
    decoder = OpusDecoder()
    first = decoder.decode(encoder.encode(sine(2880)))
    bad = decoder.decode(garbage)
    assert bad.size == 2880
    assert not bad.any()
    assert decoder.errors == 1
    after = decoder.decode(encoder.encode(sine(2880)))
    assert first.size == after.size == 2880
    assert np.abs(after).max() > 1000


def test_empty_value_decodes_to_nothing() -> None:
    assert OpusDecoder().decode(b"").size == 0


@pytest.mark.parametrize(
    ("packet", "samples"),
    [
        (bytes([0x00]), 480),  # SILK NB 10 ms, one frame
        (bytes([(3 << 3) | 0]), 2880),  # SILK NB 60 ms
        (bytes([(9 << 3) | 1, 0]), 1920),  # SILK WB 20 ms, two frames
        (bytes([(31 << 3) | 2, 0]), 1920),  # CELT FB 20 ms, two frames
        (bytes([(15 << 3) | 3, 3]), 2880),  # hybrid FB 20 ms, three frames (code 3)
        (bytes([(15 << 3) | 3, 0xC3]), 2880),  # same with the VBR and padding flags set
        (bytes([(3 << 3) | 3, 3]), None),  # 180 ms: longer than Opus allows
        (bytes([(3 << 3) | 3]), None),  # code 3 without its count byte
        (bytes([(3 << 3) | 3, 0]), None),  # code 3 with zero frames
        (b"", None),
    ],
)
def test_packet_samples_reads_the_toc(packet: bytes, samples: int | None) -> None:
    assert packet_samples(packet) == samples

"""Reading audio files of any format, framing, WAV and Ogg/Opus export, speech samples."""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from chok.codec import (
    SILENCE_MARKER,
    OpusDecoder,
    OpusEncoder,
    Pcm,
    decode_packets,
    encode_pcm,
    export,
    frames_of,
    make_speech,
    packet_samples,
    read_audio_file,
    read_ogg_opus_packets,
    sample_speech,
    sample_speech_path,
    write_ogg_opus,
    write_wav,
)
from chok.errors import ChokError, CodecError, EnvironmentError_, StorageError, UsageError


def sine(samples: int, freq: float = 1000.0, rate: int = 48_000, amplitude: int = 8000) -> Pcm:
    t = np.arange(samples) / rate
    return (np.sin(2 * np.pi * freq * t) * amplitude).astype(np.int16)


def dominant_hz(pcm: Pcm, rate: int = 48_000) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(float)))
    return float(np.fft.rfftfreq(pcm.size, 1 / rate)[np.argmax(spectrum)])


def write_with_pyav(
    path: Path, codec: str, rate: int, layout: str, seconds: float, fmt: str | None = None
) -> None:
    """Encode a 1 kHz sine into ``path`` with any PyAV codec/container, as a foreign file."""
    channels = 2 if layout == "stereo" else 1
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        assert isinstance(stream, av.audio.stream.AudioStream)
        tone = sine(int(rate * seconds), rate=rate)
        frame = av.AudioFrame.from_ndarray(
            np.repeat(tone, channels).reshape(1, -1),
            format="s16",
            layout=layout,  # interleaved
        )
        frame.sample_rate = rate
        frame.pts = 0
        frame.time_base = Fraction(1, rate)
        resampler = av.AudioResampler(
            format=stream.codec_context.format,
            layout=layout,
            rate=rate,
            frame_size=stream.codec_context.frame_size or None,
        )
        for chunk in [*resampler.resample(frame), *resampler.resample(None)]:
            container.mux(stream.encode(chunk))
        container.mux(stream.encode(None))


@pytest.mark.parametrize(
    ("name", "codec", "rate", "layout", "fmt"),
    [
        ("a.wav", "pcm_s16le", 16_000, "mono", None),
        ("b.wav", "pcm_s16le", 44_100, "stereo", None),
        ("c.flac", "flac", 44_100, "stereo", None),
        ("d.mp3", "libmp3lame", 44_100, "stereo", None),
        ("e.m4a", "aac", 22_050, "mono", "ipod"),
        ("f.ogg", "libopus", 48_000, "stereo", None),
    ],
)
def test_read_audio_file_resamples_any_format_to_48k_mono(
    tmp_path: Path, name: str, codec: str, rate: int, layout: str, fmt: str | None
) -> None:
    path = tmp_path / name
    write_with_pyav(path, codec, rate, layout, 1.0, fmt)
    pcm = read_audio_file(path)
    assert pcm.dtype == np.int16
    assert pcm.ndim == 1
    # Lossy codecs add priming samples; the length is a second within a frame or two.
    assert abs(pcm.size - 48_000) < 3000
    assert abs(dominant_hz(pcm) - 1000) < 5
    assert np.abs(pcm).max() > 4000


def test_wav_round_trip_is_exact(tmp_path: Path) -> None:
    pcm = np.random.default_rng(1).integers(-32768, 32767, 4801, dtype=np.int16)
    write_wav(tmp_path / "x.wav", pcm)
    assert np.array_equal(read_audio_file(tmp_path / "x.wav"), pcm)


def test_missing_file_is_a_codec_error(tmp_path: Path) -> None:
    with pytest.raises(CodecError, match="audio file not found"):
        read_audio_file(tmp_path / "nope.wav")


def test_folder_is_a_codec_error(tmp_path: Path) -> None:
    with pytest.raises(CodecError, match="folder"):
        read_audio_file(tmp_path)


def test_non_audio_file_is_a_codec_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"this is not audio at all\n" * 40)
    with pytest.raises(CodecError, match="cannot read"):
        read_audio_file(junk)


def test_frames_of_pads_the_last_frame_with_zeros() -> None:
    pcm = np.arange(1, 2880 * 2 + 101, dtype=np.int16)
    frames = list(frames_of(pcm))
    assert [f.size for f in frames] == [2880, 2880, 2880]
    assert np.array_equal(np.concatenate(frames)[: pcm.size], pcm)
    assert not frames[-1][100:].any()
    assert frames[-1][99] == pcm[-1]


def test_frames_of_exact_multiple_and_empty() -> None:
    assert len(list(frames_of(np.ones(960 * 4, dtype=np.int16), 20))) == 4
    assert list(frames_of(np.zeros(0, dtype=np.int16))) == []


def test_ogg_export_keeps_every_packet_byte_for_byte(tmp_path: Path) -> None:
    packets = encode_pcm(sine(48_000, 440))
    write_ogg_opus(tmp_path / "m.ogg", packets)
    assert read_ogg_opus_packets(tmp_path / "m.ogg") == packets
    # Players get the whole duration minus the encoder's 312-sample pre-skip.
    assert read_audio_file(tmp_path / "m.ogg").size == len(packets) * 2880 - 312


def test_ogg_export_turns_markers_into_silence_frames_and_skips_empty(tmp_path: Path) -> None:
    packets = encode_pcm(sine(2880 * 3, 440), flush=False)
    values = [packets[0], SILENCE_MARKER, b"", packets[1], b"\xff", packets[2]]
    write_ogg_opus(tmp_path / "m.opus", values)
    stored = read_ogg_opus_packets(tmp_path / "m.opus")
    assert len(stored) == 5
    assert [stored[0], stored[2], stored[4]] == packets
    for filler in (stored[1], stored[3]):
        assert packet_samples(filler) == 2880
        assert np.abs(OpusDecoder().decode(filler)).max() < 30  # below -60 dBFS


def test_export_chooses_the_format_by_suffix(tmp_path: Path) -> None:
    pcm = sine(2880 * 10, 440)
    packets = encode_pcm(pcm)
    export(tmp_path / "p.wav", packets)
    assert np.array_equal(read_audio_file(tmp_path / "p.wav"), decode_packets(packets))
    export(tmp_path / "p.ogg", packets)
    assert read_ogg_opus_packets(tmp_path / "p.ogg") == packets
    export(tmp_path / "pcm.opus", pcm)
    assert len(read_ogg_opus_packets(tmp_path / "pcm.opus")) == len(packets)
    export(tmp_path / "pcm.WAV", pcm)
    assert np.array_equal(read_audio_file(tmp_path / "pcm.WAV"), pcm)


@pytest.mark.parametrize("name", ["x.mp3", "x.flac", "x"])
def test_export_to_other_suffixes_is_a_usage_error(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError, match=r"\.wav, \.ogg or \.opus"):
        export(tmp_path / name, sine(100))


@pytest.mark.parametrize("name", ["x.wav", "x.ogg"])
def test_writing_into_a_missing_folder_is_a_usage_error(tmp_path: Path, name: str) -> None:
    # A path the person typed wrong, not audio that cannot be coded (exit 2, not 8).
    with pytest.raises(UsageError, match=f"the folder {tmp_path / 'missing'} does not exist"):
        export(tmp_path / "missing" / name, encode_pcm(sine(2880)))


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_make_speech_speaks_and_saves(tmp_path: Path) -> None:
    pcm = make_speech("Hello there, testing one two.", tmp_path / "s.ogg")
    assert 0.8 * 48_000 < pcm.size < 5 * 48_000
    assert np.abs(pcm).max() > 3000
    decoded = read_audio_file(tmp_path / "s.ogg")
    assert abs(decoded.size - pcm.size) <= 2880 * 2


def test_make_speech_without_espeak_is_an_environment_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(EnvironmentError_, match="espeak-ng is not installed"):
        make_speech("hello")


def test_shipped_sample_is_small_real_speech() -> None:
    path = sample_speech_path()
    assert path.suffix == ".ogg"
    assert path.stat().st_size < 60_000
    pcm = sample_speech()
    assert 2 * 48_000 < pcm.size < 10 * 48_000
    loud = [f for f in frames_of(pcm) if np.abs(f).max() > 2000]
    assert len(loud) > 20
    # Stored at the default settings, so it can be sent as it is.
    assert all(packet_samples(p) == 2880 for p in read_ogg_opus_packets(path))
    assert OpusEncoder().frame_samples == 2880


@pytest.mark.parametrize("name", ["part.wav", "part.ogg"])
def test_an_export_that_runs_out_of_disk_leaves_no_partial_file(tmp_path: Path, name: str) -> None:
    from tests.fs_helpers import small_disk

    pcm = (np.sin(np.arange(48000 * 2) / 7) * 9000).astype(np.int16)
    audio = pcm if name.endswith(".wav") else encode_pcm(pcm)
    with small_disk(tmp_path / "disk", "64k") as disk:
        disk.fill(leave=2048)  # room for a part of the file only
        with pytest.raises(ChokError) as failed:
            export(disk.path / name, audio)
        assert disk.entries() == set()
        assert isinstance(failed.value, StorageError) and "the disk is full" in str(failed.value)

"""Reading any audio file into 48 kHz mono PCM, and writing WAV or Ogg/Opus.

Files are written whole or not at all (a temporary file next to the target,
renamed at the end): a full disk never leaves half a recording.

Ogg/Opus export muxes the received packets as they are (checked: PyAV's Ogg
muxer takes raw packets, and demuxing the file gives back the same bytes), so
an exported message is bit-for-bit what was on the wire, with no second
generation of coding loss.
"""

from __future__ import annotations

import functools
import wave
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import av.error
import numpy as np

from chok.codec.opus import (
    DEFAULT_FRAME_MS,
    SAMPLE_RATE,
    SILENCE_MARKER,
    OpusEncoder,
    Pcm,
    decode_packets,
    encode_pcm,
    frame_pcm,
    frame_samples,
    packet_samples,
    silence,
)
from chok.errors import CodecError, UsageError, storage_error
from chok.home import replacing

EXPORT_SUFFIXES = (".wav", ".ogg", ".opus")


def _reason(exc: Exception) -> str:
    """The human part of an OS or FFmpeg error, without errno numbers."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower() if exc.strerror[:1].isupper() else exc.strerror
    return str(exc)


def read_audio_file(path: str | Path) -> Pcm:
    """Decode the first audio track of any file FFmpeg reads into 48 kHz mono int16."""
    path = Path(path)
    if not path.exists():
        raise CodecError(f"audio file not found: {path}")
    if path.is_dir():
        raise CodecError(f"{path} is a folder, not an audio file")
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise CodecError(f"{path} has no audio track")
            # The resampler also downmixes to mono and converts to s16.
            resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            parts: list[Pcm] = []
            for frame in container.decode(audio=0):
                parts += [frame_pcm(f) for f in resampler.resample(frame)]
            parts += [frame_pcm(f) for f in resampler.resample(None)]
    except av.error.PermissionError as exc:
        raise CodecError(f"cannot read {path}: permission denied") from exc
    except (av.error.FFmpegError, ValueError) as exc:
        raise CodecError(f"cannot read {path}: not an audio file that FFmpeg understands") from exc
    except OSError as exc:
        raise CodecError(f"cannot read {path}: {_reason(exc)}") from exc
    if not parts:
        return silence(0)
    return np.concatenate(parts)


def resample(pcm: Pcm, to_rate: int, from_rate: int = SAMPLE_RATE) -> Pcm:
    """Resample mono int16 PCM with FFmpeg's resampler (for measurements and tests)."""
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(pcm.reshape(1, -1)), format="s16", layout="mono"
    )
    frame.sample_rate = from_rate
    resampler = av.AudioResampler(format="s16", layout="mono", rate=to_rate)
    parts = [frame_pcm(f) for f in [*resampler.resample(frame), *resampler.resample(None)]]
    return np.concatenate(parts) if parts else silence(0)


def write_wav(path: str | Path, pcm: Pcm) -> None:
    """Write 48 kHz mono 16-bit WAV (whole, or no file at all)."""
    # Open the file ourselves: wave.open(name) leaves a half-built object
    # that complains at garbage collection when the open fails.
    with replacing(Path(path)) as tmp, open(tmp, "wb") as raw, wave.open(raw, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.reshape(-1).astype("<i2").tobytes())


@functools.cache
def _silence_packet(samples: int) -> bytes:
    """A real Opus packet of silence of this duration (from a fresh encoder)."""
    encoder = OpusEncoder(frame_ms=samples * 1000 // SAMPLE_RATE)
    return encoder.encode(silence(samples))


def write_ogg_opus(
    path: str | Path, packets: Sequence[bytes], frame_ms: int = DEFAULT_FRAME_MS
) -> None:
    """Mux Opus packets into an Ogg file without re-encoding them.

    Every real packet is written byte for byte. The ``00 00`` marker (and any
    value whose TOC is not valid Opus) is a wire convention, not audio: it is
    replaced by an encoded frame of silence of ``frame_ms`` so players keep time.
    Empty values are skipped, as receivers ignore them.
    """
    filler = _silence_packet(frame_samples(frame_ms))
    try:
        with replacing(Path(path)) as tmp, av.open(str(tmp), "w", format="ogg") as container:
            stream = container.add_stream("libopus", rate=SAMPLE_RATE)
            # The stream's encoder is opened by the muxer only to write the
            # OpusHead header (channels, pre-skip); it never encodes here.
            stream.codec_context.layout = "mono"
            stream.time_base = Fraction(1, SAMPLE_RATE)
            pts = 0
            for value in packets:
                if not value:
                    continue
                duration = packet_samples(value)
                if value == SILENCE_MARKER or duration is None:
                    value, duration = filler, frame_samples(frame_ms)
                packet = av.Packet(value)
                packet.stream = stream
                packet.time_base = stream.time_base
                packet.pts = packet.dts = pts
                packet.duration = duration
                pts += duration
                container.mux(packet)
    except OSError as exc:  # FFmpeg's errors are OSErrors too (errno, strerror)
        raise storage_error(exc, f"write {path}") from exc
    except (av.error.FFmpegError, ValueError) as exc:
        raise CodecError(f"cannot write {path}: {_reason(exc)}") from exc


def read_ogg_opus_packets(path: str | Path) -> list[bytes]:
    """The Opus packets of an Ogg/Opus file as stored (no decoding)."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise CodecError(f"{path} has no audio track")
            stream = container.streams.audio[0]
            if stream.codec_context.name not in ("opus", "libopus"):
                raise CodecError(f"{path} is not Opus audio")
            return [bytes(p) for p in container.demux(stream) if p.size]
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise CodecError(f"cannot read {path}: {_reason(exc)}") from exc


def export(
    path: str | Path, audio: Pcm | Sequence[bytes], frame_ms: int = DEFAULT_FRAME_MS
) -> None:
    """Save PCM or Opus packets by the file's suffix: .wav, or .ogg/.opus (Ogg/Opus).

    Packets go to Ogg unchanged; PCM going to Ogg is encoded with the default
    settings; packets going to WAV are decoded as one talker's stream.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        raise UsageError(f"cannot export to {Path(path).name!r}: use a .wav, .ogg or .opus name")
    if suffix == ".wav":
        pcm = audio if isinstance(audio, np.ndarray) else decode_packets(audio, frame_ms)
        write_wav(path, pcm)
        return
    packets = encode_pcm(audio, frame_ms) if isinstance(audio, np.ndarray) else audio
    write_ogg_opus(path, packets, frame_ms)

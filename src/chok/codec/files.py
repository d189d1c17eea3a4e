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
from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import TypeVar

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
T = TypeVar("T")


def _reason(exc: Exception) -> str:
    """The human part of an OS or FFmpeg error, without errno numbers."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower() if exc.strerror[:1].isupper() else exc.strerror
    return str(exc)


def read_audio_file(path: str | Path) -> Pcm:
    """Decode the first audio track of any file FFmpeg reads into 48 kHz mono int16."""
    with AudioFileReader(path) as reader:
        parts = list(reader.blocks())
    return np.concatenate(parts) if parts else silence(0)


class AudioFileReader:
    """A file's first audio track as 48 kHz mono int16, decoded as it is read.

    Memory stays bounded whatever the file's length (a 2-hour file is never
    held whole): ``blocks()`` yields what each decoded packet gives, and
    ``read(n)`` exactly n samples at a time. The file is opened and checked
    at once, so an unreadable one is a CodecError before anything else.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise CodecError(f"audio file not found: {self.path}")
        if self.path.is_dir():
            raise CodecError(f"{self.path} is a folder, not an audio file")
        self._container = self._guard(lambda: av.open(str(self.path)))
        if not self._container.streams.audio:
            self._container.close()
            raise CodecError(f"{self.path} has no audio track")
        self.seconds = self._duration_s()
        # The resampler also downmixes to mono and converts to s16.
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        self._decoded = self._container.decode(audio=0)
        self._pending: list[Pcm] = []
        self._pending_samples = 0
        self.exhausted = False

    def _duration_s(self) -> float:
        """The length the file announces (exact for WAV; an estimate for some formats)."""
        stream = self._container.streams.audio[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        if self._container.duration is not None:
            return self._container.duration / av.time_base
        return 0.0

    def _guard(self, action: Callable[[], T]) -> T:
        try:
            return action()
        except av.error.PermissionError as exc:
            raise CodecError(f"cannot read {self.path}: permission denied") from exc
        except (av.error.FFmpegError, ValueError) as exc:
            raise CodecError(
                f"cannot read {self.path}: not an audio file that FFmpeg understands"
            ) from exc
        except OSError as exc:
            raise CodecError(f"cannot read {self.path}: {_reason(exc)}") from exc

    def _next_block(self) -> Pcm | None:
        """The PCM of the next decoded packet(s); None at the end of the file."""
        while True:
            frame = self._guard(lambda: next(self._decoded, None))
            frames = self._resampler.resample(frame)  # None flushes the resampler
            pcm = [frame_pcm(f) for f in frames]
            if pcm:
                return np.concatenate(pcm) if len(pcm) > 1 else pcm[0]
            if frame is None:
                self.close()
                return None

    def blocks(self) -> Iterator[Pcm]:
        while (block := self._next_block()) is not None:
            yield block

    def read(self, samples: int) -> Pcm | None:
        """The next ``samples`` samples (the last read is padded with silence);
        None once everything was read."""
        while self._pending_samples < samples and not self.exhausted:
            block = self._next_block()
            if block is None:
                break
            self._pending.append(block)
            self._pending_samples += block.size
        if not self._pending_samples:
            return None
        joined = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        out, rest = joined[:samples], joined[samples:]
        self._pending = [rest] if rest.size else []
        self._pending_samples = rest.size
        if out.size < samples:
            out = np.concatenate([out, silence(samples - out.size)])
        return out.copy()

    @property
    def done(self) -> bool:
        """True when every sample has been read (decoding ahead to know)."""
        if not self._pending_samples and not self.exhausted:
            block = self._next_block()
            if block is not None:
                self._pending, self._pending_samples = [block], block.size
        return self.exhausted and not self._pending_samples

    def close(self) -> None:
        if not self.exhausted:
            self.exhausted = True
            self._container.close()

    def __enter__(self) -> AudioFileReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


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

"""Opus encode/decode of 48 kHz mono 16-bit frames through PyAV's libopus.

What was checked on PyAV 18 (libopus 1.5) and why the code is shaped so:

- With ``frame_duration`` set and a full frame given, ``encode()`` returns
  exactly one packet for every frame, at once: libopus needs no future frame.
  Its lookahead of 312 samples (6.5 ms at 48 kHz; the first packet's pts is
  -312) is a delay *inside* the signal, not a packet held back, so talk can
  send one record per captured frame with no lag. ``flush()`` yields one last
  packet carrying those 6.5 ms; senders may drop it.
- FFmpeg's native "opus" decoder returns float planar audio and slightly
  different sample counts; the "libopus" decoder returns s16 frames of exactly
  the packet's duration, so that one is used.
- The protocol's silence marker ``00 00`` is itself a valid Opus packet (TOC 0:
  a 10 ms SILK frame), so it must be caught before the decoder, which would
  otherwise play 10 ms instead of the frame of silence the sender meant.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Final, Literal

import av
import av.error
import numpy as np
import numpy.typing as npt

from chok.errors import CodecError, UsageError

# The wire facts are the protocol's (docs/protocol.md): 48 kHz mono, frames of
# 20/40/60 ms, and the original app's rule that a packet under 25 bytes is
# sent as the two-byte marker, for which a receiver plays a frame of silence.
# ("X as X": re-exported, so chok.codec users need not know where they live.)
from chok.protocol.audio import DEFAULT_FRAME_MS as DEFAULT_FRAME_MS
from chok.protocol.audio import FRAME_MS_CHOICES as FRAME_MS_CHOICES
from chok.protocol.audio import MIN_PACKET_BYTES as MIN_PACKET_BYTES
from chok.protocol.audio import SAMPLE_RATE as SAMPLE_RATE
from chok.protocol.audio import SILENCE_MARKER as SILENCE_MARKER

Pcm = npt.NDArray[np.int16]
Application = Literal["voip", "audio", "lowdelay"]

# Chosen by scripts/measure-opus (see docs/audio.md): the lowest bitrate whose
# PESQ-WB on synthetic speech is >= 3.5 with 60 ms frames.
DEFAULT_BITRATE: Final = 20_000
MIN_BITRATE: Final = 6_000
MAX_BITRATE: Final = 510_000
DEFAULT_APPLICATION: Final[Application] = "voip"
# Audio bandwidth limit in Hz (libopus "max bandwidth" through FFmpeg's cutoff):
# 8000 is wideband ("HD voice"). Without it libopus goes super-wideband from
# about 16 kbit/s and spends bits above 8 kHz, which measured worse for speech.
DEFAULT_CUTOFF_HZ: Final = 8000
CUTOFF_CHOICES: Final = (4000, 6000, 8000, 12000, 20000)

# RFC 6716 section 3.1: frame length in samples at 48 kHz for each of the 32
# TOC configurations (SILK NB/MB/WB, hybrid SWB/FB, CELT NB/WB/SWB/FB).

_CONFIG_SAMPLES: Final = (480, 960, 1920, 2880) * 3 + (480, 960) * 2 + (120, 240, 480, 960) * 4


def frame_samples(frame_ms: int) -> int:
    """Samples in one frame of ``frame_ms`` at 48 kHz; UsageError if not 20/40/60."""
    if frame_ms not in FRAME_MS_CHOICES:
        raise UsageError(f"frame length must be 20, 40 or 60 ms, not {frame_ms}")
    return SAMPLE_RATE * frame_ms // 1000


def silence(samples: int) -> Pcm:
    return np.zeros(samples, dtype=np.int16)


def packet_samples(packet: bytes) -> int | None:
    """Duration of an Opus packet in 48 kHz samples from its TOC, or None if malformed."""
    if not packet:
        return None
    toc = packet[0]
    per_frame = _CONFIG_SAMPLES[toc >> 3]
    code = toc & 0x03
    if code == 0:
        count = 1
    elif code in (1, 2):
        count = 2
    else:
        if len(packet) < 2:
            return None
        count = packet[1] & 0x3F
        if count == 0:
            return None
    total = per_frame * count
    # A packet may carry at most 120 ms of audio (RFC 6716 3.2.5).
    return total if total <= 5760 else None


def frames_of(pcm: Pcm, frame_ms: int = DEFAULT_FRAME_MS) -> Iterator[Pcm]:
    """Cut a signal into frames of ``frame_ms``, padding the last one with zeros."""
    size = frame_samples(frame_ms)
    flat = pcm.reshape(-1)
    for start in range(0, flat.size, size):
        frame = flat[start : start + size]
        if frame.size < size:
            frame = np.concatenate([frame, silence(size - frame.size)])
        yield frame


def to_wire(packet: bytes) -> bytes:
    """Apply the original app's rule: a packet under 25 bytes goes out as ``00 00``."""
    return SILENCE_MARKER if len(packet) < MIN_PACKET_BYTES else packet


def as_pcm(pcm: bytes | npt.NDArray[np.int16]) -> Pcm:
    """Accept raw little-endian 16-bit bytes or an int16 array; return a 1-D int16 array."""
    if isinstance(pcm, bytes | bytearray | memoryview):
        return np.frombuffer(pcm, dtype="<i2").astype(np.int16, copy=False)
    if pcm.dtype != np.int16:
        raise CodecError(f"PCM must be 16-bit integers, got {pcm.dtype}")
    return pcm.reshape(-1)


def frame_pcm(frame: av.AudioFrame) -> Pcm:
    """The samples of a packed s16 mono PyAV frame as a 1-D int16 array."""
    return np.asarray(frame.to_ndarray(), dtype=np.int16).reshape(-1)


class OpusEncoder:
    """Encodes frames of exactly ``frame_ms`` into one Opus packet each."""

    def __init__(
        self,
        frame_ms: int = DEFAULT_FRAME_MS,
        bitrate: int = DEFAULT_BITRATE,
        application: Application = DEFAULT_APPLICATION,
        cutoff_hz: int | None = DEFAULT_CUTOFF_HZ,
    ) -> None:
        self.frame_samples = frame_samples(frame_ms)
        self.frame_ms = frame_ms
        if not MIN_BITRATE <= bitrate <= MAX_BITRATE:
            raise UsageError(
                f"Opus bitrate must be {MIN_BITRATE} to {MAX_BITRATE} bit/s, not {bitrate}"
            )
        if application not in ("voip", "audio", "lowdelay"):
            raise UsageError(f"Opus application must be voip, audio or lowdelay, not {application}")
        if cutoff_hz is not None and cutoff_hz not in CUTOFF_CHOICES:
            raise UsageError(f"Opus cutoff must be one of {CUTOFF_CHOICES} Hz, not {cutoff_hz}")
        self.bitrate = bitrate
        self.application = application
        self.cutoff_hz = cutoff_hz
        # Samples the decoder output lags the input (libopus lookahead); known
        # after the first packet, whose pts is minus this number.
        self.lookahead = 0
        self._ctx = self._open()
        self._pts = 0

    def _open(self) -> av.audio.codeccontext.AudioCodecContext:
        try:
            ctx = av.CodecContext.create("libopus", "w")
            ctx.sample_rate = SAMPLE_RATE
            ctx.layout = "mono"
            ctx.format = "s16"
            ctx.bit_rate = self.bitrate
            options = {"frame_duration": str(self.frame_ms), "application": self.application}
            if self.cutoff_hz is not None:
                options["cutoff"] = str(self.cutoff_hz)
            ctx.options = options
            ctx.open()
        except (av.error.FFmpegError, ValueError) as exc:
            raise CodecError(f"cannot start the Opus encoder: {exc}") from exc
        return ctx

    def encode(self, pcm: bytes | npt.NDArray[np.int16]) -> bytes:
        """Encode one frame; the packet comes back at once (no frame is held back)."""
        samples = as_pcm(pcm)
        if samples.size != self.frame_samples:
            raise CodecError(
                f"an Opus frame must have {self.frame_samples} samples, got {samples.size}"
            )
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._pts
        self._pts += self.frame_samples
        try:
            packets = self._ctx.encode(frame)
        except (av.error.FFmpegError, ValueError) as exc:
            raise CodecError(f"Opus encoding failed: {exc}") from exc
        if len(packets) != 1:
            # Never seen with libopus; fail loudly rather than desynchronise
            # the one-record-per-frame stream.
            raise CodecError(f"Opus encoder gave {len(packets)} packets for one frame")
        if self._pts == self.frame_samples and packets[0].pts is not None:
            self.lookahead = max(0, -packets[0].pts)
        return bytes(packets[0])

    def flush(self) -> list[bytes]:
        """Return the packet(s) holding the lookahead tail, and reset for a new stream."""
        try:
            packets = [bytes(p) for p in self._ctx.encode(None)]
        except (av.error.FFmpegError, ValueError) as exc:
            raise CodecError(f"Opus encoding failed: {exc}") from exc
        self._ctx = self._open()
        self._pts = 0
        return packets


class OpusDecoder:
    """Decodes one talker's packets; never raises on bad input, plays silence instead."""

    def __init__(self, frame_ms: int = DEFAULT_FRAME_MS) -> None:
        # Duration of silence for a marker or an undecodable packet: the last
        # decoded frame's, which for the original app is always 60 ms.
        self.last_samples = frame_samples(frame_ms)
        self.errors = 0
        try:
            ctx = av.CodecContext.create("libopus", "r")
            ctx.sample_rate = SAMPLE_RATE
            ctx.layout = "mono"
            ctx.format = "s16"
            ctx.open()
        except (av.error.FFmpegError, ValueError) as exc:
            raise CodecError(f"cannot start the Opus decoder: {exc}") from exc
        self._ctx = ctx

    def decode(self, packet: bytes) -> Pcm:
        if not packet:
            return silence(0)
        if packet == SILENCE_MARKER:
            return silence(self.last_samples)
        try:
            frames = self._ctx.decode(av.Packet(packet))
        except (av.error.FFmpegError, ValueError):
            self.errors += 1
            return silence(self.last_samples)
        parts = [frame_pcm(f) for f in frames]
        if not parts:
            self.errors += 1
            return silence(self.last_samples)
        pcm = np.concatenate(parts)
        self.last_samples = pcm.size
        return pcm


def encode_pcm(
    pcm: Pcm,
    frame_ms: int = DEFAULT_FRAME_MS,
    bitrate: int = DEFAULT_BITRATE,
    application: Application = DEFAULT_APPLICATION,
    cutoff_hz: int | None = DEFAULT_CUTOFF_HZ,
    *,
    flush: bool = True,
) -> list[bytes]:
    """Encode a whole signal (last frame zero-padded) into packets, one per frame."""
    encoder = OpusEncoder(frame_ms, bitrate, application, cutoff_hz)
    packets = [encoder.encode(frame) for frame in frames_of(pcm, frame_ms)]
    if flush:
        packets += encoder.flush()
    return packets


def decode_packets(packets: Iterable[bytes], frame_ms: int = DEFAULT_FRAME_MS) -> Pcm:
    """Decode one talker's packets in order into one signal."""
    decoder = OpusDecoder(frame_ms)
    parts: Sequence[Pcm] = [decoder.decode(p) for p in packets]
    return np.concatenate(parts) if parts else silence(0)

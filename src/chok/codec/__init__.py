"""Opus coding of 48 kHz mono 16-bit frames, and audio files (read any, write WAV/Ogg Opus).

The use cases call::

    OpusEncoder(frame_ms=60).encode(frame) -> bytes     # one packet per frame, at once
    to_wire(packet) -> bytes                            # the original app's "00 00" rule
    OpusDecoder().decode(value) -> Pcm                  # never raises; silence for bad input
    read_audio_file(path) -> Pcm; frames_of(pcm, 60)    # talk from a file
    export(path, pcm_or_packets)                        # .wav / .ogg / .opus
"""

from chok.codec.files import (
    EXPORT_SUFFIXES,
    export,
    read_audio_file,
    read_ogg_opus_packets,
    resample,
    write_ogg_opus,
    write_wav,
)
from chok.codec.opus import (
    DEFAULT_APPLICATION,
    DEFAULT_BITRATE,
    DEFAULT_CUTOFF_HZ,
    DEFAULT_FRAME_MS,
    FRAME_MS_CHOICES,
    MIN_PACKET_BYTES,
    SAMPLE_RATE,
    SILENCE_MARKER,
    Application,
    OpusDecoder,
    OpusEncoder,
    Pcm,
    as_pcm,
    decode_packets,
    encode_pcm,
    frame_samples,
    frames_of,
    packet_samples,
    silence,
    to_wire,
)
from chok.codec.speech import make_speech, sample_speech, sample_speech_path

__all__ = [
    "DEFAULT_APPLICATION",
    "DEFAULT_BITRATE",
    "DEFAULT_CUTOFF_HZ",
    "DEFAULT_FRAME_MS",
    "EXPORT_SUFFIXES",
    "FRAME_MS_CHOICES",
    "MIN_PACKET_BYTES",
    "SAMPLE_RATE",
    "SILENCE_MARKER",
    "Application",
    "OpusDecoder",
    "OpusEncoder",
    "Pcm",
    "as_pcm",
    "decode_packets",
    "encode_pcm",
    "export",
    "frame_samples",
    "frames_of",
    "make_speech",
    "packet_samples",
    "read_audio_file",
    "read_ogg_opus_packets",
    "resample",
    "sample_speech",
    "sample_speech_path",
    "silence",
    "to_wire",
    "write_ogg_opus",
    "write_wav",
]

"""Audio records of ``chok-audio-{n}`` (protocol.md, section 4)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, TypeGuard

from chok.errors import UsageError

from ._util import MAX_COUNT, is_int, parse_decimal
from .names import is_tx_id, is_user_name, validate_tx_id, validate_user_name

SAMPLE_RATE = 48_000
CHANNELS = 1
DEFAULT_FRAME_MS = 60
#: The frame durations chok may send; the original app always uses 60 ms.
FRAME_MS_CHOICES: tuple[int, ...] = (20, 40, 60)
#: Frame duration of a record without (valid) chok headers.
ORIGINAL_FRAME_MS = 60

#: Value sent in place of an Opus packet shorter than MIN_PACKET_BYTES.
SILENCE_MARKER = b"\x00\x00"
MIN_PACKET_BYTES = 25
#: The key the original app writes on every audio record, whoever talks.
ORIGINAL_APP_KEY = b"user1"

PROTOCOL_VERSION = 1
HEADER_VERSION = "chok-v"
HEADER_TX = "chok-tx"
HEADER_SEQ = "chok-seq"
HEADER_FRAME_MS = "chok-fms"
HEADER_END = "chok-end"
HEADER_DURATION_MS = "chok-dms"
_CHOK_HEADERS = frozenset(
    {HEADER_VERSION, HEADER_TX, HEADER_SEQ, HEADER_FRAME_MS, HEADER_END, HEADER_DURATION_MS}
)
_VERSION_BYTES = str(PROTOCOL_VERSION).encode("ascii")

#: What confluent-kafka's ``Message.headers()`` returns.
RawHeaders = Sequence[tuple[str, bytes | None]] | None


class AudioRecord(NamedTuple):
    """A record to produce: pass the fields to ``Producer.produce(key=, value=, headers=)``."""

    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class AudioFrame:
    """One received frame.

    ``talker``, ``tx_id`` and ``seq`` are None for an original-app frame (no valid chok
    headers): its talker is then unknown, whatever its key says.
    """

    talker: str | None
    tx_id: str | None
    seq: int | None
    frame_ms: int
    packet: bytes

    @property
    def is_silence_marker(self) -> bool:
        """True if the receiver plays ``frame_ms`` of silence instead of decoding."""
        return self.packet == SILENCE_MARKER

    @property
    def is_original_app(self) -> bool:
        return self.tx_id is None

    @property
    def samples(self) -> int:
        """PCM samples (per channel) this frame lasts."""
        return samples_per_frame(self.frame_ms)


@dataclass(frozen=True, slots=True)
class EndOfTransmission:
    """The marker a chok talker sends after the last frame of a transmission."""

    talker: str
    tx_id: str
    frames: int
    duration_ms: int


def samples_per_frame(frame_ms: int) -> int:
    """Samples per channel of one frame at 48 kHz (60 ms -> 2880)."""
    return SAMPLE_RATE * frame_ms // 1000


def _validate_count(what: str, value: object, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_COUNT:
        raise UsageError(f"{what} must be a whole number from {minimum} to {MAX_COUNT}: {value!r}")
    return value


def _validate_frame_ms(frame_ms: object) -> int:
    if not is_frame_ms(frame_ms):
        choices = ", ".join(str(choice) for choice in FRAME_MS_CHOICES)
        raise UsageError(f"frame duration must be one of {choices} ms, not {frame_ms!r}")
    return frame_ms


def is_frame_ms(frame_ms: object) -> TypeGuard[int]:
    """True for a frame duration chok may send: the int 20, 40 or 60."""
    return is_int(frame_ms) and frame_ms in FRAME_MS_CHOICES


def _ascii(number: int) -> bytes:
    return str(number).encode("ascii")


def build_audio_frame(
    talker: str, tx_id: str, seq: int, packet: bytes, frame_ms: int = DEFAULT_FRAME_MS
) -> AudioRecord:
    """The record of frame ``seq`` (from 0) of a transmission.

    A packet shorter than 25 bytes is replaced by the silence marker ``00 00``.
    """
    key = validate_user_name(talker).encode("ascii")
    validate_tx_id(tx_id)
    _validate_count("frame sequence number", seq)
    _validate_frame_ms(frame_ms)
    if not isinstance(packet, bytes | bytearray | memoryview):
        raise UsageError(f"an Opus packet must be bytes, not {type(packet).__name__}")
    value = bytes(packet)
    if len(value) < MIN_PACKET_BYTES:
        value = SILENCE_MARKER
    headers = [
        (HEADER_VERSION, _VERSION_BYTES),
        (HEADER_TX, tx_id.encode("ascii")),
        (HEADER_SEQ, _ascii(seq)),
        (HEADER_FRAME_MS, _ascii(frame_ms)),
    ]
    return AudioRecord(key, value, headers)


def build_end_of_transmission(
    talker: str, tx_id: str, frames: int, duration_ms: int
) -> AudioRecord:
    """The end-of-transmission record (empty value) sent after the last frame."""
    key = validate_user_name(talker).encode("ascii")
    validate_tx_id(tx_id)
    _validate_count("frame count", frames)
    _validate_count("duration", duration_ms)
    headers = [
        (HEADER_VERSION, _VERSION_BYTES),
        (HEADER_TX, tx_id.encode("ascii")),
        (HEADER_END, _ascii(frames)),
        (HEADER_DURATION_MS, _ascii(duration_ms)),
    ]
    return AudioRecord(key, b"", headers)


def _chok_headers(headers: object) -> dict[str, bytes] | None:
    """The chok headers by name; None if one is repeated or null (malformed)."""
    found: dict[str, bytes] = {}
    if headers is None:
        return found
    if not isinstance(headers, list | tuple):
        return None
    for item in headers:
        if not isinstance(item, tuple) or len(item) != 2:
            return None
        name, value = item
        if not isinstance(name, str) or name not in _CHOK_HEADERS:
            continue  # unknown headers are ignored
        if name in found or not isinstance(value, bytes):
            return None
        found[name] = value
    return found


def _talker(key: object) -> str | None:
    if not isinstance(key, bytes) or len(key) > 64:
        return None
    try:
        name = key.decode("ascii")
    except UnicodeDecodeError:
        return None
    return name if is_user_name(name) else None


def _common(key: object, found: dict[str, bytes]) -> tuple[str, str] | None:
    """(talker, tx_id) if the version, transmission id and key are valid."""
    if found.get(HEADER_VERSION) != _VERSION_BYTES:
        return None
    raw_tx = found.get(HEADER_TX)
    try:
        tx_id = raw_tx.decode("ascii") if raw_tx is not None else None
    except UnicodeDecodeError:
        return None
    talker = _talker(key)
    if talker is None or not is_tx_id(tx_id):
        return None
    return talker, tx_id


def parse_audio_record(
    key: bytes | None, value: bytes | None, headers: RawHeaders
) -> AudioFrame | EndOfTransmission | None:
    """What a received audio record is; None means skip it. Never raises."""
    if not isinstance(value, bytes):
        return None
    found = _chok_headers(headers)
    common = _common(key, found) if found else None
    if not value:
        if common is None or found is None:
            return None
        frames = parse_decimal(found.get(HEADER_END))
        duration_ms = parse_decimal(found.get(HEADER_DURATION_MS))
        if frames is None or duration_ms is None:
            return None
        return EndOfTransmission(common[0], common[1], frames, duration_ms)
    if common is not None and found is not None:
        seq = parse_decimal(found.get(HEADER_SEQ))
        frame_ms = parse_decimal(found.get(HEADER_FRAME_MS))
        if seq is not None and is_frame_ms(frame_ms):
            return AudioFrame(common[0], common[1], seq, frame_ms, value)
    return AudioFrame(None, None, None, ORIGINAL_FRAME_MS, value)

"""Audio records of ``chok-audio-{n}`` (protocol.md, section 4).

Protocol version 2: one binary header per frame (``chok``, 8 bytes), one per
end-of-transmission record (``chok-end``, 15 bytes), and silence suppression:
a talker may leave out a silence frame that follows another one, and receivers
fill the gap in ``seq`` with silence (``fill_gaps``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple, TypeGuard, overload

from chok.errors import UsageError

from ._util import MAX_COUNT, is_int
from .names import is_user_name, validate_tx_id, validate_user_name

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

PROTOCOL_VERSION = 2
#: The one header of a frame record: 8 bytes (section 4.2).
HEADER_FRAME = "chok"
#: The one header of an end-of-transmission record: 15 bytes (section 4.3).
HEADER_END = "chok-end"
FRAME_HEADER_SIZE = 8
END_HEADER_SIZE = 15
#: The low 4 bits of byte 0 of both headers: frame duration in ms -> code.
FRAME_CODES: dict[int, int] = {20: 1, 40: 2, 60: 3}
_FRAME_MS_BY_CODE = {code: ms for ms, code in FRAME_CODES.items()}
#: The largest sequence number (unsigned 24-bit).
MAX_SEQ = 2**24 - 1
#: The largest frame count of a transmission (unsigned 24-bit).
MAX_FRAMES = 2**24 - 1
#: The largest duration of an end-of-transmission record (unsigned 32-bit).
MAX_END_DURATION_MS = 2**32 - 1

#: What confluent-kafka's ``Message.headers()`` returns.
RawHeaders = Sequence[tuple[str, bytes | None]] | None


class AudioRecord(NamedTuple):
    """A record to produce: pass the fields to ``Producer.produce(key=, value=, headers=)``."""

    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class AudioFrame:
    """One received frame (or one synthesized by ``fill_gaps``).

    ``talker``, ``tx_id`` and ``seq`` are None for an original-app frame (no valid chok
    header): its talker is then unknown, whatever its key says.
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
    """The marker a chok talker sends after the last frame of a transmission.

    ``frames`` counts every frame of the transmission, those left out as silence
    included (last seq + 1).
    """

    talker: str
    tx_id: str
    frames: int
    duration_ms: int
    frame_ms: int = DEFAULT_FRAME_MS


def samples_per_frame(frame_ms: int) -> int:
    """Samples per channel of one frame at 48 kHz (60 ms -> 2880)."""
    return SAMPLE_RATE * frame_ms // 1000


def _validate_int(what: str, value: object, minimum: int, maximum: int) -> int:
    if not is_int(value) or not minimum <= value <= maximum:
        raise UsageError(f"{what} must be a whole number from {minimum} to {maximum}: {value!r}")
    return value


def _validate_frame_ms(frame_ms: object) -> int:
    if not is_frame_ms(frame_ms):
        choices = ", ".join(str(choice) for choice in FRAME_MS_CHOICES)
        raise UsageError(f"frame duration must be one of {choices} ms, not {frame_ms!r}")
    return frame_ms


def is_frame_ms(frame_ms: object) -> TypeGuard[int]:
    """True for a frame duration chok may send: the int 20, 40 or 60."""
    return is_int(frame_ms) and frame_ms in FRAME_MS_CHOICES


def is_silence(packet: bytes) -> bool:
    """True if ``packet`` is sent as the silence marker (shorter than 25 bytes)."""
    return len(packet) < MIN_PACKET_BYTES


def may_omit(packet: bytes, previous: bytes | None) -> bool:
    """True if a talker may leave out the frame of ``packet`` (section 4.5).

    ``previous`` is the packet of the previous frame of the same transmission,
    whether it was sent or left out; None for the first frame. A silence frame
    may be left out when the previous frame was silence too, so that each run of
    silence is sent as its first frame only. The sequence number still counts it.
    """
    return previous is not None and is_silence(packet) and is_silence(previous)


def _first_byte(frame_ms: int) -> int:
    return (PROTOCOL_VERSION << 4) | FRAME_CODES[frame_ms]


def _tx_bytes(tx_id: str) -> bytes:
    return bytes.fromhex(validate_tx_id(tx_id))


def _validate_talker(talker: str) -> bytes:
    return validate_user_name(talker).encode("ascii")


def build_audio_frame(
    talker: str, tx_id: str, seq: int, packet: bytes, frame_ms: int = DEFAULT_FRAME_MS
) -> AudioRecord:
    """The record of frame ``seq`` (from 0) of a transmission.

    A packet shorter than 25 bytes is replaced by the silence marker ``00 00``.
    Whether to send it at all is the caller's choice (``may_omit``).
    """
    key = _validate_talker(talker)
    raw_tx = _tx_bytes(tx_id)
    _validate_int("frame sequence number", seq, 0, MAX_SEQ)
    _validate_frame_ms(frame_ms)
    if not isinstance(packet, bytes | bytearray | memoryview):
        raise UsageError(f"an Opus packet must be bytes, not {type(packet).__name__}")
    value = bytes(packet)
    if is_silence(value):
        value = SILENCE_MARKER
    header = bytes([_first_byte(frame_ms)]) + raw_tx + seq.to_bytes(3, "big")
    return AudioRecord(key, value, [(HEADER_FRAME, header)])


def build_end_of_transmission(
    talker: str,
    tx_id: str,
    frames: int,
    duration_ms: int,
    *,
    frame_ms: int = DEFAULT_FRAME_MS,
) -> AudioRecord:
    """The end-of-transmission record (empty value) sent after the last frame.

    ``frames`` is last seq + 1: frames left out as silence count.
    """
    key = _validate_talker(talker)
    raw_tx = _tx_bytes(tx_id)
    _validate_int("frame count", frames, 1, MAX_FRAMES)
    _validate_int("duration", duration_ms, 0, MAX_END_DURATION_MS)
    _validate_frame_ms(frame_ms)
    header = (
        bytes([_first_byte(frame_ms)])
        + raw_tx
        + frames.to_bytes(3, "big")
        + duration_ms.to_bytes(4, "big")
        + bytes(3)  # reserved
    )
    return AudioRecord(key, b"", [(HEADER_END, header)])


def _only_header(headers: object, name: str, size: int) -> bytes | None:
    """The value of the one header ``name``, if it occurs exactly once with ``size`` bytes.

    None if it is absent, repeated, null or of another size, or if ``headers`` is
    not a list of (name, value) pairs. Headers of other names are ignored.
    """
    if not isinstance(headers, list | tuple):
        return None
    found: bytes | None = None
    for item in headers:
        if not isinstance(item, tuple) or len(item) != 2:
            return None
        item_name, value = item
        if not isinstance(item_name, str) or item_name != name:
            continue  # unknown headers are ignored
        if found is not None or not isinstance(value, bytes):
            return None
        found = value
    return found if found is not None and len(found) == size else None


def _talker(key: object) -> str | None:
    if not isinstance(key, bytes) or len(key) > 64:
        return None
    try:
        name = key.decode("ascii")
    except UnicodeDecodeError:
        return None
    return name if is_user_name(name) else None


def frame_ms_of_code(code: int) -> int | None:
    """The frame duration of a frame code (low 4 bits of byte 0), or None."""
    return _FRAME_MS_BY_CODE.get(code)


def talker_of_key(key: object) -> str | None:
    """The talker a frame record's key names, or None if it is not a user name."""
    return _talker(key)


validate_frame_ms = _validate_frame_ms
validate_int = _validate_int


def _frame_ms(first: int) -> int | None:
    """The frame duration byte 0 of a v2 header gives, or None (other version, bad code)."""
    if first >> 4 != PROTOCOL_VERSION:
        return None
    return _FRAME_MS_BY_CODE.get(first & 0x0F)


def _parse_end(key: object, headers: object) -> EndOfTransmission | None:
    raw = _only_header(headers, HEADER_END, END_HEADER_SIZE)
    if raw is None:
        return None
    frame_ms, talker = _frame_ms(raw[0]), _talker(key)
    frames = int.from_bytes(raw[5:8], "big")
    if frame_ms is None or talker is None or frames < 1:
        return None
    duration_ms = int.from_bytes(raw[8:12], "big")  # bytes 12-14 are reserved: ignored
    return EndOfTransmission(talker, raw[1:5].hex(), frames, duration_ms, frame_ms)


def _parse_frame(key: object, value: bytes, headers: object) -> AudioFrame | None:
    raw = _only_header(headers, HEADER_FRAME, FRAME_HEADER_SIZE)
    if raw is None:
        return None
    frame_ms, talker = _frame_ms(raw[0]), _talker(key)
    if frame_ms is None or talker is None:
        return None
    seq = int.from_bytes(raw[5:8], "big")  # byte 0 as above, bytes 1-4 the tx id
    return AudioFrame(talker, raw[1:5].hex(), seq, frame_ms, value)


def parse_audio_record(
    key: bytes | None, value: bytes | None, headers: RawHeaders
) -> AudioFrame | EndOfTransmission | None:
    """What a received audio record is; None means skip it. Never raises.

    A non-empty value is always a frame: without a valid ``chok`` header it is an
    original-app frame (talker unknown, 60 ms). An empty value is an end of
    transmission if its ``chok-end`` header is valid, else it is skipped.
    """
    if not isinstance(value, bytes):
        return None
    if not value:
        return _parse_end(key, headers)
    frame = _parse_frame(key, value, headers)
    return frame if frame is not None else AudioFrame(None, None, None, ORIGINAL_FRAME_MS, value)


@dataclass(frozen=True, slots=True)
class SilenceRun(Sequence[AudioFrame]):
    """Frames ``start`` to ``stop - 1`` of a transmission, left out as silence.

    A lazy sequence: each item is an ``AudioFrame`` with the silence marker as its
    packet, made when asked for, so that even a gap of millions of frames costs
    nothing until played. ``len()`` and ``duration_ms`` are cheap.
    """

    talker: str
    tx_id: str
    frame_ms: int
    start: int
    stop: int

    def __post_init__(self) -> None:
        validate_user_name(self.talker)
        validate_tx_id(self.tx_id)
        _validate_frame_ms(self.frame_ms)
        # Up to MAX_COUNT, not MAX_SEQ: a transmission record's chokFrames may say so.
        _validate_int("first sequence number", self.start, 0, MAX_COUNT)
        _validate_int("end sequence number", self.stop, self.start, MAX_COUNT)

    @property
    def duration_ms(self) -> int:
        return len(self) * self.frame_ms

    def _frame(self, seq: int) -> AudioFrame:
        return AudioFrame(self.talker, self.tx_id, seq, self.frame_ms, SILENCE_MARKER)

    def __len__(self) -> int:
        return self.stop - self.start

    @overload
    def __getitem__(self, index: int) -> AudioFrame: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[AudioFrame]: ...

    def __getitem__(self, index: int | slice) -> AudioFrame | Sequence[AudioFrame]:
        seqs = range(self.start, self.stop)[index]  # IndexError, negatives as usual
        if isinstance(seqs, int):
            return self._frame(seqs)
        if seqs.step == 1:
            return SilenceRun(self.talker, self.tx_id, self.frame_ms, seqs.start, seqs.stop)
        return [self._frame(seq) for seq in seqs]

    def __iter__(self) -> Iterator[AudioFrame]:
        for seq in range(self.start, self.stop):
            yield self._frame(seq)

    def __contains__(self, item: object) -> bool:
        return (
            isinstance(item, AudioFrame)
            and item.seq is not None
            and self.start <= item.seq < self.stop
            and item == self._frame(item.seq)
        )


def fill_gaps(expected_seq: int, frame: AudioFrame) -> Sequence[AudioFrame]:
    """The silence frames to play before ``frame`` (section 4.5).

    ``expected_seq`` is the seq the receiver expects next in ``frame``'s
    transmission (0 before its first frame). If ``frame.seq`` is greater, the
    talker left out frames ``expected_seq`` .. ``frame.seq - 1`` as silence: they
    come back as a ``SilenceRun`` (same talker, transmission and frame duration,
    packet ``00 00``). Otherwise, and for an original-app frame, nothing is
    missing: an empty sequence. A gap is never a loss, as Kafka loses nothing
    within a partition.

    For the frames left out after the last frame received, use
    ``SilenceRun(talker, tx_id, frame_ms, last_seq + 1, frames)`` with the frame
    count of the end-of-transmission or transmission record (at most MAX_COUNT).
    """
    _validate_int("expected sequence number", expected_seq, 0, MAX_COUNT)
    if frame.talker is None or frame.tx_id is None or frame.seq is None:
        return ()
    if frame.seq <= expected_seq:
        return ()
    return SilenceRun(frame.talker, frame.tx_id, frame.frame_ms, expected_seq, frame.seq)

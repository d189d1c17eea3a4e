"""What a person reads, opened and checked: audio records of either kind
(open, or sealed on a private channel) and sealed metadata records, and the
digest of a transmission's frames against what its talker signed
(protocol.md, sections 9.8 and 10)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chok.channel.security import ChannelSecurity
from chok.pki import sealing
from chok.pki.trust import FORGED, NOT_SIGNED, VERIFIED, Authenticity
from chok.protocol._util import loads_object
from chok.protocol.audio import (
    AudioFrame,
    EndOfTransmission,
    RawHeaders,
    parse_audio_record,
)
from chok.protocol.metadata import parse_metadata_record
from chok.protocol.reactions import ReactionRecord, parse_reaction_value, reaction_key
from chok.protocol.sealed import (
    SealedFrame,
    SealedRecord,
    parse_sealed_frame,
    parse_sealed_reaction_key,
)
from chok.protocol.signing import FrameDigest
from chok.protocol.transmission import TRANSMISSION_KEY_PREFIX, Transmission

#: Sealed frame keys kept per (talker, transmission id, salt); old ones are dropped.
_MAX_FRAME_KEYS = 256


@dataclass(frozen=True)
class Received:
    """One audio record as read: what it is (None: a sealed frame that no key
    held opens), and its value as it was on the wire (what the talker's digest
    covers)."""

    record: AudioFrame | EndOfTransmission | None
    wire: bytes
    sealed: SealedFrame | None = None

    def belongs_to(self, talker: str, tx_id: str) -> int | None:
        """The seq of this frame if it is a frame of that transmission, else None."""
        frame = self.sealed or self.record
        if (
            isinstance(frame, SealedFrame | AudioFrame)
            and frame.seq is not None
            and (frame.talker, frame.tx_id) == (talker, tx_id)
        ):
            return frame.seq
        return None


class AudioReader:
    """Parses audio records; on a private channel opens sealed frames, trying the
    epoch keys held, newest first (the epoch is not written in a frame)."""

    def __init__(
        self, security: ChannelSecurity | None, look_for_keys: Callable[[], bool] | None = None
    ) -> None:
        """``security`` None: no keys at all (sealed frames stay sealed)."""
        self.security = security
        self._look_for_keys = look_for_keys
        self._frame_keys: dict[tuple[str, str, bytes], bytes] = {}
        self.unopened = 0  # sealed frames no key held opens

    def read(self, key: bytes | None, value: bytes | None, headers: RawHeaders) -> Received | None:
        sealed = parse_sealed_frame(key, value, headers)
        if sealed is not None:
            packet = self._open(sealed)
            if packet is None:
                self.unopened += 1
                return Received(None, sealed.value, sealed)
            frame = AudioFrame(sealed.talker, sealed.tx_id, sealed.seq, sealed.frame_ms, packet)
            return Received(frame, sealed.value, sealed)
        parsed = parse_audio_record(key, value, headers)
        if parsed is None:
            return None
        return Received(parsed, value or b"")

    def _open(self, frame: SealedFrame) -> bytes | None:
        ident = (frame.talker, frame.tx_id, frame.salt)
        known = self._frame_keys.get(ident)
        if known is not None:
            return sealing.open_frame(known, frame)
        if self.security is None:
            return None
        for attempt in range(2):
            for _epoch, epoch_key in self.security.epochs_newest_first():
                key = sealing.frame_key(
                    epoch_key, self.security.channel, frame.talker, frame.tx_id, frame.salt
                )
                packet = sealing.open_frame(key, frame)
                if packet is not None:
                    if len(self._frame_keys) >= _MAX_FRAME_KEYS:
                        self._frame_keys.pop(next(iter(self._frame_keys)))
                    self._frame_keys[ident] = key
                    return packet
            if attempt or self._look_for_keys is None or not self._look_for_keys():
                break  # no new epoch to try
        return None


def open_sealed(security: ChannelSecurity, record: SealedRecord) -> bytes | None:
    """The plaintext value of a sealed metadata record, or None (no key, altered)."""
    key = security.metadata_key(record.epoch)
    return None if key is None else sealing.open_record_with(key, record)


def open_transmission(security: ChannelSecurity, record: SealedRecord) -> Transmission | None:
    if not record.key.startswith(TRANSMISSION_KEY_PREFIX.encode()):
        return None
    plain = open_sealed(security, record)
    inner = parse_metadata_record(record.key, plain, channel=security.channel) if plain else None
    return inner if isinstance(inner, Transmission) else None


def open_reaction(
    security: ChannelSecurity, record: SealedRecord, target_epoch: int | None
) -> ReactionRecord | None:
    """A sealed reaction record, if it opens and its key's tag names its emoji."""
    ids = parse_sealed_reaction_key(record.key)
    plain = open_sealed(security, record) if ids is not None else None
    if ids is None or plain is None:
        return None
    inner = _reaction_from(plain, ids.channel, ids.start_offset, ids.user)
    if inner is None or target_epoch is None:
        return None
    tag_key = security.epoch_key(target_epoch)
    if tag_key is None:
        return None
    tag = sealing.reaction_tag(tag_key, ids.channel, ids.start_offset, ids.user, inner.emoji)
    return inner if tag.hex() == ids.tag else None


def _reaction_from(plain: bytes, channel: int, start: int, user: str) -> ReactionRecord | None:
    """The inner reaction record, checked as if its key named its emoji."""
    obj = loads_object(plain)
    emoji = obj.get("emoji") if obj is not None else None
    if obj is None or not isinstance(emoji, str):
        return None
    try:
        key = reaction_key(channel, start, user, emoji)
    except (UnicodeEncodeError, ValueError):
        return None
    return parse_reaction_value(key, obj)


class FrameCheck:
    """The digest of the frame records a receiver read for one transmission,
    compared at the end with what its talker signed (section 9.8)."""

    def __init__(self) -> None:
        self.digest = FrameDigest()
        self.read = 0  # frame records taken in (none: the audio came from elsewhere)

    def add(self, seq: int, wire: bytes) -> None:
        self.read += 1
        self.digest.add(seq, wire)

    def verdict(self, record_verdict: Authenticity, tx: Transmission) -> Authenticity:
        if record_verdict.status != VERIFIED:
            return record_verdict
        sig = tx.sig
        if sig is None:
            return NOT_SIGNED
        if sig.frames_hash_bytes != self.digest.digest():
            return Authenticity(
                FORGED, "its audio is not what the talker signed", record_verdict.signer
            )
        return record_verdict

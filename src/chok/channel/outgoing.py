"""What a person writes, signed (and on a private channel, sealed): the frames
of a transmission with their running digest, its end record and transmission
record, and reaction records (protocol.md, sections 9 and 10)."""

from __future__ import annotations

from chok.channel.security import ChannelSecurity
from chok.pki import sealing
from chok.protocol.audio import (
    SILENCE_MARKER,
    AudioRecord,
    build_audio_frame,
    build_end_of_transmission,
    is_silence,
)
from chok.protocol.reactions import ReactionRecord
from chok.protocol.sealed import build_sealed_frame, sealed_reaction_key
from chok.protocol.signing import FrameDigest
from chok.protocol.transmission import Transmission


class OutgoingTransmission:
    """One press: each frame is hashed as it is sent, so nothing is buffered."""

    def __init__(self, security: ChannelSecurity, talker: str, tx_id: str, frame_ms: int) -> None:
        self.security = security
        self.talker = talker
        self.tx_id = tx_id
        self.frame_ms = frame_ms
        self.digest = FrameDigest()
        self.epoch: int | None = None
        self._salt = b""
        self._frame_key = b""
        if security.private:
            self.epoch, epoch_key = security.current_epoch()
            self._salt = sealing.new_salt()
            self._frame_key = sealing.frame_key(
                epoch_key, security.channel, talker, tx_id, self._salt
            )

    def frame(self, seq: int, packet: bytes) -> AudioRecord:
        """The record of frame ``seq``; its value goes into the digest."""
        if self.epoch is None:
            record = build_audio_frame(self.talker, self.tx_id, seq, packet, self.frame_ms)
        else:
            plain = SILENCE_MARKER if is_silence(packet) else packet
            sealed = sealing.seal_frame(
                self._frame_key, self.tx_id, seq, self.frame_ms, self._salt, plain
            )
            record = build_sealed_frame(
                self.talker, self.tx_id, seq, self.frame_ms, self._salt, sealed
            )
        self.digest.add(seq, record.value)
        return record

    def finish(self, tx: Transmission) -> tuple[Transmission, AudioRecord, tuple[bytes, bytes]]:
        """Sign the transmission record (its offsets known): the signed record, the end
        record with its ``chok-sig`` header, and the metadata record's key and value."""
        signer = self.security.signer
        end = build_end_of_transmission(
            self.talker, self.tx_id, tx.frames, tx.duration_ms, frame_ms=self.frame_ms
        )
        signed = tx
        if signer is not None:  # (a key that cannot sign: unsigned, like the Android app's)
            signed = signer.sign_transmission(tx, self.digest.digest())
            sig_header = signer.end_signature(signed).header()
            end = AudioRecord(end.key, end.value, [*end.headers, sig_header])
        meta = metadata_record(self.security, signed.key(), signed.to_value(), self.epoch)
        return signed, end, meta


def metadata_record(
    security: ChannelSecurity, key: bytes, value: bytes, epoch: int | None = None
) -> tuple[bytes, bytes]:
    """Key and value to produce: as they are on an open channel, sealed on a private one."""
    if not security.private:
        return key, value
    if epoch is None:
        epoch, epoch_key = security.current_epoch()
    else:
        known = security.epoch_key(epoch)
        if known is None:
            epoch, epoch_key = security.current_epoch()
        else:
            epoch_key = known
    sealed = sealing.seal_record(epoch, epoch_key, security.channel, key, value)
    return sealed.key, sealed.to_value()


def reaction_record(
    security: ChannelSecurity, record: ReactionRecord, target_epoch: int | None
) -> tuple[bytes, bytes]:
    """A signed reaction record; on a private channel under a key hiding its emoji
    (the tag comes from the epoch of the transmission reacted to)."""
    signed = record if security.signer is None else security.signer.sign_reaction(record)
    if not security.private:
        return signed.key(), signed.to_value()
    tag_epoch = target_epoch if target_epoch is not None else security.current_epoch()[0]
    tag_key = security.epoch_key(tag_epoch)
    if tag_key is None:
        tag_epoch, tag_key = security.current_epoch()
    tag = sealing.reaction_tag(
        tag_key, record.channel, record.start_offset, record.user, record.emoji
    )
    key = sealed_reaction_key(record.channel, record.start_offset, record.user, tag)
    return metadata_record(security, key, signed.to_value())

"""What a person writes, signed (and on a private channel, sealed): the frames
of a transmission, its end record and transmission record, and reaction
records (protocol.md, sections 9 and 10).

A transmission goes through the outbox (channel/outbox.py): the talker keeps
each frame's value as it will be on the wire (sealed on a private channel),
and whichever process sends the entry builds its records with
``TransmissionRecords`` from what the outbox holds: the digest of the frames
is computed from them, so nothing else has to survive a crash.
"""

from __future__ import annotations

from collections.abc import Mapping

from chok.channel.security import ChannelSecurity
from chok.errors import ConfigError
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
from chok.protocol.signing import CertRecord, frames_digest
from chok.protocol.transmission import Transmission


class OutgoingTransmission:
    """One press, on the talker's side: the value of each frame (sealed on a
    private channel with the newest epoch key held), and what the outbox must
    remember to build the records later (the salt and the epoch)."""

    def __init__(self, security: ChannelSecurity, talker: str, tx_id: str, frame_ms: int) -> None:
        self.security = security
        self.talker = talker
        self.tx_id = tx_id
        self.frame_ms = frame_ms
        self.epoch: int | None = None
        self.salt = b""
        self._frame_key = b""
        if security.private:
            self.epoch, epoch_key = security.current_epoch()
            self.salt = sealing.new_salt()
            self._frame_key = sealing.frame_key(
                epoch_key, security.channel, talker, tx_id, self.salt
            )

    def value(self, seq: int, packet: bytes) -> bytes:
        """The record value of frame ``seq``, as it goes on the wire."""
        plain = SILENCE_MARKER if is_silence(packet) else packet
        if self.epoch is None:
            return plain
        return sealing.seal_frame(self._frame_key, self.tx_id, seq, self.frame_ms, self.salt, plain)

    def records(self) -> TransmissionRecords:
        return TransmissionRecords(
            self.security, self.talker, self.tx_id, self.frame_ms, self.salt, self.epoch
        )


class TransmissionRecords:
    """The records of one transmission, from what its outbox entry holds.

    ``security`` None: the person's key files cannot be read here (unsigned
    records; a private channel's record cannot be sealed then).
    """

    def __init__(
        self,
        security: ChannelSecurity | None,
        talker: str,
        tx_id: str,
        frame_ms: int,
        salt: bytes = b"",
        epoch: int | None = None,
    ) -> None:
        self.security = security
        self.talker = talker
        self.tx_id = tx_id
        self.frame_ms = frame_ms
        self.salt = salt
        self.epoch = epoch

    def frame(self, seq: int, value: bytes) -> AudioRecord:
        if self.epoch is None:
            return build_audio_frame(self.talker, self.tx_id, seq, value, self.frame_ms)
        return build_sealed_frame(self.talker, self.tx_id, seq, self.frame_ms, self.salt, value)

    def end(
        self, frames: Mapping[int, bytes], count: int, duration_ms: int, released_ms: int
    ) -> AudioRecord:
        """The end record, with the signature a live listener checks (``chok-sig``)."""
        end = build_end_of_transmission(
            self.talker, self.tx_id, count, duration_ms, frame_ms=self.frame_ms
        )
        security = self.security
        signer = security.signer if security is not None else None
        if security is None or signer is None:  # cannot sign: unsigned, like the Android app's
            return end
        signature = signer.end_signature(
            channel=security.channel, tx_id=self.tx_id, talker=self.talker,
            timestamp_ms=released_ms, duration_ms=duration_ms, frame_ms=self.frame_ms,
            frames=count, frames_hash=frames_digest(frames),
        )  # fmt: skip
        return AudioRecord(end.key, end.value, [*end.headers, signature.header()])

    def transmission(
        self, tx: Transmission, frames: Mapping[int, bytes]
    ) -> tuple[Transmission, bytes, bytes]:
        """The transmission record signed (offsets known), its key and value."""
        security = self.security
        if security is None:
            if self.epoch is not None:
                raise ConfigError(
                    "cannot seal this transmission's record: your keys are unreadable"
                )
            return tx, tx.key(), tx.to_value()
        signer = security.signer
        signed = tx if signer is None else signer.sign_transmission(tx, frames_digest(frames))
        key, value = metadata_record(security, signed.key(), signed.to_value(), self.epoch)
        return signed, key, value

    def cert(self) -> CertRecord | None:
        """The talker's certificate record, the first time in this process."""
        return self.security.cert_to_publish() if self.security is not None else None


def metadata_record(
    security: ChannelSecurity, key: bytes, value: bytes, epoch: int | None = None
) -> tuple[bytes, bytes]:
    """Key and value to produce: as they are on an open channel, sealed on a private one."""
    if not security.private:
        return key, value
    epoch_key = security.epoch_key(epoch) if epoch is not None else None
    if epoch is None or epoch_key is None:
        epoch, epoch_key = security.current_epoch()
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

"""Private channels: the bytes of sealed frames, sealed metadata records and
wrapped epoch keys (protocol.md, section 10).

Pure: layouts, and the exact inputs of every key derivation and AEAD (info
strings, nonces, associated data). The cryptography itself (HKDF-SHA256,
AES-256-GCM, ECDH on P-256, ECDSA) is done by ``chok.pki.sealing``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from chok.errors import UsageError

from ._util import INT64_MAX, int_in, parse_decimal
from .audio import (
    FRAME_CODES,
    HEADER_FRAME,
    MAX_SEQ,
    AudioRecord,
    RawHeaders,
    frame_ms_of_code,
    talker_of_key,
    validate_frame_ms,
    validate_int,
)
from .names import is_user_name, validate_tx_id, validate_user_name
from .signing import FINGERPRINT_BYTES, SIGNATURE_BYTES, is_fingerprint
from .topics import MAX_CHANNEL, validate_channel_number

#: The version in byte 0 of a sealed frame's ``chok`` header.
SEALED_VERSION = 3
SEALED_HEADER_SIZE = 12
SALT_BYTES = 4
TAG_BYTES = 16
EPOCH_KEY_BYTES = 32
MAX_EPOCH = 2**32 - 1

INFO_FRAME_KEY = b"chok-frame-key-1\x00"
INFO_METADATA_KEY = b"chok-metadata-key-1\x00"
INFO_WRAP = b"chok-wrap-1\x00"
DOMAIN_REACTION_TAG = b"chok-reaction-tag-1\x00"
DOMAIN_WRAPPED_KEY = b"chok-sig-key-1\x00"

ENVELOPE_VERSION = 1
NONCE_BYTES = 12
_ENVELOPE_HEAD = 1 + 4 + NONCE_BYTES

SEALED_REACTION_PREFIX = "chok-sealed-react-"
REACTION_TAG_BYTES = 16
WRAPPED_KEY_PREFIX = "chok-key-"
WRAP_VERSION = 1
EPHEMERAL_BYTES = 65  # an uncompressed SEC1 P-256 point
WRAPPED_BYTES = EPOCH_KEY_BYTES + TAG_BYTES
_WRAPPED_SIGNED = 1 + EPHEMERAL_BYTES + WRAPPED_BYTES  # the bytes the admin signs
WRAPPED_VALUE_BYTES = _WRAPPED_SIGNED + FINGERPRINT_BYTES + SIGNATURE_BYTES  # 194

_HEX32 = re.compile(r"[0-9a-f]{32}")


def validate_epoch(epoch: object) -> int:
    if not int_in(epoch, 1, MAX_EPOCH):
        raise UsageError(f"an epoch is a number from 1 to {MAX_EPOCH}, not {epoch!r}")
    return epoch


def _u8_name(name: str) -> bytes:
    raw = validate_user_name(name).encode("ascii")
    return bytes([len(raw)]) + raw


# --- sealed frames (section 10.3) ----------------------------------------------


@dataclass(frozen=True, slots=True)
class SealedFrame:
    """A frame record of a private channel, as read (still sealed)."""

    talker: str
    tx_id: str
    seq: int
    frame_ms: int
    salt: bytes
    header: bytes  # the 12 header bytes: the AEAD's associated data
    value: bytes  # the record value: ciphertext and tag

    @property
    def sealed(self) -> bytes:
        """Ciphertext and tag (the whole value)."""
        return self.value


def sealed_frame_header(tx_id: str, seq: int, frame_ms: int, salt: bytes) -> bytes:
    validate_frame_ms(frame_ms)
    validate_int("frame sequence number", seq, 0, MAX_SEQ)
    if not isinstance(salt, bytes) or len(salt) != SALT_BYTES:
        raise UsageError(f"a transmission's salt is {SALT_BYTES} random bytes")
    return (
        bytes([(SEALED_VERSION << 4) | FRAME_CODES[frame_ms]])
        + bytes.fromhex(validate_tx_id(tx_id))
        + seq.to_bytes(3, "big")
        + salt
    )


def build_sealed_frame(
    talker: str, tx_id: str, seq: int, frame_ms: int, salt: bytes, sealed: bytes
) -> AudioRecord:
    """The record of a sealed frame; ``sealed`` is the AEAD output (ciphertext, tag)."""
    header = sealed_frame_header(tx_id, seq, frame_ms, salt)
    if len(sealed) < TAG_BYTES:
        raise UsageError("a sealed frame holds at least the 16-byte tag")
    key = validate_user_name(talker).encode("ascii")
    return AudioRecord(key, sealed, [(HEADER_FRAME, header)])


def parse_sealed_frame(key: object, value: object, headers: RawHeaders) -> SealedFrame | None:
    """The sealed frame of a record, or None if it is not one. Never raises."""
    if not isinstance(value, bytes) or len(value) < TAG_BYTES:
        return None
    if not isinstance(headers, list | tuple):
        return None
    found = [h for h in headers if isinstance(h, tuple) and len(h) == 2 and h[0] == HEADER_FRAME]
    if len(found) != 1 or not isinstance(found[0][1], bytes):
        return None
    raw = found[0][1]
    if len(raw) != SEALED_HEADER_SIZE or raw[0] >> 4 != SEALED_VERSION:
        return None
    frame_ms, talker = frame_ms_of_code(raw[0] & 0x0F), talker_of_key(key)
    if frame_ms is None or talker is None:
        return None
    seq = int.from_bytes(raw[5:8], "big")
    return SealedFrame(talker, raw[1:5].hex(), seq, frame_ms, raw[8:12], raw, value)


def frame_key_info(channel: int, talker: str, tx_id: str, salt: bytes) -> bytes:
    """HKDF info of a transmission's frame key (its input key: the epoch key)."""
    return (
        INFO_FRAME_KEY
        + validate_channel_number(channel).to_bytes(4, "big")
        + _u8_name(talker)
        + bytes.fromhex(validate_tx_id(tx_id))
        + salt
    )


def frame_nonce(seq: int) -> bytes:
    """The AES-GCM nonce of frame ``seq``: 8 zero bytes, then seq as u32."""
    validate_int("frame sequence number", seq, 0, MAX_SEQ)
    return bytes(8) + seq.to_bytes(4, "big")


# --- sealed metadata records (section 10.4) ------------------------------------


@dataclass(frozen=True, slots=True)
class SealedRecord:
    """A metadata record of a private channel: its key and sealed value."""

    key: bytes
    epoch: int
    nonce: bytes
    sealed: bytes  # ciphertext and tag

    def to_value(self) -> bytes:
        validate_epoch(self.epoch)
        if len(self.nonce) != NONCE_BYTES or len(self.sealed) < TAG_BYTES:
            raise UsageError("a sealed record needs a 12-byte nonce and a 16-byte tag")
        return bytes([ENVELOPE_VERSION]) + self.epoch.to_bytes(4, "big") + self.nonce + self.sealed

    @property
    def aad(self) -> bytes:
        return envelope_aad(self.key)


def envelope_aad(key: bytes) -> bytes:
    """The associated data of a sealed metadata record: its Kafka key."""
    return key


def metadata_key_info(channel: int) -> bytes:
    return INFO_METADATA_KEY + validate_channel_number(channel).to_bytes(4, "big")


def parse_envelope(key: bytes | None, value: bytes | None) -> SealedRecord | None:
    if not isinstance(key, bytes) or not isinstance(value, bytes):
        return None
    if len(value) < _ENVELOPE_HEAD + TAG_BYTES or value[0] != ENVELOPE_VERSION:
        return None
    epoch = int.from_bytes(value[1:5], "big")
    if epoch < 1:
        return None
    return SealedRecord(key, epoch, value[5:_ENVELOPE_HEAD], value[_ENVELOPE_HEAD:])


def is_envelope(value: bytes | None) -> bool:
    return isinstance(value, bytes) and value[:1] == bytes([ENVELOPE_VERSION])


class SealedReactionKey(NamedTuple):
    channel: int
    start_offset: int
    user: str
    tag: str


def sealed_reaction_key(channel: int, start_offset: int, user: str, tag: bytes) -> bytes:
    """``chok-sealed-react-{n}-{startOffset}-{user}-{tag}``: the emoji hidden in a tag."""
    validate_channel_number(channel)
    if not int_in(start_offset, 0, INT64_MAX) or len(tag) != REACTION_TAG_BYTES:
        raise UsageError("a sealed reaction key needs an offset and a 16-byte tag")
    user = validate_user_name(user)
    return f"{SEALED_REACTION_PREFIX}{channel}-{start_offset}-{user}-{tag.hex()}".encode("ascii")


def parse_sealed_reaction_key(key: bytes) -> SealedReactionKey | None:
    try:
        text = key.decode("ascii")
    except UnicodeDecodeError:
        return None
    if not text.startswith(SEALED_REACTION_PREFIX):
        return None
    parts = text[len(SEALED_REACTION_PREFIX) :].split("-", 2)
    if len(parts) != 3:
        return None
    user, dash, tag = parts[2].rpartition("-")
    channel, start = parse_decimal(parts[0], MAX_CHANNEL), parse_decimal(parts[1], INT64_MAX)
    if not dash or channel is None or channel < 1 or start is None:
        return None
    if not is_user_name(user) or not _HEX32.fullmatch(tag):
        return None
    return SealedReactionKey(channel, start, user, tag)


def reaction_tag_message(start_offset: int, user: str, emoji: str) -> bytes:
    """What the reaction tag (HMAC-SHA256 under the metadata key) is computed over."""
    return (
        DOMAIN_REACTION_TAG
        + start_offset.to_bytes(8, "big")
        + _u8_name(user)
        + emoji.encode("utf-8")
    )


# --- wrapped epoch keys (section 10.2) -----------------------------------------


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """One member's copy of one epoch key, wrapped for their certificate's key
    and signed by the admin's signing certificate."""

    channel: int
    epoch: int
    member: str  # fingerprint of the member's certificate
    ephemeral: bytes  # the sender's one-time P-256 public key, uncompressed
    wrapped: bytes  # AES-256-GCM of the epoch key (32 bytes) and its tag
    signer: str = ""
    signature: bytes = b""

    def __post_init__(self) -> None:
        validate_channel_number(self.channel)
        validate_epoch(self.epoch)
        if not is_fingerprint(self.member):
            raise UsageError(f"invalid member fingerprint {self.member!r}")
        if len(self.ephemeral) != EPHEMERAL_BYTES or len(self.wrapped) != WRAPPED_BYTES:
            raise UsageError("a wrapped key has a 65-byte public key and 48 bytes")

    def key(self) -> bytes:
        return wrapped_key_key(self.channel, self.epoch, self.member)

    def _body(self) -> bytes:
        return bytes([WRAP_VERSION]) + self.ephemeral + self.wrapped

    def signed_message(self) -> bytes:
        return (
            DOMAIN_WRAPPED_KEY
            + self.channel.to_bytes(4, "big")
            + self.epoch.to_bytes(4, "big")
            + bytes.fromhex(self.member)
            + self._body()
        )

    def kek_info(self) -> bytes:
        """HKDF info of the key that wraps the epoch key (input: the ECDH secret)."""
        return (
            INFO_WRAP
            + self.channel.to_bytes(4, "big")
            + self.epoch.to_bytes(4, "big")
            + bytes.fromhex(self.member)
            + self.ephemeral
        )

    def to_value(self) -> bytes:
        if not is_fingerprint(self.signer) or len(self.signature) != SIGNATURE_BYTES:
            raise UsageError("a wrapped key must be signed before it is published")
        return self._body() + bytes.fromhex(self.signer) + self.signature


def wrapped_key_key(channel: int, epoch: int, member: str) -> bytes:
    """``chok-key-{n}-{epoch}-{memberFingerprint}``."""
    return f"{WRAPPED_KEY_PREFIX}{channel}-{epoch}-{member}".encode("ascii")


def parse_wrapped_key(key: bytes | None, value: bytes | None) -> WrappedKey | None:
    """A wrapped key record (signature unchecked), or None. Never raises."""
    if not isinstance(key, bytes) or not isinstance(value, bytes):
        return None
    try:
        text = key.decode("ascii")
    except UnicodeDecodeError:
        return None
    if not text.startswith(WRAPPED_KEY_PREFIX) or len(value) != WRAPPED_VALUE_BYTES:
        return None
    parts = text[len(WRAPPED_KEY_PREFIX) :].split("-")
    if len(parts) != 3 or value[0] != WRAP_VERSION:
        return None
    channel, epoch = parse_decimal(parts[0], MAX_CHANNEL), parse_decimal(parts[1], MAX_EPOCH)
    if channel is None or channel < 1 or epoch is None or epoch < 1:
        return None
    if not is_fingerprint(parts[2]):
        return None
    ephemeral = value[1 : 1 + EPHEMERAL_BYTES]
    wrapped = value[1 + EPHEMERAL_BYTES : _WRAPPED_SIGNED]
    signer = value[_WRAPPED_SIGNED : _WRAPPED_SIGNED + FINGERPRINT_BYTES].hex()
    signature = value[_WRAPPED_SIGNED + FINGERPRINT_BYTES :]
    return WrappedKey(channel, epoch, parts[2], ephemeral, wrapped, signer, signature)

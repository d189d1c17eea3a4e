"""The cryptography of private channels (protocol.md, section 10).

- Epoch keys: 32 random bytes per channel and epoch, wrapped for each member:
  ECDH (P-256) between a one-time key and the member's certificate key,
  HKDF-SHA256, AES-256-GCM; signed by the admin's signing certificate.
- Frames: AES-256-GCM under a key of their own per transmission (HKDF of the
  epoch key with the channel, talker, transmission id and 4 random salt
  bytes), the nonce being the frame's seq. A (key, nonce) pair repeats only if
  one talker drew the same 8 random bytes (id and salt) twice in one epoch.
- Metadata records: AES-256-GCM under the epoch's metadata key, a random
  12-byte nonce, the record key as associated data.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from chok.errors import UsageError
from chok.pki.signatures import CertInfo, Signer
from chok.protocol.sealed import (
    EPOCH_KEY_BYTES,
    NONCE_BYTES,
    REACTION_TAG_BYTES,
    SALT_BYTES,
    SealedFrame,
    SealedRecord,
    WrappedKey,
    envelope_aad,
    frame_key_info,
    frame_nonce,
    metadata_key_info,
    reaction_tag_message,
    sealed_frame_header,
)

_WRAP_NONCE = bytes(NONCE_BYTES)  # each wrapping key is used once (fresh ECDH)


def hkdf(ikm: bytes, info: bytes, length: int = 32) -> bytes:
    """HKDF-SHA256 (RFC 5869) without salt."""
    return HKDF(hashes.SHA256(), length, None, info).derive(ikm)


def new_epoch_key() -> bytes:
    return os.urandom(EPOCH_KEY_BYTES)


def new_salt() -> bytes:
    return os.urandom(SALT_BYTES)


# --- frames ---------------------------------------------------------------------


def frame_key(epoch_key: bytes, channel: int, talker: str, tx_id: str, salt: bytes) -> bytes:
    return hkdf(epoch_key, frame_key_info(channel, talker, tx_id, salt))


def seal_frame(
    key: bytes, tx_id: str, seq: int, frame_ms: int, salt: bytes, packet: bytes
) -> bytes:
    """Ciphertext and tag of one frame's packet (its header is the associated data)."""
    header = sealed_frame_header(tx_id, seq, frame_ms, salt)
    return AESGCM(key).encrypt(frame_nonce(seq), packet, header)


def open_frame(key: bytes, frame: SealedFrame) -> bytes | None:
    """The packet of a sealed frame, or None if the key is wrong or it was altered."""
    try:
        return AESGCM(key).decrypt(frame_nonce(frame.seq), frame.sealed, frame.header)
    except InvalidTag:
        return None


# --- metadata records -----------------------------------------------------------


def metadata_key(epoch_key: bytes, channel: int) -> bytes:
    return hkdf(epoch_key, metadata_key_info(channel))


def seal_record(
    epoch: int,
    epoch_key: bytes,
    channel: int,
    key: bytes,
    plaintext: bytes,
    nonce: bytes | None = None,
) -> SealedRecord:
    """A sealed metadata record (``nonce``: given only by test vectors)."""
    nonce = os.urandom(NONCE_BYTES) if nonce is None else nonce
    sealed = AESGCM(metadata_key(epoch_key, channel)).encrypt(nonce, plaintext, envelope_aad(key))
    return SealedRecord(key, epoch, nonce, sealed)


def open_record(epoch_key: bytes, channel: int, record: SealedRecord) -> bytes | None:
    return open_record_with(metadata_key(epoch_key, channel), record)


def open_record_with(key: bytes, record: SealedRecord) -> bytes | None:
    """The plaintext of a sealed record under an (already derived) metadata key."""
    try:
        return AESGCM(key).decrypt(record.nonce, record.sealed, record.aad)
    except InvalidTag:
        return None


def reaction_tag(epoch_key: bytes, channel: int, start_offset: int, user: str, emoji: str) -> bytes:
    """The tag that stands for an emoji in a sealed reaction record's key."""
    mac = hmac.new(
        metadata_key(epoch_key, channel),
        reaction_tag_message(start_offset, user, emoji),
        hashlib.sha256,
    )
    return mac.digest()[:REACTION_TAG_BYTES]


# --- wrapped epoch keys ---------------------------------------------------------


def _point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def wrap_epoch_key(
    channel: int,
    epoch: int,
    epoch_key: bytes,
    member: CertInfo,
    signer: Signer,
    ephemeral: ec.EllipticCurvePrivateKey | None = None,
) -> WrappedKey:
    """One member's copy of an epoch key, signed by ``signer`` (the admin).

    ``ephemeral``: the one-time key, given only by test vectors.
    """
    if len(epoch_key) != EPOCH_KEY_BYTES:
        raise UsageError("an epoch key is 32 bytes")
    one_time = ephemeral or ec.generate_private_key(ec.SECP256R1())
    blank = WrappedKey(channel, epoch, member.fingerprint, _point(one_time.public_key()), bytes(48))
    secret = one_time.exchange(ec.ECDH(), member.public_key)
    kek = hkdf(secret, blank.kek_info())
    wrapped = AESGCM(kek).encrypt(_WRAP_NONCE, epoch_key, None)
    unsigned = WrappedKey(channel, epoch, member.fingerprint, blank.ephemeral, wrapped)
    signature = signer.sign(unsigned.signed_message())
    return WrappedKey(
        channel, epoch, member.fingerprint, blank.ephemeral, wrapped, signer.fingerprint, signature
    )


def unwrap_epoch_key(record: WrappedKey, key: ec.EllipticCurvePrivateKey) -> bytes | None:
    """The epoch key wrapped for ``key``'s certificate, or None (not for it, or altered).

    The admin's signature is checked by the caller (TrustStore), not here.
    """
    try:
        peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), record.ephemeral)
        secret = key.exchange(ec.ECDH(), peer)
        kek = hkdf(secret, record.kek_info())
        return AESGCM(kek).decrypt(_WRAP_NONCE, record.wrapped, None)
    except (InvalidTag, ValueError):
        return None

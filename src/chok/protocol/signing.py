"""What chok signs for a transmission, its end record and a reaction
(protocol.md, sections 9.2 to 9.5).

Pure: byte layouts and SHA-256 only. The ECDSA itself (P-256, SHA-256, the
signer's certificate key) is done by ``chok.pki.signatures``; this module says
exactly which bytes are signed, so any client can check them.

How signatures are written down (fingerprints, base64url, the JSON members,
the domain strings) is ``sig_encoding``; the certificate and revocation
records are ``certs``. Their names are re-exported here, so that
``chok.protocol.signing`` stays the one place to import the signature layer from.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping
from typing import NamedTuple

from chok.errors import UsageError

from ._util import INT64_MAX, int_in
from .certs import (
    ADMIN_SIGNER_NAME,
    CERT_KEY_PREFIX,
    REVOCATION_VERSION,
    REVOKED_KEY_PREFIX,
    CertRecord,
    Revocation,
    build_cert_record,
    cert_key,
    parse_cert_record,
    parse_revocation_value,
    signer_name,
)
from .names import is_user_name, validate_emoji, validate_user_name
from .sig_encoding import (
    DIGEST_BYTES,
    DOMAIN_END,
    DOMAIN_FRAMES,
    DOMAIN_REACTION,
    DOMAIN_REVOCATION,
    DOMAIN_TRANSMISSION,
    FINGERPRINT_BYTES,
    MAX_MEMBER_TEXT,
    MEMBER_FRAMES_HASH,
    MEMBER_SIGNATURE,
    MEMBER_SIGNER,
    SIGNATURE_BYTES,
    SignatureFields,
    b64,
    fingerprint,
    is_fingerprint,
    signature_fields,
    unb64,
)
from .topics import validate_channel_number

__all__ = [
    "ADMIN_SIGNER_NAME",
    "CERT_KEY_PREFIX",
    "DIGEST_BYTES",
    "DOMAIN_END",
    "DOMAIN_FRAMES",
    "DOMAIN_REACTION",
    "DOMAIN_REVOCATION",
    "DOMAIN_TRANSMISSION",
    "FINGERPRINT_BYTES",
    "HEADER_SIGNATURE",
    "MAX_MEMBER_TEXT",
    "MEMBER_FRAMES_HASH",
    "MEMBER_SIGNATURE",
    "MEMBER_SIGNER",
    "REVOCATION_VERSION",
    "REVOKED_KEY_PREFIX",
    "SIGNATURE_BYTES",
    "SIG_HEADER_SIZE",
    "SIG_HEADER_VERSION",
    "CertRecord",
    "EndSignature",
    "FrameDigest",
    "Revocation",
    "SignatureFields",
    "b64",
    "build_cert_record",
    "cert_key",
    "end_message",
    "fingerprint",
    "frames_digest",
    "is_fingerprint",
    "parse_cert_record",
    "parse_end_signature",
    "parse_revocation_value",
    "reaction_message",
    "signature_fields",
    "signer_name",
    "transmission_message",
    "unb64",
]

#: The header of an end-of-transmission record that carries the signature.
HEADER_SIGNATURE = "chok-sig"
SIG_HEADER_VERSION = 1
SIG_HEADER_SIZE = 1 + FINGERPRINT_BYTES + 8 + SIGNATURE_BYTES  # 89


def _u8_text(text: str) -> bytes:
    raw = text.encode("utf-8")
    if len(raw) > 255:
        raise UsageError(f"{text[:20]!r}... is too long to sign")
    return bytes([len(raw)]) + raw


def _u(value: int, size: int, what: str) -> bytes:
    if not int_in(value, 0, 2 ** (8 * size) - 1):
        raise UsageError(f"{what} {value!r} does not fit {size} bytes")
    return value.to_bytes(size, "big")


def frames_digest(frames: Mapping[int, bytes]) -> bytes:
    """The digest of a transmission's frames (section 9.2): SHA-256 over
    ``chok-frames-1 00``, then for every frame sent, in seq order: seq (u32),
    the value's length (u32), the value."""
    digest = hashlib.sha256(DOMAIN_FRAMES)
    for seq in sorted(frames):
        value = frames[seq]
        digest.update(seq.to_bytes(4, "big") + len(value).to_bytes(4, "big"))
        digest.update(value)
    return digest.digest()


class FrameDigest:
    """The frames of one transmission as read, for its digest (section 9.2).

    A frame may reach the log twice (a talker re-sends what the broker did not
    acknowledge) and out of seq order: the first copy of each seq counts.
    """

    def __init__(self) -> None:
        self._frames: dict[int, bytes] = {}

    @property
    def count(self) -> int:
        return len(self._frames)

    def add(self, seq: int, value: bytes) -> None:
        self._frames.setdefault(seq, value)

    def digest(self) -> bytes:
        return frames_digest(self._frames)


_TX_FIELDS = struct.Struct(">QIBIQQ")  # timestamp, duration, frame ms, frames, offsets


def transmission_message(
    *,
    channel: int,
    tx_id: str,
    talker: str,
    timestamp_ms: int,
    duration_ms: int,
    frame_ms: int,
    frames: int,
    start_offset: int,
    end_offset: int,
    frames_hash: bytes,
) -> bytes:
    """The bytes a talker signs for one transmission (section 9.3).

    Built with one struct (a timeline builds 10,000 of them); a value that does
    not fit its width, or a talker that is not a user name, is a UsageError.
    """
    if len(frames_hash) != DIGEST_BYTES:
        raise UsageError("a frames digest is 32 bytes")
    try:
        fields = _TX_FIELDS.pack(
            timestamp_ms, duration_ms, frame_ms, frames, start_offset, end_offset
        )
        head = DOMAIN_TRANSMISSION + channel.to_bytes(4, "big") + bytes.fromhex(tx_id)
    except (struct.error, OverflowError, ValueError, TypeError) as exc:
        raise UsageError(f"a transmission that cannot be signed: {exc}") from exc
    if len(tx_id) != 8 or len(head) != len(DOMAIN_TRANSMISSION) + 8 or not is_user_name(talker):
        raise UsageError("a transmission that cannot be signed: bad id or talker")
    return head + _u8_text(talker) + fields + frames_hash


def end_message(
    *,
    channel: int,
    tx_id: str,
    talker: str,
    timestamp_ms: int,
    duration_ms: int,
    frame_ms: int,
    frames: int,
    frames_hash: bytes,
) -> bytes:
    """The bytes a talker signs for the end record (section 9.5): what a live
    listener can check as soon as the transmission ends (no offsets: the end
    record goes out at release, before the broker has acknowledged the frames)."""
    if len(frames_hash) != DIGEST_BYTES:
        raise UsageError("a frames digest is 32 bytes")
    try:
        fields = _END_FIELDS.pack(timestamp_ms, duration_ms, frame_ms, frames)
        head = DOMAIN_END + channel.to_bytes(4, "big") + bytes.fromhex(tx_id)
    except (struct.error, OverflowError, ValueError, TypeError) as exc:
        raise UsageError(f"a transmission that cannot be signed: {exc}") from exc
    if len(tx_id) != 8 or len(head) != len(DOMAIN_END) + 8 or not is_user_name(talker):
        raise UsageError("a transmission that cannot be signed: bad id or talker")
    return head + _u8_text(talker) + fields + frames_hash


_END_FIELDS = struct.Struct(">QIBI")  # timestamp, duration, frame ms, frames


def reaction_message(
    channel: int, start_offset: int, user: str, emoji: str, on: bool, timestamp_ms: int
) -> bytes:
    """The bytes a person signs for one reaction record (section 9.4)."""
    return b"".join(
        (
            DOMAIN_REACTION,
            validate_channel_number(channel).to_bytes(4, "big"),
            _u(start_offset, 8, "start offset"),
            _u8_text(validate_user_name(user)),
            _u8_text(validate_emoji(emoji)),
            b"\x01" if on else b"\x00",
            _u(timestamp_ms, 8, "timestamp"),
        )
    )


class EndSignature(NamedTuple):
    """The ``chok-sig`` header of an end-of-transmission record (section 9.5)."""

    signer: str
    timestamp_ms: int
    signature: bytes

    def header(self) -> tuple[str, bytes]:
        if not is_fingerprint(self.signer) or len(self.signature) != SIGNATURE_BYTES:
            raise UsageError("an end signature needs a fingerprint and 64 bytes")
        value = (
            bytes([SIG_HEADER_VERSION])
            + bytes.fromhex(self.signer)
            + _u(self.timestamp_ms, 8, "timestamp")
            + self.signature
        )
        return HEADER_SIGNATURE, value


def parse_end_signature(headers: object) -> EndSignature | None:
    """The signature header of an end-of-transmission record, or None. Never raises."""
    if not isinstance(headers, list | tuple):
        return None
    found = [
        item[1]
        for item in headers
        if isinstance(item, tuple) and len(item) == 2 and item[0] == HEADER_SIGNATURE
    ]
    if len(found) != 1 or not isinstance(found[0], bytes) or len(found[0]) != SIG_HEADER_SIZE:
        return None
    raw = found[0]
    if raw[0] != SIG_HEADER_VERSION:
        return None
    timestamp = int.from_bytes(raw[17:25], "big")
    if timestamp > INT64_MAX:
        return None
    return EndSignature(raw[1:17].hex(), timestamp, raw[25:])

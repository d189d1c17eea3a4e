"""What chok signs for a transmission, its end record and a reaction
(protocol.md, sections 9.2 to 9.5).

Pure: byte layouts and SHA-256 only. The ECDSA itself (P-256, SHA-256, the
signer's certificate key) is done by ``chok.pki.signatures``; this module says
exactly which bytes are signed, so any client can check them.

How signatures are written down (fingerprints, base64url, the JSON members,
the domain strings) is ``sig_encoding``; its names are re-exported here, so
that ``chok.protocol.signing`` stays the one place to import the signature
layer from. Below: the records that carry signers' certificates and
revocations (sections 9.6 and 9.7).
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from chok.errors import UsageError

from ._util import INT64_MAX, dumps_compact, int_in
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
from .topics import MAX_CHANNEL, validate_channel_number

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


CERT_KEY_PREFIX = "chok-cert-"
REVOKED_KEY_PREFIX = "chok-revoked-"
REVOCATION_VERSION = 1
#: The common name of the certificate that signs the admin's records.
ADMIN_SIGNER_NAME = "chok-admin"
#: Aiven names a person's service user (and certificate) ``chok-<name>``.
_SERVICE_PREFIX = "chok-"

_GENERATION = re.compile(r"[1-9][0-9]{0,8}")


def signer_name(common_name: str) -> str | None:
    """The user name a person's certificate speaks for, from its common name.

    ``alice`` (first generation), ``alice.2``, ``alice.3`` ... (after rotations,
    access.common_name), each optionally prefixed ``chok-`` (Aiven's service
    users). None if the common name is none of these.
    """
    name, dot, generation = common_name.partition(".")
    if dot and not _GENERATION.fullmatch(generation):
        return None
    name = name.removeprefix(_SERVICE_PREFIX)
    return name if is_user_name(name) else None


# --- certificates (section 9.6) ------------------------------------------------


class CertRecord(NamedTuple):
    """A certificate published in a channel's metadata topic: key and DER value."""

    fingerprint: str
    der: bytes

    def key(self) -> bytes:
        return cert_key(self.fingerprint)


def cert_key(fp: str) -> bytes:
    return f"{CERT_KEY_PREFIX}{fp}".encode("ascii")


def build_cert_record(cert_der: bytes) -> CertRecord:
    if not isinstance(cert_der, bytes) or not cert_der:
        raise UsageError("a certificate record needs the certificate's DER bytes")
    return CertRecord(fingerprint(cert_der), cert_der)


def parse_cert_record(key: bytes | None, value: bytes | None) -> CertRecord | None:
    """The certificate of a ``chok-cert-`` record whose key names it, or None."""
    if not isinstance(key, bytes) or not isinstance(value, bytes) or not value:
        return None
    if not key.startswith(CERT_KEY_PREFIX.encode()) or len(value) > 16384:
        return None
    fp = key[len(CERT_KEY_PREFIX) :].decode("ascii", "replace")
    if not is_fingerprint(fp) or fingerprint(value) != fp:
        return None
    return CertRecord(fp, value)


# --- revocations (section 9.7) -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Revocation:
    """The admin's word, on one channel, that a certificate is revoked.

    Records it signed are still good when they were written before: a
    transmission whose ``endOffset`` is below ``audio_end``, a reaction record
    at a metadata offset below ``metadata_end``.
    """

    cert: str
    channel: int
    audio_end: int
    metadata_end: int
    timestamp_ms: int
    sig: SignatureFields | None = None

    def __post_init__(self) -> None:
        if not is_fingerprint(self.cert):
            raise UsageError(f"invalid certificate fingerprint {self.cert!r}")
        validate_channel_number(self.channel)
        for what, value in (
            ("audio end", self.audio_end),
            ("metadata end", self.metadata_end),
            ("timestamp", self.timestamp_ms),
        ):
            if not int_in(value, 0, INT64_MAX):
                raise UsageError(f"invalid {what} {value!r}")

    def key(self) -> bytes:
        return f"{REVOKED_KEY_PREFIX}{self.cert}".encode("ascii")

    def message(self) -> bytes:
        return b"".join(
            (
                DOMAIN_REVOCATION,
                bytes.fromhex(self.cert),
                self.channel.to_bytes(4, "big"),
                self.audio_end.to_bytes(8, "big"),
                self.metadata_end.to_bytes(8, "big"),
                self.timestamp_ms.to_bytes(8, "big"),
            )
        )

    def to_value(self) -> bytes:
        obj: dict[str, Any] = {
            "chokRevoked": REVOCATION_VERSION,
            "cert": self.cert,
            "channel": self.channel,
            "audioEnd": self.audio_end,
            "metadataEnd": self.metadata_end,
            "ts": self.timestamp_ms,
        }
        if self.sig is not None:
            obj.update(self.sig.to_json_obj())
        return dumps_compact(obj)


def parse_revocation_value(key: bytes, obj: Mapping[str, Any]) -> Revocation | None:
    """A revocation from its key and decoded JSON value, or None (signature unchecked)."""
    fp = key[len(REVOKED_KEY_PREFIX) :].decode("ascii", "replace")
    if not int_in(obj.get("chokRevoked"), REVOCATION_VERSION, REVOCATION_VERSION):
        return None
    channel, audio_end = obj.get("channel"), obj.get("audioEnd")
    metadata_end, timestamp = obj.get("metadataEnd"), obj.get("ts")
    if not (
        is_fingerprint(fp)
        and obj.get("cert") == fp
        and int_in(channel, 1, MAX_CHANNEL)
        and int_in(audio_end, 0, INT64_MAX)
        and int_in(metadata_end, 0, INT64_MAX)
        and int_in(timestamp, 0, INT64_MAX)
    ):
        return None
    sig = signature_fields(obj, with_frames=False)
    return Revocation(fp, channel, audio_end, metadata_end, timestamp, sig)

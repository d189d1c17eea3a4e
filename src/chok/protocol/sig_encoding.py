"""How a signature and its signer are written down (protocol.md, section 9.1):
certificate fingerprints, base64url, the domain strings, and the signature
members of a JSON record.

It exists apart from ``signing`` (the signed messages) and ``certs`` (the
certificate and revocation records) because both of those write signatures
this way: the shared layer sits below them, so neither imports the other.

Every signed message starts with a domain string of its own (``chok-sig-tx-1``
and so on, then a zero byte), so a signature over one kind of record can never
pass for another kind; they are listed together here so that none repeats.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from chok.errors import UsageError

#: A certificate is named by the first 16 bytes of the SHA-256 of its DER.
FINGERPRINT_BYTES = 16
SIGNATURE_BYTES = 64  # ECDSA P-256: r and s, 32 bytes each, big-endian
DIGEST_BYTES = 32
#: JSON members of a signed transmission or reaction record.
MEMBER_SIGNER = "chokSigner"
MEMBER_FRAMES_HASH = "chokFramesHash"
MEMBER_SIGNATURE = "chokSig"
#: Longest text kept from a signature member (anything longer is broken anyway).
MAX_MEMBER_TEXT = 200

DOMAIN_FRAMES = b"chok-frames-1\x00"
DOMAIN_TRANSMISSION = b"chok-sig-tx-1\x00"
DOMAIN_END = b"chok-sig-end-1\x00"
DOMAIN_REACTION = b"chok-sig-reaction-1\x00"
DOMAIN_REVOCATION = b"chok-sig-revoked-1\x00"

_FINGERPRINT = re.compile(r"[0-9a-f]{32}")
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def fingerprint(cert_der: bytes) -> str:
    """The name of a certificate: the first 16 bytes of SHA-256(DER), lowercase hex."""
    return hashlib.sha256(cert_der).digest()[:FINGERPRINT_BYTES].hex()


def is_fingerprint(text: object) -> TypeGuard[str]:
    return isinstance(text, str) and _FINGERPRINT.fullmatch(text) is not None


def b64(raw: bytes) -> str:
    """base64url without padding (RFC 4648 section 5)."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


_B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_B64_VALUE = {char: index for index, char in enumerate(_B64_ALPHABET)}
_TO_STANDARD = bytes.maketrans(b"-_", b"+/")


def unb64(text: object, size: int) -> bytes | None:
    """The ``size`` bytes of a base64url text without padding, or None."""
    if not isinstance(text, str) or len(text) != (size * 8 + 5) // 6:
        return None
    if not _B64URL.fullmatch(text):
        return None
    # Only the canonical text: the unused low bits of the last character are zero.
    unused = len(text) * 6 - size * 8
    if _B64_VALUE[text[-1]] & ((1 << unused) - 1):
        return None
    try:
        padded = text.encode("ascii").translate(_TO_STANDARD) + b"=" * (-len(text) % 4)
        raw = binascii.a2b_base64(padded, strict_mode=True)
    except binascii.Error:
        return None
    return raw if len(raw) == size else None


@dataclass(frozen=True, slots=True)
class SignatureFields:
    """The signature members of a record, as written (text, unchecked).

    A record is *signed* when any of the members is present; a member that is
    missing or not a string is kept as "" so that the record fails to verify
    (a broken signature is forged, never unsigned).
    """

    signer: str
    signature: str
    frames_hash: str | None = None

    @property
    def signer_fingerprint(self) -> str | None:
        return self.signer if is_fingerprint(self.signer) else None

    @property
    def signature_bytes(self) -> bytes | None:
        return unb64(self.signature, SIGNATURE_BYTES)

    @property
    def frames_hash_bytes(self) -> bytes | None:
        return unb64(self.frames_hash, DIGEST_BYTES)

    def to_json_obj(self) -> dict[str, str]:
        obj = {MEMBER_SIGNER: self.signer}
        if self.frames_hash is not None:
            obj[MEMBER_FRAMES_HASH] = self.frames_hash
        obj[MEMBER_SIGNATURE] = self.signature
        return obj

    @classmethod
    def make(
        cls, signer: str, signature: bytes, frames_hash: bytes | None = None
    ) -> SignatureFields:
        if not is_fingerprint(signer) or len(signature) != SIGNATURE_BYTES:
            raise UsageError("a signature needs a certificate fingerprint and 64 bytes")
        return cls(signer, b64(signature), None if frames_hash is None else b64(frames_hash))


def _member_text(obj: Mapping[str, Any], name: str) -> str:
    value = obj.get(name)
    return value if isinstance(value, str) and len(value) <= MAX_MEMBER_TEXT else ""


def signature_fields(obj: Mapping[str, Any], *, with_frames: bool) -> SignatureFields | None:
    """The signature members of a decoded record, or None if it has none (unsigned)."""
    if MEMBER_SIGNATURE not in obj and MEMBER_SIGNER not in obj and MEMBER_FRAMES_HASH not in obj:
        return None
    frames = _member_text(obj, MEMBER_FRAMES_HASH) if with_frames else None
    return SignatureFields(
        _member_text(obj, MEMBER_SIGNER), _member_text(obj, MEMBER_SIGNATURE), frames
    )

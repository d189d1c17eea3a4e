"""The records that carry signers' certificates and the admin's revocations
(protocol.md, sections 9.6 and 9.7), and whose name a certificate speaks for.

Pure: byte layouts and SHA-256 only. They live apart from ``signing`` (what a
talker signs for a transmission or a reaction) because they are records of
their own on a channel's metadata partition, read to decide whom to trust.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from chok.errors import UsageError

from ._util import INT64_MAX, dumps_compact, int_in
from .names import is_user_name
from .sig_encoding import (
    DOMAIN_REVOCATION,
    SignatureFields,
    fingerprint,
    is_fingerprint,
    signature_fields,
)
from .topics import MAX_CHANNEL, validate_channel_number

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

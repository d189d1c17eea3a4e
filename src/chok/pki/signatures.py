"""Signing records with a person's certificate key, and checking signers'
certificates against the CA of one's own bundle (protocol.md, section 9).

ECDSA on P-256 with SHA-256, deterministic (RFC 6979): the same record signed
twice gives the same bytes, and a bad random number generator cannot leak the
key. Signatures travel as 64 raw bytes (r, s).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.x509.oid import NameOID

from chok.errors import ConfigError
from chok.protocol.reactions import ReactionRecord
from chok.protocol.signing import (
    SIGNATURE_BYTES,
    EndSignature,
    SignatureFields,
    end_message,
    fingerprint,
    signer_name,
)
from chok.protocol.transmission import Transmission

_ECDSA = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
_COORD = SIGNATURE_BYTES // 2


def raw_signature(der: bytes) -> bytes:
    r, s = decode_dss_signature(der)
    return r.to_bytes(_COORD, "big") + s.to_bytes(_COORD, "big")


def der_signature(raw: bytes) -> bytes:
    return encode_dss_signature(
        int.from_bytes(raw[:_COORD], "big"), int.from_bytes(raw[_COORD:], "big")
    )


def _common_name(cert: x509.Certificate) -> str:
    values = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = values[0].value if values else ""
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


class Signer:
    """A person (or the admin) signing with their certificate's private key."""

    def __init__(self, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        if not isinstance(key.curve, ec.SECP256R1):
            raise ConfigError("chok signs with P-256 keys only; this certificate has another key")
        self.cert = cert
        self.key = key
        self.cert_der = cert.public_bytes(serialization.Encoding.DER)
        self.fingerprint = fingerprint(self.cert_der)
        self.common_name = _common_name(cert)

    @classmethod
    def from_pem(cls, cert_pem: bytes, key_pem: bytes) -> Signer:
        try:
            cert = x509.load_pem_x509_certificate(cert_pem)
            key = serialization.load_pem_private_key(key_pem, password=None)
        except (ValueError, TypeError) as exc:
            raise ConfigError("your certificate or key file is damaged") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ConfigError("chok signs with EC (P-256) keys; this key is another kind")
        return cls(cert, key)

    @staticmethod
    def cert_der_of(cert_pem: bytes) -> bytes:
        """The DER bytes of a PEM certificate (what fingerprints are taken of)."""
        try:
            cert = x509.load_pem_x509_certificate(cert_pem)
        except ValueError as exc:
            raise ConfigError("a certificate file is damaged (not PEM)") from exc
        return cert.public_bytes(serialization.Encoding.DER)

    def sign(self, message: bytes) -> bytes:
        return raw_signature(self.key.sign(message, _ECDSA))

    def sign_transmission(self, tx: Transmission, frames_hash: bytes) -> Transmission:
        signature = self.sign(tx.signed_message(frames_hash))
        return tx.with_signature(SignatureFields.make(self.fingerprint, signature, frames_hash))

    def end_signature(
        self,
        *,
        channel: int,
        tx_id: str,
        talker: str,
        timestamp_ms: int,
        duration_ms: int,
        frame_ms: int,
        frames: int,
        frames_hash: bytes,
    ) -> EndSignature:
        """The ``chok-sig`` header of the end record (protocol.md 9.5)."""
        message = end_message(
            channel=channel, tx_id=tx_id, talker=talker, timestamp_ms=timestamp_ms,
            duration_ms=duration_ms, frame_ms=frame_ms, frames=frames, frames_hash=frames_hash,
        )  # fmt: skip
        return EndSignature(self.fingerprint, timestamp_ms, self.sign(message))

    def sign_reaction(self, record: ReactionRecord) -> ReactionRecord:
        signature = self.sign(record.signed_message())
        return record.with_signature(SignatureFields.make(self.fingerprint, signature))


@dataclass(frozen=True)
class CertInfo:
    """A certificate the CA issued, checked once: who it speaks for, and its key."""

    fingerprint: str
    common_name: str
    name: str | None  # the user name it speaks for (signing.signer_name), if any
    public_key: ec.EllipticCurvePublicKey
    not_before_ms: int
    not_after_ms: int

    def verify(self, message: bytes, signature: bytes) -> bool:
        if len(signature) != SIGNATURE_BYTES:
            return False
        try:
            self.public_key.verify(der_signature(signature), message, _ECDSA)
        except (InvalidSignature, ValueError):
            return False
        return True

    def valid_at(self, timestamp_ms: int) -> bool:
        return self.not_before_ms <= timestamp_ms <= self.not_after_ms


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


class Authority:
    """The CA that issued people's certificates: the first certificate in the
    bundle's ca.pem. (A second one there, the brokers' CA on some clusters, is
    trusted for TLS only, never for signatures.)"""

    def __init__(self, ca: x509.Certificate) -> None:
        self.ca = ca

    @classmethod
    def from_pem(cls, ca_pem: bytes) -> Authority:
        try:
            certs = x509.load_pem_x509_certificates(ca_pem)
        except ValueError as exc:
            raise ConfigError("the CA file of your bundle is damaged (not PEM)") from exc
        return cls(certs[0])

    def check(self, cert_der: bytes) -> CertInfo | None:
        """The certificate if the CA issued it to a person (P-256 key, not a CA); else None."""
        try:
            cert = x509.load_der_x509_certificate(cert_der)
            cert.verify_directly_issued_by(self.ca)
            key = cert.public_key()
        except (ValueError, TypeError, InvalidSignature):
            return None
        if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(
            key.curve, ec.SECP256R1
        ):
            return None
        try:
            if cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
                return None
        except x509.ExtensionNotFound:
            pass
        cn = _common_name(cert)
        return CertInfo(
            fingerprint(cert_der),
            cn,
            signer_name(cn),
            key,
            _ms(cert.not_valid_before_utc),
            _ms(cert.not_valid_after_utc),
        )

"""The fixed identities of the signing and private-channel test vectors
(docs/protocol.md, sections 9 and 10): a CA, two people and the admin's
signing certificate, made from fixed private keys, fixed dates and
deterministic ECDSA, so that every byte of every vector can be rebuilt.

These keys are published in the document: they are for test vectors only.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chok.pki.signatures import Authority, Signer

_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
NOT_BEFORE = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
NOT_AFTER = dt.datetime(2034, 1, 1, tzinfo=dt.UTC)
#: name -> (common name, certificate serial)
PEOPLE = {
    "ca": ("chok test CA", 1),
    "dan": ("dan", 2),
    "ann": ("ann.2", 3),
    "admin": ("chok-admin", 4),
}


def scalar(label: str) -> int:
    """The private key of a vector identity: SHA-256 of a label, reduced mod n."""
    return int.from_bytes(hashlib.sha256(f"chok test key: {label}".encode()).digest(), "big") % _N


def private_key(label: str) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(scalar(label), ec.SECP256R1())


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "chok"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def certificate(who: str) -> x509.Certificate:
    cn, serial = PEOPLE[who]
    is_ca = who == "ca"
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(PEOPLE["ca"][0]))
        .public_key(private_key(who).public_key())
        .serial_number(serial)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(
            x509.BasicConstraints(ca=is_ca, path_length=0 if is_ca else None), critical=True
        )
    )
    return builder.sign(private_key("ca"), hashes.SHA256(), ecdsa_deterministic=True)


def der(who: str) -> bytes:
    return certificate(who).public_bytes(serialization.Encoding.DER)


def signer(who: str) -> Signer:
    return Signer(certificate(who), private_key(who))


def authority() -> Authority:
    return Authority(certificate("ca"))

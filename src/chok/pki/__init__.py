"""The cluster's certificate authority and the certificates it signs.

Keys are EC P-256 (small, fast handshakes, accepted by the JVM and librdkafka)
and written as unencrypted PKCS#8 PEM, which Kafka's PEM key stores require.
Private keys are always written 0600.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from chok.errors import ConfigError
from chok.home import write_atomic, write_private

CA_DAYS = 3650
LEAF_DAYS = 825


@dataclass(frozen=True)
class Issued:
    """A certificate with its private key, both as PEM bytes."""

    cert_pem: bytes
    key_pem: bytes

    @property
    def cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)

    def save(self, cert_path: Path, key_path: Path) -> None:
        write_atomic(cert_path, self.cert_pem)
        write_private(key_path, self.key_pem)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "chok"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create_ca(label: str = "chok cluster CA") -> Issued:
    """Create a self-signed CA allowed to sign leaf certificates only."""
    key = _new_key()
    name = _name(label)
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def _sans(hosts: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def issue(
    ca: Issued,
    common_name: str,
    *,
    server_hosts: list[str] | None = None,
    days: int = LEAF_DAYS,
    not_before: dt.datetime | None = None,
) -> Issued:
    """Sign a leaf certificate with CN=common_name.

    With ``server_hosts`` it is a server certificate (SANs, serverAuth) that
    is also usable as a client (the broker talks to itself); otherwise it is a
    client certificate whose CN becomes the Kafka principal ``User:<CN>``.
    """
    ca_key = _signing_key(ca)
    key = _new_key()
    start = not_before or (_now() - dt.timedelta(minutes=5))
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if server_hosts:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
        builder = builder.add_extension(
            x509.SubjectAlternativeName(_sans(server_hosts)), critical=False
        )
    builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    return Issued(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def _signing_key(ca: Issued) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    # An admin's own CA (kafka backend) may well be RSA; chok's is EC.
    try:
        key = serialization.load_pem_private_key(ca.key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError("the CA key is unreadable (chok needs an unencrypted PEM key)") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ConfigError("the CA key is neither an EC nor an RSA key")
    return key


def is_ca_pair(ca: Issued) -> bool:
    """True when ca.key_pem is the key of ca.cert_pem and that is a CA certificate."""
    try:
        cert = ca.cert
        key = _signing_key(ca)
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except (ValueError, ConfigError, x509.ExtensionNotFound):
        return False
    same = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return same and constraints.ca


def load(cert_path: Path, key_path: Path) -> Issued:
    try:
        return Issued(cert_path.read_bytes(), key_path.read_bytes())
    except FileNotFoundError as exc:
        raise ConfigError(f"missing certificate file {exc.filename}") from exc


def load_cert(cert_pem: bytes) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(cert_pem)
    except ValueError as exc:
        raise ConfigError("a certificate file is damaged (not PEM)") from exc


def common_name(cert_pem: bytes) -> str:
    cert = x509.load_pem_x509_certificate(cert_pem)
    values = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else ""


def expiry(cert_pem: bytes) -> dt.datetime:
    return x509.load_pem_x509_certificate(cert_pem).not_valid_after_utc


def signed_by(cert_pem: bytes, ca_pem: bytes) -> bool:
    """True when cert_pem was issued by a CA in ca_pem (which may hold several)."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    for ca in x509.load_pem_x509_certificates(ca_pem):
        try:
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return True
    return False


def key_matches(cert_pem: bytes, key_pem: bytes) -> bool:
    """True when key_pem is the private key of the certificate (raises ValueError
    when either cannot be read)."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    key = serialization.load_pem_private_key(key_pem, password=None)
    der = serialization.Encoding.DER
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    return cert.public_key().public_bytes(der, spki) == key.public_key().public_bytes(der, spki)

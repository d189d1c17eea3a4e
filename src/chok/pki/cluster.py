"""The local cluster's credentials: its CA, the broker's and the admin's certificates.

Files live in ``<CHOK_HOME>/cluster/``. The CA signs every user certificate;
the broker certificate names every host clients use; the admin certificate
(CN ``chok-admin``, a Kafka super user) is what chok itself uses for topics
and ACLs. Nothing here talks to the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from chok import pki
from chok.home import subdir, write_private

BROKER_PRINCIPAL = "chok-broker"
ADMIN_PRINCIPAL = "chok-admin"
DEFAULT_HOSTS = ("localhost", "127.0.0.1")


@dataclass(frozen=True)
class ClusterFiles:
    root: Path

    @property
    def ca_cert(self) -> Path:
        return self.root / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.root / "ca.key"

    @property
    def broker_cert(self) -> Path:
        return self.root / "broker.pem"

    @property
    def broker_key(self) -> Path:
        return self.root / "broker.key"

    @property
    def broker_keystore(self) -> Path:
        """Key and certificate chain in one PEM file: Kafka's PEM key store."""
        return self.root / "broker-keystore.pem"

    @property
    def admin_cert(self) -> Path:
        return self.root / "admin.pem"

    @property
    def admin_key(self) -> Path:
        return self.root / "admin.key"


def cluster_files() -> ClusterFiles:
    return ClusterFiles(subdir("cluster"))


def ensure_ca(files: ClusterFiles) -> pki.Issued:
    if files.ca_cert.exists() and files.ca_key.exists():
        return pki.load(files.ca_cert, files.ca_key)
    ca = pki.create_ca()
    ca.save(files.ca_cert, files.ca_key)
    return ca


def broker_hosts(files: ClusterFiles) -> list[str]:
    """The host names and addresses the current broker certificate is valid for."""
    if not files.broker_cert.exists():
        return []
    cert = x509.load_pem_x509_certificate(files.broker_cert.read_bytes())
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    names = [str(n) for n in sans.get_values_for_type(x509.DNSName)]
    names += [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)]
    return names


def ensure_credentials(files: ClusterFiles, extra_hosts: list[str]) -> None:
    """Create the CA, broker and admin certificates that are missing.

    The broker certificate is re-issued when a new host name is asked for,
    so clients can verify the broker under every name they use.
    """
    ca = ensure_ca(files)
    wanted = list(dict.fromkeys([*DEFAULT_HOSTS, *broker_hosts(files), *extra_hosts]))
    have_all = set(wanted) <= set(broker_hosts(files))
    if not (files.broker_keystore.exists() and have_all):
        broker = pki.issue(ca, BROKER_PRINCIPAL, server_hosts=wanted)
        broker.save(files.broker_cert, files.broker_key)
        write_private(files.broker_keystore, broker.key_pem + broker.cert_pem + ca.cert_pem)
    if not (files.admin_cert.exists() and files.admin_key.exists()):
        pki.issue(ca, ADMIN_PRINCIPAL).save(files.admin_cert, files.admin_key)

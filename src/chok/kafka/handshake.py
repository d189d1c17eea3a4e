"""Does the broker accept this certificate? One TLS handshake, in milliseconds.

librdkafka hears a refused client certificate as a TLS alert on its first
read, calls it a transport failure ("all brokers down") and retries until the
caller's timeout: a person would wait 10 s for the wrong message. This module
opens one connection itself (Python's ssl, the profile's PEM files), sends a
Kafka ApiVersions request and reads the answer's first bytes. With TLS 1.3 a
broker that refuses the certificate says so with an alert right there, so:

- an answer: the certificate is ACCEPTED (access is a matter of ACLs);
- a certificate alert (unknown, bad, expired, revoked, unknown CA,
  certificate required): REFUSED, the person needs a new bundle;
- our own check of the broker's certificate failed: UNTRUSTED_BROKER;
- no connection: UNREACHABLE; anything else: UNKNOWN (let librdkafka decide).
"""

from __future__ import annotations

import datetime as dt
import enum
import socket
import ssl
import struct
from dataclasses import dataclass

from cryptography import x509

from chok.errors import AuthenticationError, BadBundleError, ChokError, KafkaError
from chok.kafka.client import Credentials

PROBE_TIMEOUT_S = 2.0
# Kafka ApiVersions (key 18) v0 with request header v1: size, key, version,
# correlation id, client id. Every broker answers it, even before SASL.
_CLIENT_ID = b"chok-probe"
_API_VERSIONS = struct.pack(">ihhih", 10 + len(_CLIENT_ID), 18, 0, 1, len(_CLIENT_ID)) + _CLIENT_ID
# OpenSSL's names of the alerts a server sends about the client's certificate.
_CERTIFICATE_ALERTS = (
    "ALERT_BAD_CERTIFICATE",
    "ALERT_UNSUPPORTED_CERTIFICATE",
    "ALERT_CERTIFICATE_REVOKED",
    "ALERT_CERTIFICATE_EXPIRED",
    "ALERT_CERTIFICATE_UNKNOWN",
    "ALERT_UNKNOWN_CA",
    "ALERT_CERTIFICATE_REQUIRED",
    "ALERT_ACCESS_DENIED",
    "ALERT_HANDSHAKE_FAILURE",
)


class Verdict(enum.Enum):
    ACCEPTED = "accepted"
    REFUSED = "refused"
    UNTRUSTED_BROKER = "untrusted-broker"
    UNREACHABLE = "unreachable"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Probe:
    verdict: Verdict
    detail: str = ""
    # UNREACHABLE for sure: nothing listens there, or the name does not exist.
    definite: bool = False


def _plain(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower()


def probe(creds: Credentials, timeout: float = PROBE_TIMEOUT_S) -> Probe:
    """Try each bootstrap address until one gives a definite answer."""
    if creds.security_protocol.upper() != "SSL":
        return Probe(Verdict.UNKNOWN, f"{creds.security_protocol} is not probed")
    context = _context(creds)
    results = []
    for address in creds.bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        result = _probe_one(context, host.strip("[]"), int(port), timeout)
        if result.verdict is not Verdict.UNREACHABLE:
            return result
        results.append(result)
    details = "; ".join(dict.fromkeys(r.detail for r in results))
    return Probe(Verdict.UNREACHABLE, details, definite=all(r.definite for r in results))


def check(
    creds: Credentials, timeout: float = PROBE_TIMEOUT_S, *, unreachable_ok: bool = False
) -> Probe:
    """Raise AuthenticationError (exit 7) when the broker refuses this certificate,
    or when the broker is not the one the profile's CA vouches for; KafkaError
    (exit 6) when nothing listens at any of its addresses, unless ``unreachable_ok``
    (talking and listening go on while the broker is away)."""
    result = probe(creds, timeout)
    if result.verdict is Verdict.UNREACHABLE and result.definite and not unreachable_ok:
        raise KafkaError(f"cannot reach the broker {creds.bootstrap} ({result.detail})")
    if result.verdict is Verdict.REFUSED:
        raise refused_error(creds, result.detail)
    if result.verdict is Verdict.UNTRUSTED_BROKER:
        raise AuthenticationError(
            f"the broker at {creds.bootstrap} is not the one your bundle trusts ({result.detail})",
            hint="check the address, or ask your admin for a new bundle",
        )
    return result


def refused_error(creds: Credentials, detail: str) -> AuthenticationError:
    why = _why_refused(creds) or f"TLS alert: {detail}"
    return AuthenticationError(
        f"the broker refused your certificate: {why}", hint="ask your admin for a new bundle"
    )


def _why_refused(creds: Credentials) -> str | None:
    try:
        cert = x509.load_pem_x509_certificate(creds.cert.read_bytes())
    except (OSError, ValueError):
        return None
    now = dt.datetime.now(dt.UTC)
    if cert.not_valid_after_utc < now:
        return f"it expired on {cert.not_valid_after_utc.date().isoformat()}"
    if cert.not_valid_before_utc > now:
        return "it is not valid yet: check this computer's clock"
    if cert.issuer == cert.subject:
        return "it is self-signed, not issued by the cluster's CA"
    return "it was not issued by this cluster's CA, or that CA no longer trusts it"


def _context(creds: Credentials) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=str(creds.ca))
        context.load_cert_chain(certfile=str(creds.cert), keyfile=str(creds.key))
    except FileNotFoundError as exc:
        raise ChokError(f"a file of your profile is missing: {exc.filename}") from exc
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in str(exc):
            raise BadBundleError(
                "your profile's private key does not belong to its certificate",
                hint="join again with a bundle from your admin (`chok join --force`)",
            ) from exc
        raise BadBundleError(f"your profile's certificate or key cannot be used ({exc})") from exc
    return context


def nothing_listens(bootstrap: str, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """Why none of ``bootstrap``'s addresses can be reached, when that is sure
    (the connection is refused, the name does not exist); else None.

    librdkafka retries such an address until the caller's timeout (20 s for
    `admin init`); one plain TCP connection per address says it at once, for
    any security protocol."""
    details = []
    for address in bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        if not port.isdigit():
            return None  # librdkafka will say what is wrong with it
        raw = _connect(host.strip("[]"), int(port), timeout)
        if isinstance(raw, socket.socket):
            raw.close()
            return None
        if not raw.definite:
            return None
        details.append(raw.detail)
    return "; ".join(dict.fromkeys(details))


def _connect(host: str, port: int, timeout: float) -> socket.socket | Probe:
    try:
        return socket.create_connection((host, port), timeout=timeout)
    except (ConnectionRefusedError, socket.gaierror) as exc:
        return Probe(Verdict.UNREACHABLE, _plain(exc), definite=True)
    except OSError as exc:  # a timeout or a route: maybe only slow, let librdkafka try
        return Probe(Verdict.UNREACHABLE, _plain(exc))


def _probe_one(context: ssl.SSLContext, host: str, port: int, timeout: float) -> Probe:
    raw = _connect(host, port, timeout)
    if isinstance(raw, Probe):
        return raw
    try:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            tls.sendall(_API_VERSIONS)
            answer = tls.recv(4)
    except ssl.SSLCertVerificationError as exc:
        return Probe(Verdict.UNTRUSTED_BROKER, exc.verify_message or str(exc))
    except ssl.SSLError as exc:
        reason = exc.reason or str(exc)
        if any(alert in reason for alert in _CERTIFICATE_ALERTS):
            return Probe(Verdict.REFUSED, reason.lower().replace("_", " "))
        return Probe(Verdict.UNKNOWN, reason)
    except OSError as exc:  # reset, timeout: not an answer about the certificate
        return Probe(Verdict.UNKNOWN, str(exc))
    finally:
        raw.close()
    return Probe(Verdict.ACCEPTED if len(answer) == 4 else Verdict.UNKNOWN)

"""confluent-kafka (librdkafka) clients configured for chok's mTLS clusters.

librdkafka logs through a Python logger here, never straight to stderr, so a
refused handshake becomes one clear chok error instead of a stream of lines.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chok.errors import ChokError
from chok.kafka.errors import ErrorCollector

LIBRDKAFKA_LOG = logging.getLogger("chok.librdkafka")
LIBRDKAFKA_LOG.addHandler(logging.NullHandler())
LIBRDKAFKA_LOG.propagate = False


@dataclass(frozen=True)
class Credentials:
    """Where a client connects and with which certificate (all PEM files)."""

    bootstrap: str
    ca: Path
    cert: Path
    key: Path
    security_protocol: str = "SSL"

    def librdkafka(self) -> dict[str, Any]:
        conf: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap,
            "security.protocol": self.security_protocol,
            "client.id": "chok",
            "logger": LIBRDKAFKA_LOG,
            # Fail fast on a dead address instead of retrying for minutes.
            "socket.connection.setup.timeout.ms": 10000,
            "reconnect.backoff.max.ms": 2000,
        }
        if self.security_protocol.upper() == "SSL":
            conf.update(
                {
                    "ssl.ca.location": str(self.ca),
                    "ssl.certificate.location": str(self.cert),
                    "ssl.key.location": str(self.key),
                    "ssl.endpoint.identification.algorithm": "https",
                }
            )
        return conf


def with_errors(creds: Credentials, extra: dict[str, Any]) -> tuple[dict[str, Any], ErrorCollector]:
    """Client configuration plus an error_cb that remembers fatal connection errors."""
    collector = ErrorCollector(creds.bootstrap)
    conf = {**creds.librdkafka(), **extra, "error_cb": collector}
    return conf, collector


def raise_pending(collector: ErrorCollector) -> None:
    err: ChokError | None = collector.take()
    if err is not None:
        raise err


#: Asked between the short attempts of a long wait: whether the caller is
#: stopping (``listen --timeout`` ended, the app closes), so that it does not
#: sit out a whole timeout on a cluster that does not answer.
Cancelled = Callable[[], bool]
ATTEMPT_S = 0.5


def attempts(timeout: float, cancelled: Cancelled | None = None) -> Iterator[float]:
    """The timeouts of the short attempts one wait of ``timeout`` is cut into;
    none after the caller was cancelled (at least one in all)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        yield max(0.0, min(ATTEMPT_S, left))
        if left <= ATTEMPT_S or (cancelled is not None and cancelled()):
            return

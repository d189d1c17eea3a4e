"""The warm producers talkers send with: one per process and identity, kept
open between presses so that a press's first frame goes out at once (no TLS
handshake, no producer id to wait for)."""

from __future__ import annotations

import hashlib
import threading

from chok.kafka.client import Credentials
from chok.kafka.producer import OUTBOX_PRODUCER_SETTINGS, RecordProducer


def outbox_producer(creds: Credentials, topic: str) -> RecordProducer:
    producer = RecordProducer(creds, OUTBOX_PRODUCER_SETTINGS)
    producer.warm_up(topic)
    return producer


_shared: dict[tuple[str, str], RecordProducer] = {}  # oldest first
_shared_lock = threading.Lock()
#: Identities kept warm at once (a test run or a bench makes many people).
SHARED_PRODUCERS = 4


def shared_producer(creds: Credentials, topic: str) -> RecordProducer:
    """One warm producer per process and identity, for talkers that bring none:
    the first frame of a press then goes out at once (no TLS handshake, no
    producer id to wait for). Asking for it early warms it up."""
    # The certificate's bytes, not only its path: a profile joined again with a
    # new certificate (rotate-user) must not go on with the old one's producer.
    key = (creds.bootstrap, f"{creds.cert}:{_identity(creds)}")
    with _shared_lock:
        producer = _shared.pop(key, None) or outbox_producer(creds, topic)
        _shared[key] = producer  # now the newest
        while len(_shared) > SHARED_PRODUCERS:  # a delivery still using one keeps it alive
            del _shared[next(iter(_shared))]
        return producer


def _identity(creds: Credentials) -> str:
    try:
        return hashlib.sha256(creds.cert.read_bytes()).hexdigest()
    except OSError:
        return ""  # unreadable: the producer will say so


def forget_shared(producer: RecordProducer) -> None:
    """A shared producer that failed for good is not handed out again."""
    with _shared_lock:
        for key, known in list(_shared.items()):
            if known is producer:
                del _shared[key]

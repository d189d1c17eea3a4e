"""librdkafka's errors converted into chok's, with messages a person understands."""

from __future__ import annotations

import threading
from typing import Any

from confluent_kafka import KafkaError as RdKafkaError
from confluent_kafka import KafkaException

from chok.errors import (
    AccessDeniedError,
    AuthenticationError,
    ChokError,
    KafkaError,
    KafkaTimeoutError,
    TopicMissingError,
)

_DENIED = {
    RdKafkaError.TOPIC_AUTHORIZATION_FAILED,
    RdKafkaError.GROUP_AUTHORIZATION_FAILED,
    RdKafkaError.CLUSTER_AUTHORIZATION_FAILED,
    RdKafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
}
_MISSING = {
    RdKafkaError.UNKNOWN_TOPIC_OR_PART,
    RdKafkaError._UNKNOWN_TOPIC,
    RdKafkaError._UNKNOWN_PARTITION,
}
_UNREACHABLE = {RdKafkaError._TRANSPORT, RdKafkaError._ALL_BROKERS_DOWN, RdKafkaError._RESOLVE}


def convert(error: Any, where: str) -> ChokError:
    """Turn a confluent_kafka KafkaError/KafkaException into a chok error."""
    if isinstance(error, KafkaException):
        error = error.args[0] if error.args else None
    if not isinstance(error, RdKafkaError):
        return KafkaError(f"{where}: {error}")
    code = error.code()
    text = error.str()
    if code in _DENIED:
        return AccessDeniedError(
            f"{where}: access denied by the cluster",
            hint="your certificate has no permission for this (revoked, or not a member)",
        )
    if code in (RdKafkaError._SSL, RdKafkaError._AUTHENTICATION):
        return AuthenticationError(f"{where}: the broker refused the TLS handshake ({text})")
    if code in _MISSING:
        return TopicMissingError(f"{where}: no such topic or partition on the cluster")
    if code in _UNREACHABLE:
        return KafkaError(f"{where}: cannot reach the broker ({text})")
    if code in (RdKafkaError._TIMED_OUT, RdKafkaError.REQUEST_TIMED_OUT):
        return KafkaTimeoutError(f"{where}: the broker did not answer in time")
    return KafkaError(f"{where}: {text}")


class ErrorCollector:
    """An ``error_cb`` for librdkafka that keeps the most telling error seen.

    librdkafka reports a refused handshake or a dead broker only through this
    callback (the call itself just times out), so callers check it to turn a
    silent timeout into a precise message.
    """

    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self._lock = threading.Lock()
        self._error: ChokError | None = None

    def __call__(self, error: RdKafkaError) -> None:
        converted = convert(error, f"broker {self._bootstrap}")
        with self._lock:
            # An authentication failure explains more than "all brokers down".
            if self._error is None or isinstance(converted, AuthenticationError):
                self._error = converted

    def take(self) -> ChokError | None:
        with self._lock:
            err, self._error = self._error, None
            return err

    def peek(self) -> ChokError | None:
        with self._lock:
            return self._error

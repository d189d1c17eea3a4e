"""Reading several partitions (one per channel) through one consumer.

One librdkafka consumer keeps one TLS connection per broker whatever the
number of partitions it is assigned, so monitoring five channels costs one
connection, not five (docs/benchmarks.md, "Several channels"). Like
``PartitionReader`` it never joins a group: every partition is ``assign()``ed
at an explicit offset.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from confluent_kafka import Consumer, Message, TopicPartition
from confluent_kafka import KafkaError as RdKafkaError

from chok.errors import AccessDeniedError, KafkaTimeoutError
from chok.kafka.client import Cancelled, Credentials, attempts, with_errors
from chok.kafka.errors import convert
from chok.kafka.stream import READER_SETTINGS
from chok.protocol.names import consumer_group_prefix

Place = tuple[str, int]  # topic, partition


class MultiPartitionReader:
    """Reads a set of (topic, partition) from explicit offsets over one consumer."""

    def __init__(
        self,
        creds: Credentials,
        user: str,
        purpose: str = "scan",
        extra: dict[str, Any] | None = None,
    ) -> None:
        group = f"{consumer_group_prefix(user)}{purpose}-{uuid.uuid4().hex[:8]}"
        conf, self._errors = with_errors(
            creds, {**READER_SETTINGS, "group.id": group, **(extra or {})}
        )
        self._consumer = Consumer(conf)
        self.at_end: set[Place] = set()

    def watermarks(
        self,
        topic: str,
        partition: int = 0,
        timeout: float = 10.0,
        cancelled: Cancelled | None = None,
    ) -> tuple[int, int]:
        failure: Exception = KafkaTimeoutError(f"reading {topic}: no answer")
        for attempt in attempts(timeout, cancelled):
            try:
                low, high = self._consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=attempt, cached=False
                )
                return int(low), int(high)
            except Exception as exc:  # KafkaException
                failure = exc
        pending = self._errors.take()
        raise pending or convert(failure, f"reading {topic}") from failure

    def assign(self, places: Sequence[tuple[str, int, int]]) -> None:
        """Read each (topic, partition) from its offset (replacing any earlier set)."""
        self._consumer.assign([TopicPartition(t, p, o) for t, p, o in places])
        self.at_end = set()

    def poll(self, timeout: float) -> Message | None:
        """The next record of any assigned partition, or None (timeout or an end reached)."""
        msg = self._consumer.poll(timeout)
        if msg is None:
            self._raise_fatal()
            return None
        place = (msg.topic() or "", msg.partition() or 0)
        err = msg.error()
        if err is None:
            self.at_end.discard(place)
            return msg
        if err.code() == RdKafkaError._PARTITION_EOF:
            self.at_end.add(place)
            return None
        raise convert(err, f"reading {place[0]}")

    def _raise_fatal(self) -> None:
        pending = self._errors.peek()
        if pending is not None and (
            isinstance(pending, AccessDeniedError) or "TLS handshake" in str(pending)
        ):
            self._errors.take()
            raise pending

    def close(self) -> None:
        self._consumer.close()

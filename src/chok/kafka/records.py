"""Writing a few records with any client configuration (the admin's own, for
example), waiting until the broker acknowledged every one of them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaError as RdKafkaError
from confluent_kafka import Message, Producer

from chok.errors import ChokError, KafkaTimeoutError
from chok.kafka.errors import ErrorCollector, convert

Record = tuple[str, bytes, bytes | None]  # topic, key, value (None: a tombstone)


def write_records(conf: dict[str, Any], records: Sequence[Record], timeout: float = 15.0) -> None:
    """Produce ``records`` to partition 0 of their topics, in order; raise the
    first failure as a chok error (access denied, missing topic, timeout)."""
    if not records:
        return
    collector = ErrorCollector(str(conf.get("bootstrap.servers", "the cluster")))
    producer = Producer(
        {**conf, "acks": "all", "enable.idempotence": True, "linger.ms": 5, "error_cb": collector}
    )
    failures: list[ChokError] = []

    def report(err: RdKafkaError | None, msg: Message) -> None:
        if err is not None:
            failures.append(convert(err, f"writing to {msg.topic()}"))

    for topic, key, value in records:
        try:
            producer.produce(topic, value=value, key=key, partition=0, on_delivery=report)
        except Exception as exc:  # KafkaException, BufferError
            raise convert(exc, f"writing to {topic}") from exc
        producer.poll(0)
    left = producer.flush(timeout)
    if failures:
        raise failures[0]
    if left:
        raise collector.take() or KafkaTimeoutError(
            f"{left} record(s) not acknowledged in {timeout:.0f} s"
        )

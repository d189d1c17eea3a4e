"""Small helpers for tests that talk to the real broker with a profile's certificate."""

from __future__ import annotations

import time
import uuid
from typing import Any

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from chok.kafka.client import Credentials


def produce_one(creds: Credentials, topic: str, value: bytes, timeout: float = 15) -> Any:
    """Produce one record to partition 0; return the delivery error or the offset."""
    result: dict[str, Any] = {}
    errors: list[KafkaError] = []
    conf = {
        **creds.librdkafka(),
        "error_cb": errors.append,
        "message.timeout.ms": int(timeout * 1000),
    }
    producer = Producer(conf)

    def on_delivery(err: KafkaError | None, msg: Any) -> None:
        result["err"], result["offset"] = err, (msg.offset() if err is None else None)

    producer.produce(topic, value=value, key=b"test", partition=0, on_delivery=on_delivery)
    producer.flush(timeout + 5)
    if "err" not in result:
        return errors[-1] if errors else "no delivery report"
    return result["err"] if result["err"] is not None else result["offset"]


def read_from(creds: Credentials, topic: str, offset: int, user: str, timeout: float = 15) -> Any:
    """Read one record of partition 0 at offset (assign, no group join)."""
    errors: list[KafkaError] = []
    conf = {
        **creds.librdkafka(),
        "group.id": f"chok.{user}.test-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "error_cb": errors.append,
    }
    consumer = Consumer(conf)
    try:
        consumer.assign([TopicPartition(topic, 0, offset)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                return msg.error()
            return msg.value()
        return errors[-1] if errors else None
    finally:
        consumer.close()

"""A client that behaves like the original Android app (for comparison only).

Its behaviour, from ../shared/reference/original-app.md: a brand-new consumer
group and ``subscribe()`` per listen (``chat-group-<ms>``, offset reset
latest), per timeline load (``timeline-<ms>``, earliest), per replay
(``timeline-playback-<ms>``, assign at startOffset and play every record up to
endOffset); librdkafka's producer defaults; key ``user1``; no headers.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from chok.kafka.client import Credentials


def _millis() -> int:
    return int(time.time() * 1000)


def producer(creds: Credentials, stats: list[dict[str, Any]] | None = None) -> Producer:
    conf: dict[str, Any] = dict(creds.librdkafka())
    if stats is not None:
        import json

        conf["statistics.interval.ms"] = 200
        conf["stats_cb"] = lambda raw: stats.append(json.loads(raw))
    return Producer(conf)


def subscribe_live(creds: Credentials, topic: str) -> tuple[Consumer, float]:
    """Tune in the original way; return the consumer and seconds until ready."""
    began = time.monotonic()
    assigned = threading.Event()
    consumer = Consumer(
        {
            **creds.librdkafka(),
            "group.id": f"chat-group-{_millis()}",
            "auto.offset.reset": "latest",
            "enable.partition.eof": True,
        }
    )
    consumer.subscribe([topic], on_assign=lambda c, parts: assigned.set())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        msg = consumer.poll(0.05)
        err = msg.error() if msg is not None else None
        at_eof = err is not None and err.code() == KafkaError._PARTITION_EOF
        if msg is not None and at_eof and msg.partition() == 0:
            return consumer, time.monotonic() - began
    raise TimeoutError("the original-style listener never became ready")


def load_timeline(creds: Credentials, topic: str, expected: int) -> tuple[int, float]:
    """Read the metadata topic from earliest with a fresh group; (records, seconds)."""
    import json

    began = time.monotonic()
    consumer = Consumer(
        {
            **creds.librdkafka(),
            "group.id": f"timeline-{_millis()}",
            "auto.offset.reset": "earliest",
            "enable.partition.eof": True,
        }
    )
    consumer.subscribe([topic])
    latest: dict[int, dict[str, Any]] = {}
    ended = False
    deadline = time.monotonic() + 120
    while not ended and time.monotonic() < deadline:
        for msg in consumer.consume(1000, 0.5):
            if msg.error():
                ended = ended or (msg.partition() == 0 and len(latest) >= expected)
                continue
            try:
                obj = json.loads(msg.value() or b"null")
                latest[int(obj["startOffset"])] = obj
            except (ValueError, KeyError, TypeError):
                continue
    took = time.monotonic() - began
    consumer.close()
    return len(latest), took


def replay_first_frame(creds: Credentials, topic: str, start: int) -> float:
    from chok.codec import OpusDecoder

    began = time.monotonic()
    consumer = Consumer({**creds.librdkafka(), "group.id": f"timeline-playback-{_millis()}"})
    consumer.assign([TopicPartition(topic, 0, start)])
    decoder = OpusDecoder()
    try:
        while time.monotonic() - began < 60:
            msg = consumer.poll(0.05)
            value = msg.value() if msg is not None and not msg.error() else None
            if value:
                decoder.decode(value)
                return time.monotonic() - began
    finally:
        consumer.close()
    raise TimeoutError("the original-style replay got no frame")

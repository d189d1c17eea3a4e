"""Sending records: chok's producer, its settings for live audio and for the
outbox, and its failures turned into chok errors (auth, revoked access,
timeouts). A producer follows its partitions' new leader when a broker dies
(chok.kafka.failover)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError as RdKafkaError
from confluent_kafka import Message, Producer

from chok.errors import ChokError, KafkaError, KafkaTimeoutError
from chok.kafka.client import Cancelled, Credentials, attempts, with_errors
from chok.kafka.errors import convert
from chok.kafka.failover import ClientLog, LeaderWatch

Headers = Sequence[tuple[str, bytes]]

# Live audio: send every frame at once (no batching delay), keep order with
# the idempotent producer, never compress (Opus does not shrink).
PRODUCER_SETTINGS: dict[str, Any] = {
    "linger.ms": 0,
    "enable.idempotence": True,
    "acks": "all",
    "compression.type": "none",
    "message.timeout.ms": 15000,
    "request.timeout.ms": 10000,
    # After a failover a broker's metadata may name the new leader a few ms
    # before that broker has taken the partition on: the first send is
    # refused (not leader) and retried after this backoff (100 ms by default,
    # doubling up to retry.backoff.max.ms), which listeners heard as silence.
    "retry.backoff.ms": 20,
}
# Talking through the outbox: librdkafka keeps retrying for as long as the
# broker is away (no message timeout), in order and without doubles within one
# producer; a failure that would leave a gap stops the producer instead
# (gapless guarantee), so the sender replaces it and re-sends, in order, what
# was not acknowledged.
OUTBOX_PRODUCER_SETTINGS: dict[str, Any] = {
    **PRODUCER_SETTINGS,
    "message.timeout.ms": 0,
    "enable.gapless.guarantee": True,
}

# Metadata refreshes after a dead leader was replaced: the first moves the
# partition to its new leader, and librdkafka (2.x) then drops the dead broker,
# which parks the partition again (leader -1) within a millisecond; the next
# refresh moves it back for good. Asked 10 ms apart, not 50: each 50 ms wait
# was 50 ms more silence on the channel (measured with librdkafka's debug log).
LEADER_REFRESHES = 3
REFRESH_EVERY_S = 0.01


@dataclass(frozen=True)
class Delivered:
    topic: str
    offset: int
    key: bytes | None


DeliveryCallback = Callable[[Delivered | None, ChokError | None], None]


class RecordProducer:
    """A producer whose failures become chok errors (auth, revoked access, timeouts)."""

    def __init__(self, creds: Credentials, extra: dict[str, Any] | None = None) -> None:
        conf, self._errors = with_errors(creds, {**PRODUCER_SETTINGS, **(extra or {})})
        self._partitions: set[tuple[str, int]] = set()
        self._watch = LeaderWatch(creds, lambda: list(self._partitions), self._refresh_leaders)
        self._producer = Producer({**conf, "logger": ClientLog(self._watch.broker_failed)})
        self._failure: ChokError | None = None
        self._lock = threading.Lock()

    def produce(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Headers | None = None,
        on_delivery: DeliveryCallback | None = None,
        partition: int = 0,
    ) -> None:
        self.raise_failure()

        def report(err: RdKafkaError | None, msg: Message) -> None:
            if err is not None:
                failure = convert(err, f"sending to {topic}")
                with self._lock:
                    self._failure = self._failure or failure
                if on_delivery:
                    on_delivery(None, failure)
            elif on_delivery:
                on_delivery(Delivered(topic, msg.offset() or 0, msg.key()), None)

        if not self._hand_over(topic, key, value, headers, partition, report):
            raise KafkaError("too many records waiting for the broker")
        self._producer.poll(0)

    def enqueue(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Headers | None,
        partition: int,
        on_delivery: DeliveryCallback,
    ) -> bool:
        """Queue a record without waiting and without polling (the caller polls);
        False when librdkafka's queue is full (try again after a poll).

        Unlike ``produce`` it does not refuse because an earlier record failed:
        the outbox sender decides what a failure means.
        """

        def report(err: RdKafkaError | None, msg: Message) -> None:
            if err is not None:
                on_delivery(None, convert(err, f"sending to {topic}"))
            else:
                on_delivery(Delivered(topic, msg.offset() or 0, msg.key()), None)

        return self._hand_over(topic, key, value, headers, partition, report)

    def _hand_over(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Headers | None,
        partition: int,
        report: Callable[[RdKafkaError | None, Message], None],
    ) -> bool:
        """Give one record to librdkafka; False when its queue is full. Every
        record goes through here, so the leader watch follows every partition
        written to (once only ``produce`` told it, and the outbox's producer
        waited a second for a new leader)."""
        self._partitions.add((topic, partition))
        try:
            self._producer.produce(
                topic, value=value, key=key, headers=list(headers or []),
                partition=partition, on_delivery=report,
            )  # fmt: skip
        except BufferError:
            return False
        except Exception as exc:  # KafkaException from librdkafka (a fatal producer)
            raise convert(exc, f"sending to {topic}") from exc
        return True

    def take_error(self) -> ChokError | None:
        """The connection error librdkafka reported since the last call, if any."""
        error: ChokError | None = self._errors.take()
        return error

    def warm_up(self, topic: str) -> None:
        """``connect`` on a thread of its own: never blocks, never fails the caller."""

        def run() -> None:
            with contextlib.suppress(ChokError):
                self.connect(topic)

        threading.Thread(target=run, name="chok-producer-warm-up", daemon=True).start()

    def close(self) -> None:
        """Drop what is still queued (the outbox has it) and let the client go."""
        with contextlib.suppress(Exception):
            self._producer.purge()
            self._producer.poll(0)

    def connect(self, topic: str, timeout: float = 10.0) -> None:
        """Open the TLS connection and get the producer id now, not on the first
        frame: a cold producer holds its first records for ~0.5 s, which a
        person hears as a clipped first syllable."""
        try:
            self._producer.list_topics(topic, timeout=timeout)
        except Exception as exc:  # KafkaException
            pending = self._errors.take()
            raise pending or convert(exc, f"connecting to send to {topic}") from exc

    def topic_names(self, timeout: float = 10.0, cancelled: Cancelled | None = None) -> list[str]:
        """The topics this principal may see, asked over the producer's own connection."""
        failure: Exception = KafkaTimeoutError("listing topics: no answer")
        for attempt in attempts(timeout, cancelled):
            try:
                return list(self._producer.list_topics(timeout=attempt).topics)
            except Exception as exc:  # KafkaException
                failure = exc
        pending = self._errors.take()
        raise pending or convert(failure, "listing topics") from failure

    def poll(self, timeout: float = 0.0) -> None:
        self._producer.poll(timeout)

    def _refresh_leaders(self) -> None:
        """A dead leader was replaced: learn the new one now, not on
        librdkafka's next one-second tick (runs on the watch's thread)."""
        for _ in range(LEADER_REFRESHES):
            with contextlib.suppress(Exception):  # KafkaException: the next one will do
                self._producer.list_topics(timeout=1.0)
            time.sleep(REFRESH_EVERY_S)  # let librdkafka drop the dead broker first

    def flush(self, timeout: float = 15.0, cancelled: Cancelled | None = None) -> None:
        """Wait until every record is acknowledged; raise the first failure."""
        left = 0
        for attempt in attempts(timeout, cancelled):
            left = self._producer.flush(attempt)
            if not left:
                break
        self.raise_failure()
        if left:
            pending = self._errors.take()
            raise pending or KafkaTimeoutError(
                f"{left} record(s) not acknowledged in {timeout:.0f} s"
            )

    def raise_failure(self) -> None:
        with self._lock:
            failure = self._failure
        if failure is not None:
            raise failure

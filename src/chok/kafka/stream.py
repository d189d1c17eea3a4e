"""Producing and reading one partition with low latency and explicit offsets.

chok never joins a consumer group: a reader ``assign()``s partition 0 at an
explicit offset, so tuning in costs one fetch, not a group rebalance. librdkafka
still wants a ``group.id`` (it looks up the coordinator), so each reader uses
the person's own prefix ``chok.<user>.`` which their ACLs cover.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    Consumer,
    Message,
    TopicPartition,
)
from confluent_kafka import KafkaError as RdKafkaError

from chok.errors import (
    AccessDeniedError,
    AuthenticationError,
    KafkaError,
    TopicMissingError,
)
from chok.kafka.client import Cancelled, Credentials, with_errors
from chok.kafka.errors import convert
from chok.kafka.failover import ClientLog, LeaderWatch
from chok.protocol.names import consumer_group_prefix

Headers = Sequence[tuple[str, bytes]]
BEGINNING = OFFSET_BEGINNING
END = OFFSET_END

# The broker answers a fetch as soon as one byte is there (fetch.min.bytes=1),
# so fetch.wait.max.ms only bounds idle polls, not latency: 500 ms (librdkafka's
# default, as the original app) makes an idle listener cost ~0.3 KB/s of egress
# where 100 ms cost 1.6 KB/s. (Tuning in does not wait for an empty fetch.)
READER_SETTINGS: dict[str, Any] = {
    "enable.auto.commit": False,
    "enable.auto.offset.store": False,
    "enable.partition.eof": True,
    "fetch.wait.max.ms": 500,
    "fetch.min.bytes": 1,
    "fetch.error.backoff.ms": 50,
    "session.timeout.ms": 45000,
}


# One ask for the watermarks: longer than a fetch the broker holds on the same
# connection (fetch.wait.max.ms), far shorter than a caller's whole timeout.
WATERMARKS_ATTEMPT_S = 1.0
# The errors no retry can cure.
_FINAL = (AccessDeniedError, AuthenticationError, TopicMissingError)


# A replay reads records that exist: its fetches never wait long (so a kept-open
# replay reader asks its next question at once, not after a parked fetch), and
# it fetches ahead only so much (not the whole rest of the channel's audio).
REPLAY_READER_SETTINGS: dict[str, Any] = {
    "fetch.wait.max.ms": 20,
    "queued.max.messages.kbytes": 1024,
}

# What one frame record of chok's speech takes in a fetch response, about
# (record batch header, key, header, 20 kbit/s Opus): sizes a live batch.
FRAME_RECORD_BYTES = 200


def live_batch_settings(batch_ms: int) -> dict[str, Any]:
    """Reader settings that fetch live frames in batches of about ``batch_ms``
    of speech: the broker answers once that many bytes are there (or after
    fetch.wait.max.ms), so each response carries several frames under one
    response header. Saves egress on hosted plans; delays a frame by up to
    ``batch_ms`` (more for the last frames of a transmission)."""
    if batch_ms <= 0:
        return {}
    frames = max(1, round(batch_ms / 60))
    return {
        "fetch.min.bytes": frames * FRAME_RECORD_BYTES,
        "fetch.wait.max.ms": max(batch_ms, READER_SETTINGS["fetch.wait.max.ms"]),
    }


class PartitionReader:
    """Reads one partition from an explicit offset, without joining a group."""

    def __init__(
        self,
        creds: Credentials,
        user: str,
        topic: str,
        partition: int = 0,
        purpose: str = "read",
        extra: dict[str, Any] | None = None,
    ) -> None:
        group = f"{consumer_group_prefix(user)}{purpose}-{uuid.uuid4().hex[:8]}"
        self._conf, self._errors = with_errors(
            creds, {**READER_SETTINGS, "group.id": group, **(extra or {})}
        )
        self.topic, self.partition = topic, partition
        self.at_end = False
        self._next: int | None = None  # the offset to read next, once assigned
        self._moved = threading.Event()
        self._watch = LeaderWatch(creds, lambda: [(topic, partition)], self._moved.set)
        self._consumer = self._new_consumer()

    def _new_consumer(self) -> Consumer:
        return Consumer({**self._conf, "logger": ClientLog(self._watch.broker_failed)})

    def _follow_leader(self) -> None:
        """The partition's dead leader was replaced: go on reading from the new
        one where this reader was (a fresh client, on the caller's thread)."""
        if not self._moved.is_set():
            return
        self._moved.clear()
        old, self._consumer = self._consumer, self._new_consumer()
        if self._next is not None:
            self._consumer.assign([TopicPartition(self.topic, self.partition, self._next)])
        threading.Thread(target=old.close, name="chok-close-reader", daemon=True).start()

    def watermarks(
        self,
        timeout: float = 10.0,
        topic: str | None = None,
        partition: int | None = None,
        cancelled: Cancelled | None = None,
    ) -> tuple[int, int]:
        """(low, high): the oldest offset still kept and the next offset to be written.

        Any topic/partition may be asked through this reader's connection.
        ``cancelled`` is asked between attempts: a caller that is stopping
        (``listen --timeout`` ended) does not wait out the whole timeout.
        """
        where = TopicPartition(
            topic or self.topic, self.partition if partition is None else partition
        )
        deadline = time.monotonic() + timeout
        if self._next is not None and self._watch.watching:
            # Reading live, and a broker just failed: asking the dead leader
            # would hold the reading thread for a whole attempt, past the
            # moment the watch finds the new leader. The caller's probe says
            # "reconnecting"; the next poll follows the partition.
            raise KafkaError(f"reading {where.topic}: a broker failed, finding the new leader")
        while True:
            self._follow_leader()
            attempt = max(0.1, min(WATERMARKS_ATTEMPT_S, deadline - time.monotonic()))
            try:
                low, high = self._consumer.get_watermark_offsets(
                    where, timeout=attempt, cached=False
                )
                return int(low), int(high)
            except Exception as exc:  # KafkaException
                failure = self._errors.take() or convert(exc, f"reading {where.topic}")
                stopping = cancelled is not None and cancelled()
                if isinstance(failure, _FINAL) or stopping or time.monotonic() >= deadline:
                    raise failure from exc
            # A leader that just died or moved: refresh the metadata, ask again.
            with contextlib.suppress(Exception):  # KafkaException: the next attempt says why
                self._consumer.list_topics(where.topic, timeout=attempt)

    def unassign(self) -> None:
        """Stop reading (and fetching); the connections stay open for the next assign."""
        self._consumer.unassign()
        self._next = None
        self.at_end = False

    def assign(self, offset: int) -> None:
        self._follow_leader()
        self._consumer.assign([TopicPartition(self.topic, self.partition, offset)])
        self._next = offset
        self.at_end = False

    def poll(self, timeout: float) -> Message | None:
        """The next record, or None on timeout or at the end of the partition."""
        self._follow_leader()
        msg = self._consumer.poll(timeout)
        if msg is None:
            self._raise_fatal()
            return None
        err = msg.error()
        if err is None:
            self.at_end = False
            self._next = (msg.offset() or 0) + 1
            return msg
        if err.code() == RdKafkaError._PARTITION_EOF:
            self.at_end = True
            return None
        raise convert(err, f"reading {self.topic}")

    def consume(self, max_records: int, timeout: float) -> list[Message]:
        """Up to max_records records (fewer at the end of the partition)."""
        self._follow_leader()
        batch = self._consumer.consume(max_records, timeout)
        out: list[Message] = []
        for msg in batch:
            err = msg.error()
            if err is None:
                out.append(msg)
                self.at_end = False
                self._next = (msg.offset() or 0) + 1
            elif err.code() == RdKafkaError._PARTITION_EOF:
                self.at_end = True
            else:
                raise convert(err, f"reading {self.topic}")
        if not batch:
            self._raise_fatal()
        return out

    def _raise_fatal(self) -> None:
        """Turn a refused handshake or revoked access into an error instead of a hang."""
        pending = self._errors.peek()
        if isinstance(pending, AccessDeniedError) or (
            pending is not None and "TLS handshake" in str(pending)
        ):
            self._errors.take()
            raise pending

    def close(self) -> None:
        self._watch.close()
        self._consumer.close()

    def __enter__(self) -> PartitionReader:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def headers_of(msg: Message) -> list[tuple[str, bytes | None]] | None:
    """A record's headers as (name, bytes) pairs, whatever form librdkafka gave.

    None when there are none, or when they cannot be read (a header name that is
    not UTF-8, written by some other client): the record reads as one without.
    """
    try:
        raw = msg.headers()
    except (ValueError, TypeError):  # UnicodeDecodeError is a ValueError
        return None
    if raw is None:
        return None
    pairs = raw.items() if isinstance(raw, dict) else raw
    return [(name, value.encode() if isinstance(value, str) else value) for name, value in pairs]

"""Delivering an outbox entry, with a recording fake producer whose broker the
test controls (answers, silence, a failure that kills the producer). The real
broker's side is tests/integration/test_delivery.py."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from chok.channel.delivery import Delivery, DeliveryProgress, DeliveryState
from chok.channel.outbox import Outbox, OutboxEnd
from chok.errors import AccessDeniedError, ChokError, KafkaError
from chok.kafka.client import Credentials
from chok.kafka.producer import Delivered
from chok.protocol.audio import parse_audio_record
from chok.protocol.metadata import parse_metadata_record
from chok.protocol.transmission import Transmission
from tests.unit.test_outbox import _meta

CREDS = Credentials("kafka.home:9093", Path("ca"), Path("cert"), Path("key"))


@dataclass
class FakeBroker:
    """The partitions' offsets, shared by every producer of a test."""

    next_offset: dict[str, int] = field(default_factory=lambda: {"audio": 100, "meta": 0})
    answering: bool = True


@dataclass
class FakeProducer:
    broker: FakeBroker
    queued: list[tuple[str, bytes, Any]] = field(default_factory=list)
    sent: list[tuple[str, bytes, list[tuple[str, bytes]] | None]] = field(default_factory=list)
    error: ChokError | None = None
    fail_at: int | None = None  # the n-th record fails and the producer is dead from then on
    dead: bool = False
    reported: int = 0
    closed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def enqueue(self, topic: str, key: Any, value: Any, headers: Any, partition: int,
                on_delivery: Any) -> bool:  # fmt: skip
        with self.lock:
            self.queued.append((topic, value, on_delivery))
            self.sent.append((topic, value, headers))
        return True

    def poll(self, timeout: float) -> None:
        threading.Event().wait(min(timeout, 0.01))  # a short wait, as librdkafka's would be
        with self.lock:
            if not self.broker.answering or self.dead:
                return
            ready, self.queued = self.queued, []
        for topic, _value, report in ready:
            self.dead = self.dead or (self.fail_at is not None and self.reported >= self.fail_at)
            self.reported += 1
            if self.dead:
                report(None, KafkaError("sending: Local: Fatal error (gapless guarantee)"))
                continue
            kind = "meta" if topic.startswith("chok-metadata") else "audio"
            offset = self.broker.next_offset[kind]
            self.broker.next_offset[kind] += 1
            report(Delivered(topic, offset, None), None)

    def take_error(self) -> ChokError | None:
        error, self.error = self.error, None
        return error

    def close(self) -> None:
        self.closed = True

    def warm_up(self, topic: str) -> None:
        pass


@pytest.fixture
def broker() -> FakeBroker:
    return FakeBroker()


def _delivery(tmp_path: Path, producers: list[FakeProducer], broker: FakeBroker) -> Delivery:
    def new_producer() -> Any:
        producers.append(FakeProducer(broker))
        return producers[-1]

    first = new_producer()
    return Delivery(Outbox(tmp_path).create(_meta()), CREDS, first, new_producer=new_producer)


def _audio(producer: FakeProducer) -> list[tuple[str, int | None]]:
    out = []
    for topic, value, headers in producer.sent:
        if topic == "chok-audio-1":
            parsed = parse_audio_record(b"dan", value, headers)
            out.append((type(parsed).__name__, getattr(parsed, "seq", None)))
    return out


def _record(producers: list[FakeProducer]) -> Transmission:
    [(value,)] = [(v,) for p in producers for t, v, _ in p.sent if t == "chok-metadata-1"]
    record = parse_metadata_record(b"msg-1-100", value, channel=1)
    assert isinstance(record, Transmission)
    return record


def test_frames_go_out_in_order_then_the_marker_then_the_record(
    tmp_path: Path, broker: FakeBroker
) -> None:
    producers: list[FakeProducer] = []
    delivery = _delivery(tmp_path, producers, broker)
    for seq in (0, 1, 3):  # seq 2 was a pause left out
        delivery.add_frame(seq, bytes([seq + 1]) * 30)
    delivery.release(OutboxEnd(5, 300, 1_700_000_000_500))
    assert delivery.wait(10)
    assert delivery.state is DeliveryState.SENT
    assert _audio(producers[0]) == [
        ("AudioFrame", 0), ("AudioFrame", 1), ("AudioFrame", 3), ("EndOfTransmission", None),
    ]  # fmt: skip
    record = delivery.result().transmission
    assert record == _record(producers)
    assert (record.start_offset, record.end_offset) == (100, 102)
    assert record.timestamp_ms == 1_700_000_000_500 and record.frames == 5
    assert list(tmp_path.iterdir()) == []  # the outbox is empty again


def test_while_the_broker_is_away_it_is_queued_then_sent(
    tmp_path: Path, broker: FakeBroker
) -> None:
    producers: list[FakeProducer] = []
    broker.answering = False
    delivery = _delivery(tmp_path, producers, broker)
    told: list[DeliveryProgress] = []
    delivery.on_change(told.append)
    delivery.add_frame(0, b"x" * 30)
    producers[0].error = KafkaError("broker kafka.home:9093: cannot reach the broker")
    delivery.release(OutboxEnd(1, 60, 1))
    assert not delivery.wait(0.5)
    assert delivery.state is DeliveryState.QUEUED
    progress = delivery.progress()
    assert progress.acknowledged == 0 and progress.frames == 1
    assert "Can't reach the family's Kafka at kafka.home:9093" in progress.connection.text
    broker.answering = True
    assert delivery.wait(10)
    states = [p.state for p in told]
    assert states[0] is DeliveryState.QUEUED and states[-1] is DeliveryState.SENT, states


def test_a_producer_that_failed_for_good_is_replaced_and_the_rest_sent_in_order(
    tmp_path: Path, broker: FakeBroker
) -> None:
    producers: list[FakeProducer] = []
    delivery = _delivery(tmp_path, producers, broker)
    producers[0].fail_at = 3  # frames 0-2 arrive; 3 fails, and nothing after it
    for seq in range(6):
        delivery.add_frame(seq, bytes([seq + 1]) * 30)
    delivery.release(OutboxEnd(6, 360, 1))
    assert delivery.wait(10)
    assert len(producers) == 2 and producers[0].closed is False  # the caller's producer
    assert _audio(producers[1]) == [("AudioFrame", s) for s in range(3, 6)] + [
        ("EndOfTransmission", None)
    ]
    record = delivery.result().transmission
    assert record is not None and (record.start_offset, record.end_offset) == (100, 105)


def test_refused_access_fails_and_keeps_the_words(tmp_path: Path, broker: FakeBroker) -> None:
    producers: list[FakeProducer] = []
    broker.answering = False
    delivery = _delivery(tmp_path, producers, broker)
    delivery.add_frame(0, b"x" * 30)
    producers[0].error = AccessDeniedError("sending to chok-audio-1: access denied")
    delivery.release(OutboxEnd(1, 60, 1))
    assert delivery.wait(10)
    assert delivery.state is DeliveryState.FAILED
    with pytest.raises(AccessDeniedError):
        delivery.result()
    assert Outbox(tmp_path).pending(), "the words stay in the outbox"


def test_leaving_keeps_what_was_not_sent_for_the_next_chok(
    tmp_path: Path, broker: FakeBroker
) -> None:
    producers: list[FakeProducer] = []
    delivery = _delivery(tmp_path, producers, broker)
    delivery.add_frame(0, b"x" * 30)
    assert delivery.wait_acknowledged(10)
    broker.answering = False
    delivery.add_frame(1, b"y" * 30)
    delivery.release(OutboxEnd(2, 120, 1))
    delivery.leave()
    assert delivery.state is DeliveryState.LEFT
    [entry] = Outbox(tmp_path).claim_all()
    assert entry.acks == {0: 100} and entry.unacked() == [1] and entry.end is not None
    entry.leave()


def test_nothing_said_sends_nothing(tmp_path: Path, broker: FakeBroker) -> None:
    producers: list[FakeProducer] = []
    delivery = _delivery(tmp_path, producers, broker)
    delivery.release(OutboxEnd(0, 0, 1))
    assert delivery.wait(5) and delivery.result().transmission is None
    assert producers[0].sent == [] and list(tmp_path.iterdir()) == []

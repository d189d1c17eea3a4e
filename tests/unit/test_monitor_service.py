"""The monitor of several channels on the connection machine, with a fake broker:
records in memory, a broker that goes away and comes back, readers that keep
failing after it came back (stale metadata, as librdkafka's do), a fake clock
for the machine and the listeners. The real broker: tests/integration/test_scan*.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from confluent_kafka import Message

from chok.channel.connection import ConnState, ConnStatus
from chok.channel.live import TALK_TIMEOUT_S, FrameArrived, TalkEnded, TalkStarted
from chok.channel.monitor import ChannelEvent, MonitorService
from chok.channel.session import ChannelSession
from chok.errors import AccessDeniedError, ChokError, KafkaError
from chok.kafka.client import Credentials
from chok.protocol.audio import AudioRecord, build_audio_frame, build_end_of_transmission
from chok.protocol.client_config import ChannelConfig
from tests.unit.test_connection_machine import FakeClock

PACKET = bytes(range(1, 40))
CHANNELS = (1, 2)


def _session(number: int) -> ChannelSession:
    creds = Credentials("kafka.home:9093", Path("ca.pem"), Path("me.pem"), Path("me.key"))
    return ChannelSession("mum", "mum", creds, ChannelConfig.standard(number, f"c{number}"))


@dataclass
class FakeBroker:
    """Audio partitions in memory. ``away``: every client fails. A reader that
    failed keeps failing once the broker is back (``stale``): only a new one reads."""

    logs: dict[str, list[Message]] = field(default_factory=dict)
    away: bool = False
    refuse: ChokError | None = None  # what every client gets instead (revoked, TLS)
    readers: list[FakeMultiReader] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, channel: int, record: AudioRecord) -> None:
        topic = f"chok-audio-{channel}"
        with self.lock:
            log = self.logs.setdefault(topic, [])
            message = Message(
                topic=topic, partition=0, offset=len(log), key=record.key,
                value=record.value, headers=record.headers, timestamp=(1, 1000),
            )  # fmt: skip
            log.append(message)

    def answer(self) -> None:
        if self.refuse is not None:
            raise self.refuse
        if self.away:
            raise KafkaError("cannot reach the broker (Local: All broker connections are down)")

    def reader(self) -> FakeMultiReader:
        made = FakeMultiReader(self)
        self.readers.append(made)
        return made

    def probe(self) -> FakeProbe:
        return FakeProbe(self)


@dataclass
class FakeMultiReader:
    broker: FakeBroker
    at_end: set[tuple[str, int]] = field(default_factory=set)
    assigned: list[tuple[str, int, int]] = field(default_factory=list)
    stale: bool = False
    failed_polls: int = 0
    closed: bool = False
    _next: dict[str, int] = field(default_factory=dict)

    def watermarks(
        self, topic: str, partition: int = 0, timeout: float = 10.0, cancelled: object = None
    ) -> tuple[int, int]:
        self._answer()
        with self.broker.lock:
            return 0, len(self.broker.logs.get(topic, []))

    def assign(self, places: Sequence[tuple[str, int, int]]) -> None:
        self.assigned = list(places)
        self._next = {topic: offset for topic, _, offset in places}
        self.at_end = set()

    def poll(self, timeout: float) -> Message | None:
        try:
            self._answer()
        except ChokError:
            self.failed_polls += 1
            raise
        with self.broker.lock:
            for topic, offset in self._next.items():
                log = self.broker.logs.get(topic, [])
                if offset < len(log):
                    self._next[topic] = offset + 1
                    return log[offset]
                self.at_end.add((topic, 0))
        time.sleep(min(timeout, 0.005))  # like a real poll, it waits a little for records
        return None

    def _answer(self) -> None:
        if self.stale:
            raise KafkaError("reading chok-audio-1: Broker: Not leader for partition")
        self.stale = self.broker.away
        self.broker.answer()

    def close(self) -> None:
        self.closed = True


@dataclass(eq=False)  # kept in a set while it is out
class FakeProbe:
    broker: FakeBroker

    def read(self, timeout: float) -> tuple[int, int]:
        self.broker.answer()
        return 0, 0

    def close(self) -> None:
        pass


@dataclass
class Heard:
    items: list[ChannelEvent] = field(default_factory=list)
    states: list[ConnStatus] = field(default_factory=list)
    errors: list[ChokError] = field(default_factory=list)

    def of(self, kind: type, channel: int | None = None) -> list[ChannelEvent]:
        return [
            i
            for i in list(self.items)
            if isinstance(i.event, kind) and channel in (None, i.channel)
        ]

    @property
    def said(self) -> list[ConnState]:
        return [s.state for s in list(self.states)]


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not in {timeout:.0f} s")
        time.sleep(0.005)  # the monitor's thread works meanwhile


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def broker() -> FakeBroker:
    return FakeBroker()


@pytest.fixture
def heard() -> Heard:
    return Heard()


@pytest.fixture
def monitor(clock: FakeClock, broker: FakeBroker, heard: Heard) -> Callable[..., MonitorService]:
    made: list[MonitorService] = []

    def make(**kwargs: object) -> MonitorService:
        service = MonitorService(
            [_session(n) for n in CHANNELS], None, heard.items.append, heard.errors.append,
            on_state=heard.states.append, clock=clock, open_reader=broker.reader,
            new_probe=broker.probe, **kwargs,  # type: ignore[arg-type]
        )  # fmt: skip
        made.append(service)
        return service

    yield make  # type: ignore[misc]
    for service in made:
        service.stop()


def _talk(broker: FakeBroker, channel: int, seqs: range, tx: str, end: int | None = None) -> None:
    for seq in seqs:
        broker.add(channel, build_audio_frame(f"talker{channel}", tx, seq, PACKET))
    if end is not None:
        broker.add(channel, build_end_of_transmission(f"talker{channel}", tx, end, end * 60))


def test_started_while_the_broker_is_away_it_says_so_and_tunes_in_when_back(
    monitor: Callable[..., MonitorService], broker: FakeBroker, clock: FakeClock, heard: Heard
) -> None:
    broker.away = True
    service = monitor().start(timeout=0, require=False)
    wait_until(lambda: ConnState.RECONNECTING in heard.said, "says it cannot reach it")
    text = heard.states[-1].text
    assert text.startswith("Can't reach the family's Kafka at kafka.home:9093 — retrying")
    assert "Local: All broker connections are down" in str(heard.states[-1].detail)
    assert not service.tuned_in.is_set() and service.error is None
    broker.away = False
    clock.advance(30)  # the next try is due
    wait_until(service.tuned_in.is_set, "tuned in once the broker is back")
    assert heard.said[-1] is ConnState.CONNECTED
    _talk(broker, 2, range(3), "0000aaaa", end=3)
    wait_until(lambda: bool(heard.of(TalkEnded, 2)), "hears channel 2")
    assert [i.event.frames for i in heard.of(TalkEnded, 2)] == [3]  # type: ignore[attr-defined]


def test_required_but_away_it_raises_in_plain_words(
    monitor: Callable[..., MonitorService], broker: FakeBroker
) -> None:
    broker.away = True
    with pytest.raises(KafkaError, match="could not tune in to channels 1, 2: Can't reach"):
        monitor().start(timeout=0.3, require=True)


def test_a_long_outage_keeps_each_transmission_whole_and_reads_on_where_it_stopped(
    monitor: Callable[..., MonitorService], broker: FakeBroker, clock: FakeClock, heard: Heard
) -> None:
    """Away for longer than a talker may be quiet (TALK_TIMEOUT_S) mid-transmission on
    both channels: nothing ends, and a new reader continues at each channel's next
    offset (the old one keeps failing), so each transmission is one, complete, once."""
    service = monitor().start(timeout=5)
    _talk(broker, 1, range(5), "0000aaaa")
    _talk(broker, 2, range(3), "0000bbbb")
    wait_until(lambda: len(heard.of(FrameArrived)) == 8, "the first frames")
    broker.away = True
    wait_until(lambda: ConnState.RECONNECTING in heard.said, "says it lost the broker")
    failed_reader = broker.readers[-1]
    clock.advance(TALK_TIMEOUT_S * 2)  # a long outage
    failures = failed_reader.failed_polls
    wait_until(lambda: failed_reader.failed_polls > failures, "the reader failed again since")
    wait_until(lambda: heard.said[-1] is ConnState.OFFLINE, "says it is offline")
    _talk(broker, 1, range(5, 10), "0000aaaa", end=10)  # the talkers' outboxes, sent later
    _talk(broker, 2, range(3, 6), "0000bbbb", end=6)
    broker.away = False
    clock.advance(20)  # the next probe is due
    wait_until(lambda: len(heard.of(TalkEnded)) == 2, "both transmissions end")
    assert heard.said[-1] is ConnState.CONNECTED and service.error is None
    assert failed_reader.closed and broker.readers[-1] is not failed_reader
    assert broker.readers[-1].assigned == [("chok-audio-1", 0, 5), ("chok-audio-2", 0, 3)]
    for channel, frames in ((1, 10), (2, 6)):
        ended = [i.event for i in heard.of(TalkEnded, channel)]
        assert [(e.frames, e.clean) for e in ended] == [(frames, True)]  # type: ignore[attr-defined]
        seqs = [i.event.frame.seq for i in heard.of(FrameArrived, channel)]  # type: ignore[attr-defined]
        assert seqs == list(range(frames))
        assert len(heard.of(TalkStarted, channel)) == 1
    assert service.positions == {1: 11, 2: 7}


def test_revoked_access_ends_it_with_that_error(
    monitor: Callable[..., MonitorService], broker: FakeBroker, heard: Heard
) -> None:
    service = monitor().start(timeout=5)
    broker.refuse = AccessDeniedError("your access to channel 2 was revoked")
    wait_until(lambda: service.error is not None, "stops")
    assert isinstance(service.error, AccessDeniedError) and heard.errors == [service.error]


def test_refused_at_start_raises_even_when_not_required(
    monitor: Callable[..., MonitorService], broker: FakeBroker
) -> None:
    broker.refuse = AccessDeniedError("your access to channel 2 was revoked")
    with pytest.raises(AccessDeniedError):
        monitor().start(timeout=5, require=False)

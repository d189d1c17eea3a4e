"""Following a partition to its new leader: which log lines start a watch, and
when the watch says "moved". The cluster is faked here (its metadata answers);
tests/cluster kills real brokers."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from chok.kafka import failover
from chok.kafka.client import LIBRDKAFKA_LOG, Credentials
from chok.kafka.failover import ClientLog, LeaderWatch


def test_a_failed_connection_names_the_broker_and_every_line_is_passed_on() -> None:
    failed: list[int] = []
    seen: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    LIBRDKAFKA_LOG.addHandler(handler)
    LIBRDKAFKA_LOG.setLevel(logging.DEBUG)
    try:
        log = ClientLog(failed.append)
        line = "[thrd:ssl://localhost:29095/2]: ssl://localhost:29095/2: Disconnected (after 5ms)"
        log.log(logging.INFO, "%s [%s] %s", "FAIL", "chok#consumer-1", line)
        coordinator = "[thrd:GroupCoordinator]: GroupCoordinator: localhost:29093: Connect failed"
        log.log(logging.ERROR, "%s [%s] %s", "FAIL", "chok#consumer-1", coordinator)
        bootstrap = "[thrd:ssl://localhost:29093/bootstrap]: ssl://localhost:29093/bootstrap: x"
        log.log(logging.ERROR, "%s [%s] %s", "FAIL", "chok#consumer-1", bootstrap)
        log.log(logging.INFO, "%s [%s] %s", "METADATA", "chok#consumer-1", "ssl://h:1/3: ok")
    finally:
        LIBRDKAFKA_LOG.removeHandler(handler)
    assert failed == [2]
    assert len(seen) == 4 and seen[0].startswith("FAIL [chok#consumer-1]")


@dataclass
class _Partition:
    leader: int


@dataclass
class _Topic:
    partitions: dict[int, _Partition]


@dataclass
class _FakeCluster:
    """Answers list_topics with the next leader in a script (the last one repeats)."""

    leaders: list[int | None]
    asked: int = 0
    done: threading.Event = field(default_factory=threading.Event)

    def list_topics(self, timeout: float) -> Any:
        leader = self.leaders[min(self.asked, len(self.leaders) - 1)]
        self.asked += 1
        if self.asked >= len(self.leaders):
            self.done.set()
        if leader is None:
            raise RuntimeError("no broker answered")

        @dataclass
        class _Meta:
            topics: dict[str, _Topic]

        return _Meta({"chok-audio-1": _Topic({0: _Partition(leader)})})


def _watch(cluster: _FakeCluster, moved: threading.Event) -> LeaderWatch:
    creds = Credentials("h:1", Path("ca"), Path("c"), Path("k"))
    return LeaderWatch(creds, lambda: [("chok-audio-1", 0)], moved.set, admin=lambda: cluster)


@pytest.fixture(autouse=True)
def _fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(failover, "ASK_EVERY_S", 0.001)


def test_moved_once_the_dead_leader_is_replaced() -> None:
    cluster, moved = _FakeCluster([3, None, 3, -1, 1]), threading.Event()
    _watch(cluster, moved).broker_failed(3)
    assert moved.wait(5)
    assert cluster.asked == 5


def test_a_broker_that_did_not_lead_the_partition_changes_nothing() -> None:
    cluster, moved = _FakeCluster([1]), threading.Event()
    watch = _watch(cluster, moved)
    watch.broker_failed(3)
    assert cluster.done.wait(5)
    assert not moved.wait(0.2)


def test_closing_stops_a_watch() -> None:
    cluster, moved = _FakeCluster([3]), threading.Event()
    watch = _watch(cluster, moved)
    watch.close()
    watch.broker_failed(3)
    assert not moved.wait(0.2) and cluster.asked == 0


def test_a_producer_sending_through_the_outbox_follows_its_partitions_leader(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The outbox queues frames with ``enqueue``; its producer once watched only
    what ``produce`` had sent, so after a leader died it waited for librdkafka's
    one-second metadata tick (listeners heard ~1.2 s of silence, not ~0.5 s)."""
    from chok.kafka import producer

    cluster, moved = _FakeCluster([3, 3, 1]), threading.Event()
    logs: list[ClientLog] = []

    class _KeptLog(ClientLog):
        def __init__(self, on_failure: Any) -> None:
            super().__init__(on_failure)
            logs.append(self)

    monkeypatch.setattr(failover, "AdminClient", lambda _conf: cluster)
    monkeypatch.setattr(producer, "ClientLog", _KeptLog)
    monkeypatch.setattr(producer.RecordProducer, "_refresh_leaders", lambda _self: moved.set())
    creds = Credentials("127.0.0.1:1", Path("ca"), Path("c"), Path("k"), "PLAINTEXT")
    sender = producer.RecordProducer(creds, {"message.timeout.ms": 1000})
    try:
        assert sender.enqueue("chok-audio-1", b"ann", b"frame", None, 0, lambda *_: None)
        line = "[thrd:ssl://localhost:29095/3]: ssl://localhost:29095/3: Disconnected"
        logs[-1].log(logging.INFO, "%s [%s] %s", "FAIL", "chok#producer-1", line)
        assert moved.wait(5)
    finally:
        sender.close()


class _Future:
    def __init__(self, error: int | None) -> None:
        self._error = error

    def result(self, timeout: float) -> None:
        if self._error is not None:
            from confluent_kafka import KafkaError, KafkaException

            raise KafkaException(KafkaError(self._error))


class _DroppingCluster:
    """Answers an alter-config request with the given librdkafka error codes, in turn."""

    def __init__(self, *errors: int | None) -> None:
        self.errors, self.asked = list(errors), 0

    def incremental_alter_configs(self, resources: list[Any]) -> dict[Any, _Future]:
        error = self.errors[min(self.asked, len(self.errors) - 1)]
        self.asked += 1
        return {resources[0]: _Future(error)}


def _admin_on(cluster: _DroppingCluster) -> Any:
    from chok.kafka.admin import Admin

    admin = Admin(None, raw={"bootstrap.servers": "127.0.0.1:1"})
    admin._client = cluster
    return admin


def test_an_admin_request_whose_broker_was_dropped_is_sent_again() -> None:
    """A node fenced while busy creating partitions took `chok admin init`'s
    request with it ('Broker handle destroyed without termination')."""
    from confluent_kafka import KafkaError

    cluster = _DroppingCluster(KafkaError._DESTROY_BROKER, KafkaError._TRANSPORT, None)
    _admin_on(cluster).alter_topic_config("chok-metadata-1", {"min.insync.replicas": "2"})
    assert cluster.asked == 3


def test_an_admin_request_refused_by_the_cluster_is_not_sent_again() -> None:
    from confluent_kafka import KafkaError

    from chok.errors import ChokError

    cluster = _DroppingCluster(KafkaError.POLICY_VIOLATION)
    with pytest.raises(ChokError):
        _admin_on(cluster).alter_topic_config("chok-metadata-1", {"min.insync.replicas": "2"})
    assert cluster.asked == 1

"""The connection machine alone: a fake clock, a recorder of what it says."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from chok.channel.connection import ConnectionMachine, ConnState, ConnStatus

ADDRESS = "kafka.home:9093"


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Said:
    changes: list[ConnStatus] = field(default_factory=list)

    def __call__(self, status: ConnStatus) -> None:
        self.changes.append(status)

    @property
    def states(self) -> list[ConnState]:
        return [c.state for c in self.changes]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def said() -> Said:
    return Said()


@pytest.fixture
def machine(clock: FakeClock, said: Said) -> ConnectionMachine:
    return ConnectionMachine(ADDRESS, clock, said)


def test_starts_connecting_and_says_connected_on_the_first_answer(
    machine: ConnectionMachine, said: Said
) -> None:
    assert machine.state is ConnState.CONNECTING
    assert machine.attempt_due()
    machine.attempt_started()
    assert not machine.attempt_due()  # waiting for that answer
    machine.succeeded()
    assert said.states == [ConnState.CONNECTED]
    assert said.changes[0].text == f"Connected to the family's Kafka at {ADDRESS}"
    assert said.changes[0].detail is None


def test_a_connected_reader_probes_every_few_seconds(
    machine: ConnectionMachine, clock: FakeClock
) -> None:
    machine.attempt_started()
    machine.succeeded()
    clock.advance(2.9)
    assert not machine.attempt_due()
    clock.advance(0.2)
    assert machine.attempt_due()


def test_a_failure_reads_in_plain_words_with_kafkas_text_apart(
    machine: ConnectionMachine, clock: FakeClock, said: Said
) -> None:
    machine.succeeded()
    machine.attempt_started()
    clock.advance(1)
    kafka_text = "Failed to get watermark offsets: Broker: Not leader for partition"
    machine.failed(kafka_text)
    clock.advance(2)
    status = said.changes[-1]
    assert status.state is ConnState.RECONNECTING
    assert status.detail == kafka_text
    assert kafka_text not in status.text
    now = machine.describe()
    assert now.text == (
        f"Can't reach the family's Kafka at {ADDRESS} — retrying (last try 3 s ago)"
    )


def test_back_off_grows_to_its_longest_pause(machine: ConnectionMachine, clock: FakeClock) -> None:
    machine.succeeded()
    pauses = []
    for _ in range(7):
        machine.attempt_started()
        machine.failed("cannot reach the broker")
        waited = 0.0
        while not machine.attempt_due():
            clock.advance(0.5)
            waited += 0.5
        pauses.append(waited)
    assert pauses == [1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0]


def test_repeated_failures_say_reconnecting_once(machine: ConnectionMachine, said: Said) -> None:
    machine.succeeded()
    for _ in range(4):
        machine.failed("All broker connections are down")
    assert said.states == [ConnState.CONNECTED, ConnState.RECONNECTING]


def test_an_unanswered_attempt_fails_after_the_answer_timeout(
    machine: ConnectionMachine, clock: FakeClock, said: Said
) -> None:
    machine.succeeded()
    machine.attempt_started()  # a probe that hangs (a paused broker)
    clock.advance(4.9)
    machine.tick()
    assert machine.state is ConnState.CONNECTED
    clock.advance(0.2)
    machine.tick()
    assert machine.state is ConnState.RECONNECTING
    assert said.changes[-1].detail == f"no answer from {ADDRESS} in 5 s"
    assert not machine.awaiting_answer


def test_a_long_outage_is_offline_and_an_answer_ends_it(
    machine: ConnectionMachine, clock: FakeClock, said: Said
) -> None:
    machine.succeeded()
    machine.failed("cannot reach the broker")
    clock.advance(59)
    machine.tick()
    assert machine.state is ConnState.RECONNECTING
    clock.advance(1)
    machine.tick()
    assert machine.state is ConnState.OFFLINE
    assert machine.describe().text.startswith("Offline: can't reach the family's Kafka")
    assert machine.down_for() == pytest.approx(60)
    machine.succeeded()
    assert said.states == [
        ConnState.CONNECTED,
        ConnState.RECONNECTING,
        ConnState.OFFLINE,
        ConnState.CONNECTED,
    ]
    assert machine.down_for() == 0


def test_never_reaching_the_broker_goes_from_connecting_to_reconnecting(
    machine: ConnectionMachine, clock: FakeClock, said: Said
) -> None:
    machine.attempt_started()
    clock.advance(5)
    machine.tick()
    assert said.states == [ConnState.RECONNECTING]
    clock.advance(60)
    machine.tick()
    assert said.states == [ConnState.RECONNECTING, ConnState.OFFLINE]


def test_closed_ignores_everything(machine: ConnectionMachine, said: Said) -> None:
    machine.close()
    machine.succeeded()
    machine.failed("late error")
    machine.attempt_started()
    machine.tick()
    assert said.states == [ConnState.CLOSED]
    assert not machine.attempt_due()

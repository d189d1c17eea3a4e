"""The scan state machine alone, driven by a fake clock (no threads, no broker)."""

from __future__ import annotations

import pytest

from chok.channel.scan import HANG_S, ScanMachine, ScanSettings, Speaker, parse_channels


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def machine(clock: FakeClock, **settings: object) -> tuple[ScanMachine, list[tuple[int, str]]]:
    cuts: list[tuple[int, str]] = []
    channels = settings.pop("channels", (1, 2, 3))
    scan = ScanMachine(
        ScanSettings(channels, **settings),  # type: ignore[arg-type]
        clock,
        lambda channel, key: cuts.append((channel, key)),
    )
    return scan, cuts


def test_first_come_holds_the_speaker_others_are_shown_not_played(clock: FakeClock) -> None:
    scan, cuts = machine(clock)
    assert scan.started(1, "a", "alice")
    assert not scan.started(2, "b", "bob")  # the speaker is channel 1's
    assert scan.frame(1, "a") and not scan.frame(2, "b")
    assert scan.talkers(2) == ["bob"] and scan.active_channels() == [1, 2]
    assert scan.holder == 1 and scan.state is Speaker.HOLD
    assert scan.ended(1, "a")  # heard whole
    assert not scan.ended(2, "b")  # never played: unheard
    assert scan.missed(2) == 1 and scan.missed(1) == 0
    assert cuts == []


def test_everyone_on_the_holding_channel_is_heard(clock: FakeClock) -> None:
    scan, _ = machine(clock)
    assert scan.started(1, "a", "alice")
    assert scan.started(1, "c", "carol")  # talking over alice, same channel: mixed
    assert scan.ended(1, "a")
    assert scan.state is Speaker.HOLD  # carol still talks
    assert scan.ended(1, "c")
    assert scan.state is Speaker.HANG


def test_hang_time_keeps_the_channel_for_an_answer_then_frees_it(clock: FakeClock) -> None:
    scan, _ = machine(clock)
    scan.started(1, "a", "alice")
    scan.ended(1, "a")
    clock.advance(HANG_S / 2)
    assert not scan.started(2, "b", "bob")  # channel 1 still has the speaker
    assert scan.started(1, "r", "ron")  # the answer on channel 1 is heard
    scan.ended(1, "r")
    scan.ended(2, "b")
    clock.advance(HANG_S + 0.01)
    scan.tick()
    assert scan.state is Speaker.FREE and scan.holder is None
    assert scan.started(2, "b2", "bob")  # now channel 2 gets it


def test_a_transmission_under_way_is_not_joined_half_way(clock: FakeClock) -> None:
    scan, _ = machine(clock)
    scan.started(1, "a", "alice")
    scan.started(2, "b", "bob")
    scan.ended(1, "a")
    clock.advance(HANG_S + 1)
    scan.tick()
    assert scan.state is Speaker.FREE
    assert not scan.frame(2, "b")  # bob's was under way: not played from the middle
    assert not scan.ended(2, "b")


def test_the_priority_channel_interrupts_and_cannot_be_interrupted(clock: FakeClock) -> None:
    scan, cuts = machine(clock, priority=3)
    assert scan.started(1, "a", "alice")
    assert scan.started(3, "p", "pat")  # priority: takes the speaker mid-sentence
    assert cuts == [(1, "a")]
    assert not scan.frame(1, "a") and scan.frame(3, "p")
    assert not scan.ended(1, "a")  # cut off: unheard
    assert not scan.started(2, "b", "bob")
    scan.ended(3, "p")
    clock.advance(HANG_S / 2)
    assert not scan.started(1, "a2", "alice")  # the priority channel's hang time holds too
    assert scan.holder == 3


def test_a_muted_channel_is_shown_but_never_played(clock: FakeClock) -> None:
    scan, _ = machine(clock, muted=frozenset({2}))
    assert not scan.started(2, "b", "bob")
    assert scan.talkers(2) == ["bob"]
    assert scan.state is Speaker.FREE  # a muted channel does not take the speaker
    assert scan.started(1, "a", "alice")


def test_a_muted_priority_channel_does_not_interrupt(clock: FakeClock) -> None:
    scan, cuts = machine(clock, priority=3, muted=frozenset({3}))
    scan.started(1, "a", "alice")
    assert not scan.started(3, "p", "pat")
    assert cuts == [] and scan.frame(1, "a")


def test_muting_the_holder_cuts_it_off_at_once(clock: FakeClock) -> None:
    scan, cuts = machine(clock)
    scan.started(1, "a", "alice")
    scan.configure(scan.settings.with_muted(1, True))
    assert cuts == [(1, "a")] and not scan.frame(1, "a")
    assert scan.state is Speaker.FREE
    assert scan.started(2, "b", "bob")
    assert not scan.ended(1, "a")


def test_unmonitoring_a_channel_forgets_it(clock: FakeClock) -> None:
    scan, cuts = machine(clock)
    scan.started(2, "b", "bob")
    scan.configure(ScanSettings((1, 3)))
    assert cuts == [(2, "b")] and scan.state is Speaker.FREE
    assert not scan.started(2, "b2", "bob")  # not monitored: never played


def test_missed_counts_reset_when_looked_at(clock: FakeClock) -> None:
    scan, _ = machine(clock)
    scan.started(1, "a", "alice")
    for key in ("x", "y"):
        scan.started(2, key, "bob")
        scan.ended(2, key)
    assert scan.missed(2) == 2
    scan.reset_missed(2)
    assert scan.missed(2) == 0


def test_priority_must_be_monitored() -> None:
    with pytest.raises(ValueError, match="not monitored"):
        ScanSettings((1, 2), priority=3)


def test_parse_channels_all_numbers_and_mistakes() -> None:
    assert parse_channels(["all"], [1, 2, 5]) == (1, 2, 5)
    assert parse_channels(["2", "1", "2"], [1, 2]) == (2, 1)
    with pytest.raises(ValueError, match=r"not on channel 7 \(your channels: 1, 2\)"):
        parse_channels(["7"], [1, 2])
    with pytest.raises(ValueError, match="a channel number or 'all'"):
        parse_channels(["two"], [1, 2])


def test_a_stopped_listener_s_channel_stops_holding_the_speaker(clock: FakeClock) -> None:
    scan, cuts = machine(clock)
    scan.started(1, "a", "alice")  # and then channel 1's listener is closed mid-talk
    assert not scan.started(2, "b", "bob")
    scan.forget(1)
    assert scan.state is Speaker.FREE and scan.talkers(1) == []
    assert scan.started(2, "b2", "bob")  # not blocked forever by a talk that never ends
    assert cuts == []

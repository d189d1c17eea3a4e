"""Jitter buffer: target delay, reordering, gaps, late and duplicate frames, restarts."""

from __future__ import annotations

import pytest

from chok.audio import GAP, JitterBuffer


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(target_ms: int = 120, **kwargs: int) -> tuple[JitterBuffer[str], FakeClock]:
    clock = FakeClock()
    return JitterBuffer(60, target_ms, clock=clock, **kwargs), clock


def drain(jb: JitterBuffer[str], clock: FakeClock, ticks: int) -> list[object]:
    """Pop once per 60 ms tick, as the mixer does."""
    out: list[object] = []
    for _ in range(ticks):
        out.append(jb.pop())
        clock.now += 0.060
    return out


def test_nothing_plays_before_the_target_delay() -> None:
    jb, clock = make(120)
    jb.push(0, "a")
    assert jb.pop() is None
    clock.now += 0.119
    assert jb.pop() is None
    clock.now += 0.001
    assert jb.pop() == "a"


def test_frames_come_out_in_seq_order_whatever_the_arrival_order() -> None:
    jb, clock = make()
    for seq in (2, 0, 3, 1):
        jb.push(seq, f"f{seq}")
    clock.now += 0.120
    assert drain(jb, clock, 4) == ["f0", "f1", "f2", "f3"]


def test_a_frame_before_the_first_one_moves_the_start_earlier() -> None:
    jb, clock = make()
    jb.push(5, "f5")
    clock.now += 0.050
    jb.push(4, "f4")  # reordered, but playing has not begun
    clock.now += 0.070
    assert drain(jb, clock, 2) == ["f4", "f5"]


def test_a_missing_frame_is_a_gap_once_later_frames_are_here() -> None:
    jb, clock = make()
    for seq in (0, 1, 3):
        jb.push(seq, f"f{seq}")
    clock.now += 0.120
    assert drain(jb, clock, 4) == ["f0", "f1", GAP, "f3"]
    assert jb.stats.concealed == 1
    assert jb.stats.played == 3


def test_a_frame_after_its_turn_is_dropped() -> None:
    jb, clock = make()
    for seq in (0, 2):
        jb.push(seq, f"f{seq}")
    clock.now += 0.120
    assert drain(jb, clock, 2) == ["f0", GAP]
    assert jb.push(1, "f1") is False
    assert jb.stats.late == 1
    assert drain(jb, clock, 1) == ["f2"]


def test_duplicates_are_dropped() -> None:
    jb, clock = make()
    assert jb.push(0, "a") is True
    assert jb.push(0, "again") is False
    assert jb.stats.duplicates == 1
    clock.now += 0.120
    assert drain(jb, clock, 2) == ["a", None]


def test_running_dry_waits_then_buffers_again() -> None:
    jb, clock = make()
    jb.push(0, "f0")
    clock.now += 0.120
    assert drain(jb, clock, 2) == ["f0", None]
    assert jb.stats.underruns == 1
    assert jb.idle
    jb.push(1, "f1")  # the talker goes on: wait target delay again, no gap
    assert drain(jb, clock, 3) == [None, None, "f1"]


def test_frames_without_seq_play_in_arrival_order() -> None:
    jb, clock = make(0)
    for name in ("a", "b", "c"):
        jb.push(None, name)
    assert drain(jb, clock, 4) == ["a", "b", "c", None]


def test_a_new_stream_restarting_its_numbers_is_not_late() -> None:
    jb, clock = make(0)
    for seq in range(100, 103):
        jb.push(seq, f"old{seq}")
    assert drain(jb, clock, 4) == ["old100", "old101", "old102", None]
    jb.push(0, "new0")  # the talker's next transmission starts at 0
    jb.push(1, "new1")
    assert drain(jb, clock, 2) == ["new0", "new1"]
    assert jb.stats.late == 0


def test_a_jump_forward_while_idle_does_not_play_a_long_gap() -> None:
    jb, clock = make(0)
    jb.push(0, "a")
    assert drain(jb, clock, 2) == ["a", None]
    jb.push(500, "b")
    assert drain(jb, clock, 1) == ["b"]


def test_a_short_jump_forward_while_idle_plays_the_lost_frames_as_gaps() -> None:
    jb, clock = make(0)
    jb.push(0, "a")
    assert drain(jb, clock, 2) == ["a", None]
    jb.push(3, "d")
    assert drain(jb, clock, 3) == [GAP, GAP, "d"]


def test_more_than_max_delay_waiting_drops_the_oldest() -> None:
    jb, clock = make(0, max_delay_ms=300)  # 5 frames
    for seq in range(8):
        jb.push(seq, f"f{seq}")
    assert jb.buffered == 5
    assert jb.stats.overflowed == 3
    assert drain(jb, clock, 5) == ["f3", "f4", "f5", "f6", "f7"]


def test_bad_delays_are_refused() -> None:
    with pytest.raises(ValueError):
        JitterBuffer(60, 500, max_delay_ms=100)

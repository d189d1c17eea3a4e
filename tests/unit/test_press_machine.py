"""The press machine on a fake clock with a fake microphone (magic-wormhole's
test_machines.py style: inputs are calls, outputs are recorded in order)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np
import pytest

from chok.audio.base import TimedBlock
from chok.channel.press import PressMachine, PressState, PressTiming

F = 0.060  # one frame
S = PressState


def blk(start: float) -> TimedBlock:
    return TimedBlock(start, np.zeros(2880, dtype=np.int16))


@dataclass
class Effects:
    """Records every output; keeps the blocks of each transmission."""

    events: list[tuple[object, ...]] = field(default_factory=list)
    transmissions: list[list[TimedBlock]] = field(default_factory=list)
    finished: int = 0

    def start_capture(self, since: float) -> None:
        self.events.append(("start_capture", round(since, 3)))

    def stop_capture(self) -> None:
        self.events.append(("stop_capture",))

    def start_transmission(self) -> None:
        self.events.append(("start_transmission",))
        self.transmissions.append([])

    def send(self, block: TimedBlock) -> None:
        self.events.append(("send", round(block.start, 3)))
        self.transmissions[-1].append(block)

    def finish_transmission(self) -> None:
        self.events.append(("finish_transmission",))
        self.finished += 1

    def permit(self) -> None:
        self.events.append(("permit",))

    def state_changed(self, state: PressState) -> None:
        self.events.append(("state", state.value))

    def failed(self, message: str) -> None:
        self.events.append(("failed", message))

    def note(self, message: str) -> None:
        self.events.append(("note", message))

    def take(self) -> list[tuple[object, ...]]:
        taken, self.events = self.events, []
        return taken

    def spans(self) -> list[tuple[float, float]]:
        return [(t[0].start, t[-1].end) if t else (0.0, 0.0) for t in self.transmissions]


def build(**timing: float | None) -> tuple[PressMachine, Effects]:
    fx = Effects()
    return PressMachine(fx, PressTiming(**timing)), fx  # type: ignore[arg-type]


# -- the machine alone, step by step ----------------------------------------------


def test_a_simple_hold_step_by_step() -> None:
    m, fx = build()
    m.press(10.0)
    assert fx.take() == [
        ("start_transmission",),
        ("state", "arming"),
        ("start_capture", 9.7),  # the pre-roll: 300 ms from before the press
    ]
    m.audio(blk(9.64))  # ends before the pre-roll: not kept
    m.audio(blk(9.70))
    assert fx.take() == [("send", 9.7), ("state", "talking"), ("permit",)]
    m.audio(blk(9.76))
    assert fx.take() == [("send", 9.76)]
    m.release(12.0)
    assert fx.take() == [("state", "releasing")]
    assert m.deadline == pytest.approx(12.2)
    m.audio(blk(11.98))  # covers the release instant: part of the hold
    m.audio(blk(12.04))  # after it: held back in case the press continues
    m.tick(12.1)
    assert fx.take() == [("send", 11.98)]
    m.tick(12.2)
    assert fx.take() == [("stop_capture",), ("finish_transmission",), ("state", "done")]
    assert m.deadline is None


def test_the_permit_waits_for_the_microphone() -> None:
    m, fx = build()
    m.press(0.0)
    fx.take()
    m.tick(1.5)
    assert m.state is S.ARMING and ("permit",) not in fx.events
    m.audio(blk(1.5))
    assert fx.take() == [("send", 1.5), ("state", "talking"), ("permit",)]


def test_a_press_in_the_rejoin_window_continues_the_hold_and_sends_what_was_held_back() -> None:
    m, fx = build()
    m.press(0.0)
    m.audio(blk(0.0))
    m.release(1.0)
    m.audio(blk(1.02))  # after the release: held back
    fx.take()
    m.press(1.15)
    assert fx.take() == [("send", 1.02), ("state", "talking")]  # no second permit
    assert fx.finished == 0


def test_draining_waits_for_the_block_that_covers_the_release() -> None:
    m, fx = build()
    m.press(0.0)
    m.audio(blk(0.0))
    m.release(0.1)
    m.tick(0.31)  # window over; the block covering 0.1 has not come yet
    assert m.state is S.DRAINING
    fx.take()
    m.audio(blk(0.06))
    assert fx.take() == [
        ("send", 0.06),
        ("stop_capture",),
        ("finish_transmission",),
        ("state", "done"),
    ]


def test_a_press_while_draining_starts_the_next_hold_after_this_one() -> None:
    m, fx = build()
    m.press(0.0)
    m.audio(blk(0.0))
    m.release(0.1)
    m.tick(0.31)
    m.press(0.5)  # after the window: a new hold, queued behind the drain
    fx.take()
    m.audio(blk(0.06))
    assert fx.take() == [
        ("send", 0.06),
        ("stop_capture",),
        ("finish_transmission",),
        ("state", "done"),
        ("start_transmission",),
        ("state", "arming"),
        ("start_capture", 0.2),
    ]
    m.audio(blk(0.06))  # already sent in the first hold: not sent twice
    m.audio(blk(0.12))  # ends before the new hold's pre-roll (0.2)
    m.audio(blk(0.18))
    assert fx.take() == [("send", 0.18), ("state", "talking"), ("permit",)]


def test_the_microphone_failing_sends_what_was_said_and_says_why() -> None:
    m, fx = build()
    m.press(0.0)
    m.audio(blk(0.0))
    fx.take()
    m.mic_failed("the sound input device stopped")
    assert fx.take() == [
        ("stop_capture",),
        ("finish_transmission",),
        ("state", "done"),
        ("failed", "the sound input device stopped"),
    ]


def test_no_sound_at_all_is_a_microphone_problem() -> None:
    m, fx = build(arm_timeout_s=5.0)
    m.press(0.0)
    fx.take()
    m.tick(4.9)
    assert fx.take() == []
    m.tick(5.0)
    assert fx.take() == [
        ("stop_capture",),
        ("finish_transmission",),
        ("state", "done"),
        ("failed", "the microphone gave no sound for 5 s"),
    ]


def test_a_stuck_key_ends_at_the_maximum_hold() -> None:
    m, fx = build(max_hold_s=2.0)
    m.press(0.0)
    m.audio(blk(0.0))
    fx.take()
    m.tick(2.0)
    assert fx.take()[0] == ("note", "held for 2 s: sent (the limit of one hold)")
    assert m.state is S.DRAINING and m.released_at == pytest.approx(2.0 + m.timing.tail_s)


def test_a_file_that_ends_completes_the_hold() -> None:
    m, fx = build()
    m.press(0.0)
    m.audio(blk(0.0))
    fx.take()
    m.input_ended()
    assert fx.take() == [("stop_capture",), ("finish_transmission",), ("state", "done")]


def test_stop_ends_a_hold_at_once() -> None:
    m, fx = build()
    m.press(0.0)
    m.audio(blk(0.0))
    m.audio(blk(0.06))
    fx.take()
    m.stop(0.1)
    assert fx.take() == [("stop_capture",), ("finish_transmission",), ("state", "done")]


def test_inputs_with_nothing_held_do_nothing() -> None:
    m, fx = build()
    m.release(1.0)
    m.focus_lost(1.0)
    m.audio(blk(1.0))
    m.mic_failed("x")
    m.input_ended()
    m.tick(100.0)
    assert fx.events == [] and m.state is S.IDLE


# -- a fake world: key events, a fake microphone, the fake clock ----------------------


@dataclass
class Mic:
    """A microphone on the fake clock: 60 ms blocks, each delivered ``latency``
    after it ends. ``keep_open``: it runs from time 0 (a capture kept open, so
    a press finds the pre-roll in its ring); otherwise it starts at each
    ``start_capture`` and gives its first block ``wake_s`` later."""

    keep_open: bool = True
    wake_s: float = 0.0
    latency: float = 0.02
    stalls_at: float | None = None  # no block captured after this time


class World(Effects):
    def __init__(self, mic: Mic, **timing: float | None) -> None:
        super().__init__()
        self.mic = mic
        self.machine = PressMachine(self, PressTiming(**timing))  # type: ignore[arg-type]
        self.now = 0.0
        self.capturing = False
        self.next_start = 0.0  # capture time of the next block to deliver

    def start_capture(self, since: float) -> None:
        super().start_capture(since)
        self.capturing = True
        if self.mic.keep_open:
            # The ring holds the blocks captured so far: deliver from since on.
            self.next_start = max(0.0, np.floor(since / F) * F)
        else:
            self.next_start = self.now + self.mic.wake_s

    def stop_capture(self) -> None:
        super().stop_capture()
        self.capturing = False

    def _next_delivery(self) -> float | None:
        if not self.capturing:
            return None
        if self.mic.stalls_at is not None and self.next_start >= self.mic.stalls_at:
            return None
        return max(self.now, self.next_start + F + self.mic.latency)

    def run(self, keys: list[tuple[float, str]], until: float = 60.0) -> World:
        keys = sorted(keys, key=lambda k: k[0])
        while True:
            due = [t for t in (self._next_delivery(), self.machine.deadline) if t is not None]
            if keys:
                due.append(keys[0][0])
            if not due or min(due) > until:
                return self
            self.now = min(due)
            if keys and keys[0][0] == self.now:
                getattr(self.machine, keys.pop(0)[1])(self.now)
            elif self._next_delivery() == self.now:
                block = blk(self.next_start)
                self.next_start += F
                self.machine.audio(block)
            self.machine.tick(self.now)


def auto_repeat(
    pressed: float, released: float, misflag: float = 1.0, seed: int = 1
) -> list[tuple[float, str]]:
    """Space held from ``pressed`` to ``released`` as X11 sends it: after a 500 ms
    delay, a release+press pair 0-5 ms apart every 33-40 ms. Qt flags a repeat
    as such except with probability ``misflag``; the app ignores flagged
    releases (and passes every press on), so only misflagged pairs reach the
    machine as release+press."""
    rng = random.Random(seed)
    keys = [(pressed, "press")]
    t = pressed + 0.5
    while t < released - 0.04:
        gap = rng.uniform(0, 0.005)
        if rng.random() < misflag:
            keys.append((t, "release"))
        keys.append((t + gap, "press"))
        t += rng.uniform(0.033, 0.040)
    keys.append((released, "release"))
    return keys


def covers(span: tuple[float, float], pressed: float, released: float) -> bool:
    return span[0] <= pressed + 1e-9 and span[1] >= released - 1e-9


def test_x11_auto_repeat_is_one_hold_that_covers_press_to_release() -> None:
    w = World(Mic()).run(auto_repeat(2.0, 6.0))
    assert w.finished == 1 and len(w.transmissions) == 1
    assert covers(w.spans()[0], 2.0, 6.0)
    assert w.transmissions[0][-1].start < 6.0  # nothing said after the release


@pytest.mark.parametrize("misflag", [0.0, 0.45, 1.0])
def test_misflagged_repeats_never_split_the_hold(misflag: float) -> None:
    w = World(Mic()).run(auto_repeat(2.0, 6.0, misflag, seed=7))
    assert len(w.transmissions) == 1
    assert covers(w.spans()[0], 2.0, 6.0)


def test_a_slow_repeat_pair_still_joins() -> None:
    """A pair delivered late by a busy X server (150 ms apart) is one hold still."""
    keys = [(1.0, "press"), (2.0, "release"), (2.15, "press"), (3.0, "release")]
    w = World(Mic()).run(keys)
    assert len(w.transmissions) == 1 and covers(w.spans()[0], 1.0, 3.0)


def test_focus_lost_and_back_with_the_key_still_down_is_one_hold() -> None:
    keys = [*auto_repeat(1.0, 2.0)[:-1], (2.0, "focus_lost")]
    # The key is still down when focus comes back 300 ms later: repeats resume.
    keys += [(k[0] + 0.8, k[1]) for k in auto_repeat(1.0, 3.0)[1:]]
    w = World(Mic()).run(keys)
    assert len(w.transmissions) == 1
    assert covers(w.spans()[0], 1.0, 3.8)


def test_focus_lost_for_good_ends_the_hold_at_the_moment_focus_went() -> None:
    keys = [*auto_repeat(1.0, 2.5)[:-1], (2.5, "focus_lost")]
    w = World(Mic()).run(keys)
    assert len(w.transmissions) == 1
    start, end = w.spans()[0]
    assert start <= 1.0 and 2.5 <= end < 2.5 + F + 1e-9


def test_a_real_quick_double_press_within_the_window_is_one_hold() -> None:
    keys = [(1.0, "press"), (2.0, "release"), (2.12, "press"), (3.0, "release")]
    w = World(Mic(), rejoin_s=0.2).run(keys)
    assert len(w.transmissions) == 1


def test_two_presses_apart_are_two_transmissions_without_repeated_audio() -> None:
    keys = [(1.0, "press"), (2.0, "release"), (2.4, "press"), (3.0, "release")]
    w = World(Mic()).run(keys)
    assert len(w.transmissions) == 2
    first, second = w.spans()
    assert covers(first, 1.0, 2.0) and covers(second, 2.4, 3.0)
    assert second[0] >= first[1] - 1e-9  # the second pre-roll starts where the first ended


def test_a_kept_open_microphone_gives_the_pre_roll() -> None:
    w = World(Mic(keep_open=True)).run([(5.0, "press"), (7.0, "release")])
    start, _ = w.spans()[0]
    assert 4.7 - F < start <= 4.7


def test_a_slow_waking_microphone_says_arming_until_it_delivers() -> None:
    w = World(Mic(keep_open=False, wake_s=2.0)).run([(1.0, "press"), (5.0, "release")])
    states = [e[1] for e in w.events if e[0] == "state"]
    assert states[:2] == ["arming", "talking"]
    permit_at = w.events.index(("permit",))
    first_send = next(i for i, e in enumerate(w.events) if e[0] == "send")
    assert first_send < permit_at  # the permit follows real audio, never precedes it
    start, end = w.spans()[0]
    assert start == pytest.approx(3.0) and end >= 5.0


def test_a_release_before_any_audio_sends_what_was_captured_before_it() -> None:
    """Released while the microphone was still starting; it then delivers blocks
    captured before the release (a wake burst): those are the hold."""
    w = World(Mic(keep_open=False, wake_s=0.05, latency=0.5))
    w.run([(1.0, "press"), (1.2, "release")])
    assert ("permit",) not in w.events  # never told to talk: the press was over
    [blocks] = w.transmissions
    assert [round(b.start, 2) for b in blocks] == [1.05, 1.11, 1.17]


def test_a_release_before_a_microphone_that_wakes_later_sends_nothing() -> None:
    w = World(Mic(keep_open=False, wake_s=1.0)).run([(1.0, "press"), (1.2, "release")])
    assert w.transmissions == [[]] and w.finished == 1
    assert ("permit",) not in w.events
    assert w.machine.state is S.DONE


def test_a_slow_microphone_at_release_is_drained_not_cut() -> None:
    """300 ms between capture and delivery: the release's block still comes."""
    w = World(Mic(latency=0.3)).run([(1.0, "press"), (3.0, "release")])
    assert "draining" in [e[1] for e in w.events if e[0] == "state"]
    assert covers(w.spans()[0], 1.0, 3.0)


def test_a_microphone_that_stalls_at_release_is_sent_after_the_drain_timeout() -> None:
    w = World(Mic(stalls_at=2.5), drain_timeout_s=1.0).run([(1.0, "press"), (3.0, "release")])
    assert w.finished == 1
    assert w.spans()[0][1] == pytest.approx(2.52, abs=0.05)


def test_talk_for_exactly_three_seconds_of_audio() -> None:
    w = World(Mic(keep_open=False, wake_s=0.7), audio_limit_s=3.0).run([(0.0, "press")])
    [blocks] = w.transmissions
    assert len(blocks) == 50 and w.finished == 1


def test_the_hold_runs_past_the_release_by_the_codec_s_lookahead() -> None:
    """Opus keeps back the last 6.5 ms it is given: a block starting just after
    the release instant still goes out, so the last word is whole on the wire."""
    m, fx = build(tail_s=0.01)
    m.press(0.0)
    m.audio(blk(0.0))
    m.release(0.055)
    m.audio(blk(0.06))  # starts 5 ms after the release
    m.audio(blk(0.12))
    assert [e for e in fx.take() if e[0] == "send"] == [("send", 0.0), ("send", 0.06)]


def test_talking_for_a_time_counts_audio_even_when_capture_times_jump() -> None:
    """A fresh PulseAudio stream's first blocks come in a burst whose times skip."""
    m, fx = build(audio_limit_s=3.0)
    m.press(0.0)
    starts = [0.1, 0.16, 0.34, 0.4, 0.58] + [0.64 + i * F for i in range(60)]
    for start in starts:
        m.audio(blk(start))
    assert len(fx.transmissions[0]) == 50 and fx.finished == 1

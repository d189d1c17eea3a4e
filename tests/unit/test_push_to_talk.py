"""The press runtime with real threads and time: a fake microphone, a fake sink.

(The machine's own rules are in test_press_machine.py on a fake clock; here
the runtime must deliver them: timestamps, the capture's ring, draining, the
permit after real audio, and sending that never holds up the next press.)
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np
import pytest

from chok.audio.base import ArrayInput
from chok.channel.capture import Capture
from chok.channel.press import PressTiming
from chok.channel.push_to_talk import Phase, PressCallbacks, PushToTalk, talk_once
from chok.channel.talk import TalkResult
from chok.codec import Pcm
from chok.errors import AudioDeviceError
from tests.audio_fakes import FakeMicrophone, ramp

F = 0.06


@dataclass
class FakeSink:
    frames: list[Pcm] = field(default_factory=list)
    release: threading.Event | None = None  # end() waits for it when set
    frame_ms: int = 60
    tx_id: str = "0000abcd"

    @property
    def frames_sent(self) -> int:
        return len(self.frames)

    @property
    def values(self) -> list[int]:
        return [int(f[0]) for f in self.frames]

    def send_pcm(self, pcm: Pcm) -> None:
        self.frames.append(pcm)

    def end(self, timeout: float = 15.0) -> TalkResult:
        if self.release is not None:
            assert self.release.wait(timeout)
        return TalkResult(None, len(self.frames), 0, self.tx_id)


@dataclass
class Recording:
    sinks: list[FakeSink] = field(default_factory=list)
    phases: list[Phase] = field(default_factory=list)
    events: list[tuple[str, float]] = field(default_factory=list)
    results: list[TalkResult] = field(default_factory=list)
    permitted: threading.Event = field(default_factory=threading.Event)
    slow_end: threading.Event | None = None

    def new_sink(self) -> FakeSink:
        self.sinks.append(FakeSink(release=self.slow_end))
        return self.sinks[-1]

    def callbacks(self) -> PressCallbacks:
        def permit() -> None:
            self.events.append(("permit", time.monotonic()))
            self.permitted.set()

        return PressCallbacks(phase=self.phases.append, permit=permit, sent=self.results.append)


def wait_until(condition, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.005)  # polling another thread's progress


def hold(seconds: float) -> None:
    time.sleep(seconds)  # the person holds the button this long (the test's input)


def test_a_file_is_sent_whole_in_order() -> None:
    rec = Recording()
    capture = Capture(lambda: ArrayInput(ramp(20)))
    result = talk_once(capture, rec.new_sink, rec.callbacks())
    assert rec.sinks[0].values == list(range(1, 21)) and result.frames == 20


def test_talking_for_a_time_sends_exactly_that_much_audio() -> None:
    rec = Recording()
    capture = Capture(lambda: FakeMicrophone(ramp()))
    result = talk_once(capture, rec.new_sink, timing=PressTiming(audio_limit_s=0.6))
    assert result.frames == 10


def test_a_kept_open_microphone_gives_the_pre_roll_and_the_release_is_drained() -> None:
    rec = Recording()
    mic = FakeMicrophone(ramp(400))
    capture = Capture(lambda: mic, keep_open=True)
    capture.open()
    wait_until(lambda: capture.buffered_s >= 0.5)
    ptt = PushToTalk(capture, rec.new_sink, rec.callbacks()).start()
    pressed = time.monotonic()
    ptt.press(pressed)
    assert rec.permitted.wait(5)
    assert rec.events[0][1] - pressed < 0.05  # warm: the permit comes at once
    hold(0.4)
    released = time.monotonic()
    ptt.release(released)
    assert ptt.wait_idle(5)
    ptt.close()
    starts = [mic.t0 + (v - 1) * F for v in rec.sinks[0].values]
    assert np.allclose(np.diff(starts), F)  # whole, in order
    assert pressed - 0.3 - F < starts[0] <= pressed - 0.3 + 1e-6  # 300 ms of pre-roll
    assert starts[-1] < released <= starts[-1] + F  # up to the block of the release, no more
    assert rec.phases[:2] == [Phase.ARMING, Phase.TALKING] and rec.phases[-1] is Phase.IDLE


def test_a_slow_waking_microphone_says_starting_until_it_delivers() -> None:
    rec = Recording()
    mic = FakeMicrophone(ramp(), wake_s=0.4)
    ptt = PushToTalk(Capture(lambda: mic), rec.new_sink, rec.callbacks()).start()
    pressed = time.monotonic()
    ptt.press(pressed)
    assert rec.permitted.wait(5)
    permit_at = rec.events[0][1]
    assert permit_at - pressed >= 0.4 + F  # no permit before the first real block
    assert rec.phases[:2] == [Phase.ARMING, Phase.TALKING]
    ptt.release()
    assert ptt.wait_idle(5)
    ptt.close()
    assert rec.sinks[0].values[0] == 1 and mic.t0 >= pressed + 0.4


def test_a_failing_microphone_sends_what_was_said_then_raises() -> None:
    rec = Recording()
    capture = Capture(lambda: FakeMicrophone(ramp(), fail_after_s=0.27))
    with pytest.raises(AudioDeviceError, match="stopped delivering"):
        talk_once(capture, rec.new_sink, rec.callbacks())
    assert rec.sinks[0].values == [1, 2, 3, 4, 5] and len(rec.results) == 1


def test_sending_the_last_one_never_holds_up_the_next_press() -> None:
    rec = Recording(slow_end=threading.Event())
    capture = Capture(lambda: FakeMicrophone(ramp(400)), keep_open=True)
    capture.open()
    ptt = PushToTalk(capture, rec.new_sink, rec.callbacks(), PressTiming(rejoin_s=0.05)).start()
    ptt.press()
    assert rec.permitted.wait(5)
    ptt.release()
    wait_until(lambda: ptt.phase is Phase.SENDING and len(rec.sinks) == 1)
    wait_until(lambda: not ptt.holding)
    rec.permitted.clear()
    ptt.press()  # the first one's end() is still blocked
    assert rec.permitted.wait(5) and ptt.phase is Phase.TALKING
    ptt.release()
    assert rec.slow_end is not None
    rec.slow_end.set()
    assert ptt.wait_idle(5)
    ptt.close()
    assert len(rec.results) == 2


def test_auto_repeat_through_the_runtime_is_one_transmission() -> None:
    rec = Recording()
    capture = Capture(lambda: FakeMicrophone(ramp(400)), keep_open=True)
    capture.open()
    ptt = PushToTalk(capture, rec.new_sink, rec.callbacks()).start()
    ptt.press()
    for _ in range(10):
        hold(0.035)
        ptt.release()  # a misflagged repeat: release, then press 3 ms later
        hold(0.003)
        ptt.press()
    ptt.release()
    assert ptt.wait_idle(5)
    ptt.close()
    assert len(rec.sinks) == 1 and len(rec.results) == 1


def test_a_slow_waking_wrapper_loses_what_the_device_captured_while_waking() -> None:
    from chok.bench.press import SlowWakeInput

    slow = SlowWakeInput(FakeMicrophone(ramp()), wake_s=0.2)
    slow.start()
    first = slow.read_block(1.0)
    assert first is not None and int(first.pcm[0]) == 5  # frames 1-4 were never heard
    slow.stop()

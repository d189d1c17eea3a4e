"""Push to talk, live: the press machine driven by real time, a capture and a
transmission sink. The CLI, the desktop app, the demo and the benchmarks are
thin adapters over this.

``press()``, ``release()`` and ``focus_lost()`` return at once (any thread):
each is stamped with the time it was called and queued for the runtime's
thread, which also receives the capture's blocks and keeps the machine's
timers. Ending a transmission runs on a thread of its own, so the next press
is never held up by the last one's delivery: a sink with ``finish()`` (chok's
``Talker``) hands its transmission to the durable outbox at once (the press is
over: "sending" ends) and the runtime then waits for the broker as long as it
takes, telling the adapter through ``delivering`` (to show "queued") and
``sent``; a sink with only ``end()`` is waited for with a timeout.
Callbacks run on the runtime's threads: adapters hand them to their own.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol

from chok.audio.base import TimedBlock
from chok.audio.meter import measure
from chok.channel.capture import Capture
from chok.channel.delivery import Delivery
from chok.channel.press import ACTIVE, HELD, PressMachine, PressState, PressTiming
from chok.channel.talk import TalkResult
from chok.codec import Pcm
from chok.errors import AudioDeviceError, ChokError

Clock = Callable[[], float]


class TransmissionSink(Protocol):
    """One transmission (chok's ``Talker``, or anything with its public face)."""

    tx_id: str

    @property
    def frames_sent(self) -> int: ...

    def send_pcm(self, pcm: Pcm) -> None: ...

    def end(self, timeout: float = ...) -> TalkResult: ...


SinkFactory = Callable[[], TransmissionSink]


class Phase(StrEnum):
    """What the person sees."""

    IDLE = "idle"
    ARMING = "arming"  # "microphone starting…"
    TALKING = "talking"
    SENDING = "sending"  # released: the end of it is on its way


@dataclass
class PressCallbacks:
    """What the runtime tells its adapter (all optional; called on runtime threads)."""

    phase: Callable[[Phase], None] | None = None
    permit: Callable[[], None] | None = None  # the microphone delivers: play the permit cue
    audio: Callable[[float, int], None] | None = None  # level dBFS, ms said so far
    sent: Callable[[TalkResult], None] | None = None
    failed: Callable[[ChokError], None] | None = None  # AudioDeviceError: the microphone
    # Released and in the outbox: watch it (queued while the broker is away).
    delivering: Callable[[Delivery], None] | None = None
    note: Callable[[str], None] | None = None


class _Stop:
    pass


_STOP = _Stop()
_Item = tuple[str, float] | TimedBlock | ChokError | _Stop | str


class _CaptureSink:
    """The capture's deliveries, queued for the runtime's thread."""

    def __init__(self, items: queue.SimpleQueue[_Item]) -> None:
        self._items = items

    def block(self, block: TimedBlock) -> None:
        self._items.put(block)

    def error(self, error: ChokError) -> None:
        self._items.put(error)

    def ended(self) -> None:
        self._items.put("ended")


class PushToTalk:
    def __init__(
        self,
        capture: Capture,
        new_sink: SinkFactory,
        callbacks: PressCallbacks | None = None,
        timing: PressTiming | None = None,
        clock: Clock = time.monotonic,
        end_timeout: float = 15.0,
    ) -> None:
        self.capture = capture
        self._new_sink = new_sink
        self._cb = callbacks or PressCallbacks()
        self._clock = clock
        self._end_timeout = end_timeout
        self._items: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self.machine = PressMachine(self, timing)
        self._sink: TransmissionSink | None = None
        self._frame_ms = 60
        self._error: ChokError | None = None  # the capture's own error, for ``failed``
        self._ending = 0  # transmissions being ended (not yet in the outbox)
        self._delivering = 0  # in the outbox, not yet acknowledged by the broker
        self._unhandled = 0  # commands queued but not handled yet
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._show_lock = threading.Lock()
        self.phase = Phase.IDLE
        self._thread = threading.Thread(target=self._run, name="chok-press", daemon=True)
        self._started = False

    # -- the adapter's side (any thread) ---------------------------------------------

    def start(self) -> PushToTalk:
        if not self._started:
            self._started = True
            self._thread.start()
        return self

    def press(self, at: float | None = None) -> None:
        self._command("press", at)

    def release(self, at: float | None = None) -> None:
        self._command("release", at)

    def focus_lost(self, at: float | None = None) -> None:
        self._command("focus_lost", at)

    def stop(self, at: float | None = None) -> None:
        """End a hold now, without waiting for a rejoin (Ctrl-C)."""
        self._command("stop", at)

    def _command(self, name: str, at: float | None) -> None:
        with self._lock:
            self._unhandled += 1  # wait_idle must not return before it is handled
        self._items.put((name, self._clock() if at is None else at))

    @property
    def holding(self) -> bool:
        """A hold is on (a press now continues it rather than starting a new one)."""
        return self.machine.state in (*HELD, PressState.RELEASING)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no hold is on and every transmission has been ended."""
        with self._idle:
            return self._idle.wait_for(
                lambda: self.phase is Phase.IDLE and not self._unhandled, timeout
            )

    def wait_delivered(self, timeout: float | None = None) -> bool:
        """Wait until every transmission handed over has been sent (or failed)."""
        with self._idle:
            return self._idle.wait_for(
                lambda: self.phase is Phase.IDLE and not self._unhandled and not self._delivering,
                timeout,
            )

    def close(self, timeout: float = 15.0) -> None:
        """End a hold (what was said is sent), wait for the sending, stop."""
        if self._started:
            self.stop()
            self.wait_idle(timeout)
            self._items.put(_STOP)
            self._thread.join(timeout)
        self.capture.close()

    # -- the runtime's thread ------------------------------------------------------------

    def _run(self) -> None:
        while True:
            deadline = self.machine.deadline
            wait = None if deadline is None else max(0.0, deadline - self._clock())
            try:
                item = self._items.get(timeout=wait)
            except queue.Empty:
                item = None
            if isinstance(item, _Stop):
                return
            if item is not None:
                self._handle(item)
            while True:  # everything already queued goes before the timers
                try:
                    item = self._items.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, _Stop):
                    return
                self._handle(item)
            self._safely(lambda: self.machine.tick(self._clock()))

    def _handle(self, item: _Item) -> None:
        if isinstance(item, TimedBlock):
            block = item
            self._safely(lambda: self.machine.audio(block))
        elif isinstance(item, ChokError):
            self._fail(item)
        elif item == "ended":
            self.machine.input_ended()
        elif isinstance(item, tuple):
            name, at = item
            self._safely(lambda: getattr(self.machine, name)(at))
            with self._lock:
                self._unhandled -= 1
                self._idle.notify_all()

    def _safely(self, step: Callable[[], None]) -> None:
        """A failing sink (it cannot connect, encode or produce) ends the hold, not
        the runtime; what was said is still sent."""
        try:
            step()
        except ChokError as exc:
            self._fail(exc)
        except Exception as exc:  # a bug must not leave a hold stuck: say it, send the rest
            self._fail(ChokError(f"talking failed: {type(exc).__name__}: {exc}"))

    def _fail(self, error: ChokError) -> None:
        if self.machine.state in ACTIVE:
            self._error = error
            self.machine.mic_failed(str(error))
        elif self._cb.failed is not None:  # failed before the hold began
            self._cb.failed(error)

    # -- PressEffects: what the machine asks (on the runtime's thread) ---------------------

    def start_capture(self, since: float) -> None:
        self._error = None
        self.capture.arm(since, _CaptureSink(self._items))

    def stop_capture(self) -> None:
        self.capture.disarm()

    def start_transmission(self) -> None:
        self._sink = self._new_sink()
        self._frame_ms = int(getattr(self._sink, "frame_ms", 60))

    def send(self, block: TimedBlock) -> None:
        assert self._sink is not None
        self._sink.send_pcm(block.pcm)
        if self._cb.audio is not None:
            self._cb.audio(measure(block.pcm).rms_dbfs, self._sink.frames_sent * self._frame_ms)

    def finish_transmission(self) -> None:
        sink, self._sink = self._sink, None
        if sink is None:
            return
        with self._lock:
            self._ending += 1
        threading.Thread(target=self._end, args=(sink,), name="chok-send", daemon=True).start()

    def _end(self, sink: TransmissionSink) -> None:
        handed_over = False
        try:
            finish = getattr(sink, "finish", None)
            if finish is None:
                result = sink.end(self._end_timeout)
            else:
                delivery: Delivery = finish()
                with self._lock:
                    self._ending -= 1
                    self._delivering += 1
                handed_over = True
                self._show()  # the press is over; the outbox has it
                if self._cb.delivering is not None:
                    self._cb.delivering(delivery)
                delivery.wait()  # as long as the broker is away
                result = delivery.result()
        except ChokError as exc:
            if self._cb.failed is not None:
                self._cb.failed(exc)
        else:
            if self._cb.sent is not None:
                self._cb.sent(result)
        finally:
            with self._lock:
                if handed_over:
                    self._delivering -= 1
                else:
                    self._ending -= 1
            self._show()

    def permit(self) -> None:
        if self._cb.permit is not None:
            self._cb.permit()

    def state_changed(self, state: PressState) -> None:
        self._show()

    def failed(self, message: str) -> None:
        error = self._error or AudioDeviceError(message)
        self._error = None
        if self._cb.failed is not None:
            self._cb.failed(error)

    def note(self, message: str) -> None:
        if self._cb.note is not None:
            self._cb.note(message)

    def _show(self) -> None:
        # One at a time from compute to callback: the runtime's thread and an
        # ending thread both call this, and a phase said late must not overwrite
        # a newer one (the app stayed on "sending" after the press was over).
        with self._show_lock:
            self._show_now()

    def _show_now(self) -> None:
        state = self.machine.state
        with self._lock:
            if state is PressState.ARMING:
                phase = Phase.ARMING
            elif state in (PressState.TALKING, PressState.RELEASING):
                phase = Phase.TALKING
            elif state in ACTIVE or self._ending:
                phase = Phase.SENDING
            else:
                phase = Phase.IDLE
            changed = phase is not self.phase
            self.phase = phase
            self._idle.notify_all()
        if changed and self._cb.phase is not None:
            self._cb.phase(phase)


def talk_once(
    capture: Capture,
    new_sink: SinkFactory,
    callbacks: PressCallbacks | None = None,
    *,
    timing: PressTiming | None = None,
    stop: threading.Event | None = None,
) -> TalkResult:
    """One press that lasts until the input ends (a file), ``timing.audio_limit_s``
    of audio was said, or ``stop`` is set; returns the transmission sent.
    A failure is raised after what was said has been sent."""
    results: list[TalkResult] = []
    errors: list[ChokError] = []
    given = callbacks or PressCallbacks()

    def sent(result: TalkResult) -> None:
        results.append(result)
        if given.sent is not None:
            given.sent(result)

    def failed(error: ChokError) -> None:
        errors.append(error)
        if given.failed is not None:
            given.failed(error)

    timing = replace(timing or PressTiming(), rejoin_s=0.0)
    ptt = PushToTalk(capture, new_sink, replace(given, sent=sent, failed=failed), timing)
    ptt.start()
    ptt.press()
    try:
        while not ptt.wait_idle(0.05 if stop is not None else None):
            if stop is not None and stop.is_set():
                ptt.stop()
                stop = None
        ptt.wait_delivered()
    finally:
        ptt.close()
    if errors:
        raise errors[0]
    if not results:
        raise ChokError("the transmission was not sent")
    return results[0]

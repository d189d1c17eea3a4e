"""Push to talk in the app: a thin Qt adapter over ``chok.channel.push_to_talk``.

The press machine there decides what a hold is (auto-repeat and focus
changes never split one), when the microphone really delivers (the permit
cue comes then) and what audio belongs to it. Here: one shared producer per
session (a press never waits for a connection), the microphone kept open
while the app is ready to talk (a setting, on by default; a file input is
opened per press, so each press "says" it from the start), and the runtime's
callbacks handed to the UI thread as signals. A released transmission is in
the durable outbox at once; while the broker is away it is "queued" (the
``queued`` signal says how many wait), and ``sent`` comes when the broker has
it all, however long that takes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import StrEnum

from PySide6.QtCore import QObject, Signal

from chok.channel.capture import Capture
from chok.channel.delivery import Delivery, DeliveryProgress, DeliveryState
from chok.channel.press import PressTiming
from chok.channel.push_to_talk import PressCallbacks, PushToTalk
from chok.channel.session import ChannelSession
from chok.channel.talk import Talker, TalkResult, get_ready
from chok.errors import AudioDeviceError, ChokError
from chok.gui.audio_io import AudioDevices
from chok.gui.tasks import UiCaller

MAX_TALK_S = 300  # a stuck key or mouse button must not hold the channel forever
REFUSED_REJOIN_S = 0.25  # as the press machine's rejoin window, with a margin


class TalkState(StrEnum):
    IDLE = "idle"
    ARMING = "arming"  # pressed; the microphone has not delivered yet
    TALKING = "talking"
    SENDING = "sending"


class Talking(QObject):
    stateChanged = Signal(str)
    permitted = Signal()  # the microphone delivers: play the permit cue
    level = Signal(float)  # RMS dBFS of the latest frame
    elapsed = Signal(int)  # ms said so far
    sent = Signal(object)  # TalkResult
    failed = Signal(str, bool)  # message, the microphone is the problem
    noted = Signal(str)
    queued = Signal(int)  # transmissions in the outbox waiting for the broker

    def __init__(
        self,
        session: ChannelSession,
        devices: AudioDevices,
        input_spec: Callable[[], str | None],
        ui: UiCaller,
        max_talk_s: float = MAX_TALK_S,
        keep_open: bool = True,
    ) -> None:
        super().__init__()
        self.session = session
        self._devices = devices
        self._ui = ui
        self.state = TalkState.IDLE
        self._waiting: set[str] = set()  # tx ids queued (UI thread)
        spec = self._spec = input_spec()
        self.capture = Capture(
            lambda: devices.open_input(spec),
            keep_open=keep_open and not (spec or "").startswith("file:"),
            on_problem=lambda error: ui.post(lambda: self.failed.emit(str(error), True)),
        )
        callbacks = PressCallbacks(
            phase=lambda phase: ui.post(lambda: self._set(TalkState(phase.value))),
            permit=lambda: ui.post(self.permitted.emit),
            audio=lambda dbfs, ms: ui.post(lambda: self._progress(dbfs, ms)),
            sent=lambda result: ui.post(lambda: self._sent(result)),
            failed=lambda error: ui.post(lambda: self._failed(error)),
            note=lambda text: ui.post(lambda: self.noted.emit(text)),
            delivering=self._watch,
        )
        self.ptt = PushToTalk(
            self.capture, self._new_talker, callbacks, PressTiming(max_hold_s=max_talk_s)
        ).start()

    def warm_up(self) -> None:
        """(Worker thread) connect the producer now: a press never waits for it."""
        get_ready(self.session)

    def open_microphone(self) -> None:
        """(Worker thread) start the microphone now if it is kept open (errors
        are raised: no microphone); otherwise only check that it can be opened."""
        if self.capture.keep_open:
            self.capture.open()
        else:
            self._devices.open_input(self._spec)

    def _new_talker(self) -> Talker:
        # The process's warm producer for this person (chok.channel.delivery).
        return Talker(self.session)

    def _watch(self, delivery: Delivery) -> None:
        """(Runtime thread) follow a released transmission until the broker has it."""
        tx_id = delivery.entry.meta.tx_id

        def changed(progress: DeliveryProgress) -> None:
            waiting = progress.state is DeliveryState.QUEUED
            self._ui.post(lambda: self._queue_changed(tx_id, waiting))

        delivery.on_change(changed)
        changed(delivery.progress())

    def _queue_changed(self, tx_id: str, waiting: bool) -> None:
        before = len(self._waiting)
        if waiting:
            self._waiting.add(tx_id)
        else:
            self._waiting.discard(tx_id)
        if len(self._waiting) != before:
            self.queued.emit(len(self._waiting))

    @property
    def holding(self) -> bool:
        """A hold is on: a press now continues it (an auto-repeat, a quick re-press)."""
        return self.ptt.holding

    def press(self) -> None:
        self.ptt.press()

    def release(self) -> None:
        self.ptt.release()

    def focus_lost(self) -> None:
        self.ptt.focus_lost()

    def _set(self, state: TalkState) -> None:
        if state is not self.state:
            self.state = state
            self.stateChanged.emit(state.value)

    def _progress(self, dbfs: float, ms: int) -> None:
        if self.state in (TalkState.TALKING, TalkState.SENDING):
            self.level.emit(dbfs)
            self.elapsed.emit(ms)

    def _sent(self, result: TalkResult) -> None:
        self._queue_changed(result.tx_id, False)
        self.sent.emit(result)

    def _failed(self, error: ChokError) -> None:
        self.failed.emit(str(error), isinstance(error, AudioDeviceError))

    def close(self) -> None:
        """End a hold (what was said is sent) and release the microphone, off the UI thread."""
        threading.Thread(target=self.ptt.close, name="chok-gui-talk-close", daemon=True).start()


class RefusedHold:
    """A press refused (busy, offline) is refused once: the same physical hold
    keeps sending presses (key auto-repeat), which must not replay the busy
    cue 30 times a second. A press with no release since the refused one, or
    within REFUSED_REJOIN_S of a release, is that same hold."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._pressed: float | None = None  # the refused hold's latest press
        self._released = float("-inf")

    def goes_on(self) -> bool:
        now = self._clock()
        if self._pressed is not None and (
            self._released < self._pressed or now - self._released < REFUSED_REJOIN_S
        ):
            self._pressed = now
            return True
        self._pressed = None
        return False

    def refused(self) -> None:
        self._pressed = self._clock()

    def released(self) -> None:
        self._released = self._clock()

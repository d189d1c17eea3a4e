"""One press of the button: capture on a thread, frames out live, send on release.

Built on chok's ``Talker``: every captured frame is sent at once, and the
release writes the transmission record. The microphone is opened per press
(while the talk-permit cue plays) and closed on release; one producer is kept
for the whole session so a press never waits for a new connection.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from chok.audio import measure
from chok.channel.session import ChannelSession
from chok.channel.talk import Talker, TalkResult
from chok.codec import Pcm
from chok.errors import AudioDeviceError, ChokError
from chok.gui.audio_io import AudioDevices
from chok.gui.tasks import UiCaller, error_text

if TYPE_CHECKING:  # only the type: the session makes the producer
    from chok.kafka.stream import RecordProducer

MAX_TALK_S = 300  # a stuck key or mouse button must not hold the channel forever
_DRAIN_FRAMES = 5  # after release, frames already captured still go out


class TalkState(StrEnum):
    IDLE = "idle"
    TALKING = "talking"
    SENDING = "sending"


class Talking(QObject):
    stateChanged = Signal(str)
    level = Signal(float)  # RMS dBFS of the latest frame
    elapsed = Signal(int)  # ms said so far
    sent = Signal(object)  # TalkResult
    failed = Signal(str, bool)  # message, the microphone is the problem

    def __init__(
        self,
        session: ChannelSession,
        devices: AudioDevices,
        input_spec: Callable[[], str | None],
        ui: UiCaller,
        max_talk_s: float = MAX_TALK_S,
    ) -> None:
        super().__init__()
        self.session = session
        self._devices = devices
        self._input_spec = input_spec
        self._ui = ui
        self._max_talk_s = max_talk_s
        self.state = TalkState.IDLE
        self._release = threading.Event()
        self._producer_lock = threading.Lock()
        self._producer: RecordProducer | None = None  # made on first use, off the UI thread
        self._thread: threading.Thread | None = None

    def warm_up(self) -> None:
        """(Worker thread) create the producer now, so the first press is quick; on a
        private channel also the reader that looks for a new epoch before each
        transmission (a press then costs one round trip, not a TLS handshake)."""
        self._shared_producer()
        if self.session.private:
            self.session.refresh_keys()

    def _shared_producer(self) -> RecordProducer:
        with self._producer_lock:
            if self._producer is None:
                self._producer = self.session.producer()
            return self._producer

    def press(self) -> bool:
        """Start talking; False if a transmission is still being sent."""
        if self.state is not TalkState.IDLE:
            return False
        self._release = threading.Event()
        self._set(TalkState.TALKING)
        self._thread = threading.Thread(
            target=self._run, args=(self._release, self._input_spec()), name="chok-gui-talk"
        )
        self._thread.daemon = True
        self._thread.start()
        return True

    def release(self) -> None:
        if self.state is TalkState.TALKING:
            self._release.set()
            self._set(TalkState.SENDING)

    def _set(self, state: TalkState) -> None:
        self.state = state
        self.stateChanged.emit(state.value)

    def _run(self, release: threading.Event, spec: str | None) -> None:
        try:
            result = self._capture_and_send(release, spec)
        except AudioDeviceError as exc:
            message = str(exc)
            self._ui.post(lambda: self._done(None, message, True))
        except Exception as exc:  # anything else ends the press with a message, not a crash
            message = error_text(exc)
            self._ui.post(lambda: self._done(None, message, False))
        else:
            self._ui.post(lambda: self._done(result, None, False))

    def _capture_and_send(self, release: threading.Event, spec: str | None) -> TalkResult:
        source = self._devices.open_input(spec)
        talker = Talker(self.session, producer=self._shared_producer())
        frame_ms = talker.frame_ms
        began = time.monotonic()
        source.start()
        try:
            while not release.is_set() and time.monotonic() - began < self._max_talk_s:
                frame = source.read_frame(timeout=0.2)
                if frame is None:
                    if source.at_end:  # a file input said everything: wait for release
                        release.wait(self._max_talk_s)
                    continue
                self._send(talker, frame, frame_ms)
            for _ in range(_DRAIN_FRAMES):
                frame = source.read_frame(timeout=0)
                if frame is None:
                    break
                self._send(talker, frame, frame_ms)
        finally:
            with contextlib.suppress(ChokError):
                source.stop()
        return talker.end()

    def _send(self, talker: Talker, frame: Pcm, frame_ms: int) -> None:
        talker.send_pcm(frame)
        dbfs = measure(frame).rms_dbfs
        ms = talker.frames_sent * frame_ms
        self._ui.post(lambda: self._progress(dbfs, ms))

    def _progress(self, dbfs: float, ms: int) -> None:
        if self.state is TalkState.IDLE:
            return
        self.level.emit(dbfs)
        self.elapsed.emit(ms)

    def _done(self, result: TalkResult | None, error: str | None, mic: bool) -> None:
        self._set(TalkState.IDLE)
        if error is not None:
            self.failed.emit(error, mic)
        elif result is not None:
            self.sent.emit(result)

    def close(self) -> None:
        """Release and let the thread send what was said (it is a daemon)."""
        self._release.set()

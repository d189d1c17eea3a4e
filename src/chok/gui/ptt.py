"""What the push-to-talk button shows, and which presses it refuses.

The press machine itself is ``chok.channel.push_to_talk`` (adapted by
``talking``); this is the view's side of it: one state that combines the
hold, the connection, the microphone and who else is talking, and the
refusal of a press on a busy channel or without a microphone (once per
physical hold, however many auto-repeats the key sends).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from chok.gui.audio_io import SoundOut
from chok.gui.listening import Conn, Listening
from chok.gui.talking import RefusedHold, Talking, TalkState


class PttState:
    IDLE = "idle"  # ready: hold to talk
    ARMING = "arming"  # pressed: the microphone is starting (no permit cue yet)
    TALKING = "talking"
    SENDING = "sending"
    BUSY = "busy"  # someone else is talking
    OFFLINE = "offline"  # not connected (yet)
    NO_MIC = "no-mic"


class PttModel(QObject):
    stateChanged = Signal(str)
    message = Signal(str, bool)  # text, is an error

    def __init__(
        self,
        talking: Talking,
        listening: Listening,
        sound: SoundOut,
        live_started: Callable[[str], None],
        live_ended: Callable[[str], None],
        parent: QObject | None = None,
    ) -> None:
        """``live_started``/``live_ended``: one's own talk is live audio too
        (a replay waits while one talks)."""
        super().__init__(parent)
        self.talking = talking
        self.listening = listening
        self.sound = sound
        self._live_started = live_started
        self._live_ended = live_ended
        self.state = PttState.OFFLINE
        self.mic_problem: str | None = None
        self._refused = RefusedHold()
        self.queued_count = 0  # transmissions in the outbox waiting for the broker
        self._said = False  # the current hold got to talking (the end cue is owed)
        talking.stateChanged.connect(self._talk_state)
        talking.queued.connect(self._queued)
        talking.failed.connect(self._talk_failed)

    def mic_missing(self, message: str) -> None:
        self.mic_problem = message
        self.update()

    def press(self) -> None:
        """A press (mouse down, Space down, or a key auto-repeat of it)."""
        if self.talking.holding:
            self.talking.press()  # the same hold goes on (a repeat, a quick re-press)
            return
        if self._refused.goes_on():
            return  # a repeat of a press already refused: refused quietly
        refusal = self._refusal()
        if refusal is not None:
            self._refused.refused()
            self.message.emit(refusal, True)
            return
        if self.state == PttState.OFFLINE:  # talk anyway: the outbox keeps it
            self.message.emit("queued: will be sent when connected", False)
        self.talking.press()
        self._live_started("you")  # a replay waits while you talk

    def _refusal(self) -> str | None:
        state = self.state
        if state == PttState.NO_MIC:
            return f"cannot talk: {self.mic_problem}"
        if state == PttState.BUSY:
            self.sound.cue("busy")
            who = " and ".join(self.listening.talkers())
            return f"the channel is busy: {who} is talking; wait for the end"
        return None

    def release(self) -> None:
        self._refused.released()
        self.talking.release()

    def focus_lost(self) -> None:
        """The window lost focus during a hold: its key-up may go elsewhere."""
        self.talking.focus_lost()

    def _talk_state(self, state: str) -> None:
        if state == TalkState.TALKING:
            self._said = True
        elif state == TalkState.IDLE:
            self._live_ended("you")  # the hold is over (sent, or in the outbox)
            if self._said:
                self.sound.cue("end")  # at the end of the hold, even if it waits for the broker
            self._said = False
        self.update()

    def _queued(self, waiting: int) -> None:
        self.queued_count = waiting
        if waiting:
            self.message.emit(f"queued ({waiting}): will be sent when connected", False)

    def _talk_failed(self, message: str, mic: bool) -> None:
        self._live_ended("you")
        if mic:
            self.mic_problem = message
            self.update()
        self.message.emit(f"could not send: {message}", True)

    def update(self) -> None:
        """The button's state from the hold, the connection, the microphone and the floor."""
        talk = self.talking.state
        if talk is TalkState.ARMING:
            state = PttState.ARMING
        elif talk is TalkState.TALKING:
            state = PttState.TALKING
        elif talk is TalkState.SENDING:
            state = PttState.SENDING
        elif self.listening.state is not Conn.CONNECTED:
            state = PttState.OFFLINE
        elif self.mic_problem is not None:
            state = PttState.NO_MIC
        elif self.listening.talkers():
            state = PttState.BUSY
        else:
            state = PttState.IDLE
        if state != self.state:
            self.state = state
            self.stateChanged.emit(state)

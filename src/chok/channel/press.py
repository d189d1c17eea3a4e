"""The press machine: what one hold of the talk button sends, and when.

A small explicit state machine in the style of magic-wormhole's ``_order.py``:
no framework, no threads, no clock of its own. Inputs are method calls that
carry the time they happened (``press(now)``, ``audio(block)``, ``tick(now)``);
outputs are calls on an injected ``PressEffects``. The runtime
(``chok.channel.push_to_talk``) feeds it real events; the unit tests feed it
a fake clock and fake audio.

What it promises (docs/architecture.md draws it):

- capture starts at the press, and the talk-permit comes only when the
  microphone really delivers audio (``ARMING`` until then);
- a release followed by a press within ``rejoin_s`` is the same hold (X11 key
  auto-repeat, repeats Qt misflags as real, a quick double press); so is a
  press within ``focus_grace_s`` after the window lost focus;
- on release, audio keeps coming until the block that covers the release
  instant has arrived (by the blocks' capture times), so the last word is
  whole; audio said after the release is not sent;
- up to ``preroll_s`` of audio from before the press is kept when the capture
  has it (a microphone kept open), so a first syllable said a hair early is
  whole too;
- a microphone that fails, gives no sound, or a hold longer than
  ``max_hold_s`` ends the hold and still sends what was said.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from chok.audio.base import TimedBlock

_EPSILON = 0.001  # capture times closer than this are the same instant


class PressState(StrEnum):
    IDLE = "idle"  # nothing held
    ARMING = "arming"  # held; the microphone has delivered nothing yet
    TALKING = "talking"  # held, and audio flows
    RELEASING = "releasing"  # released: a press within the rejoin window continues the hold
    DRAINING = "draining"  # released: waiting for the audio up to the release instant
    DONE = "done"  # the hold was handed over to be sent; a press starts a new one


HELD = (PressState.ARMING, PressState.TALKING)
ACTIVE = (*HELD, PressState.RELEASING, PressState.DRAINING)


@dataclass(frozen=True)
class PressTiming:
    """The machine's knobs (seconds)."""

    preroll_s: float = 0.3  # audio kept from before the press, when the capture has it
    rejoin_s: float = 0.2  # a press this soon after a release continues the same hold
    focus_grace_s: float = 0.5  # a press this soon after losing focus continues it too
    arm_timeout_s: float = 5.0  # no audio at all this long after the press: no microphone
    drain_timeout_s: float = 1.0  # the release's audio not there this long after: send anyway
    # Audio kept past the release instant: Opus holds back the last 6.5 ms of
    # what it is given (its lookahead), so the hold runs a hair longer.
    tail_s: float = 0.010
    max_hold_s: float = 300.0  # a stuck key must not hold the channel forever
    audio_limit_s: float | None = None  # end after this much audio (chok talk --seconds)


class PressEffects(Protocol):
    """What the machine asks of the world, in the order it asks."""

    def start_capture(self, since: float) -> None:
        """Deliver audio to ``audio()`` from now on, and what was captured after ``since``."""

    def stop_capture(self) -> None:
        """Stop delivering audio for this hold."""

    def start_transmission(self) -> None:
        """A new transmission begins (the hold's audio goes into it)."""

    def send(self, block: TimedBlock) -> None:
        """This block is part of the hold: send it."""

    def finish_transmission(self) -> None:
        """The hold is complete: end the transmission (what was sent is published)."""

    def permit(self) -> None:
        """The microphone delivers: tell the person they may talk (cue, "Talking")."""

    def state_changed(self, state: PressState) -> None: ...

    def failed(self, message: str) -> None:
        """The hold ended because of a problem (what was said is still sent)."""

    def note(self, message: str) -> None:
        """Something the person should know that is not a failure."""


class PressMachine:
    def __init__(self, effects: PressEffects, timing: PressTiming | None = None) -> None:
        self._fx = effects
        self.timing = timing or PressTiming()
        self.state = PressState.IDLE
        self._sent_until = float("-inf")  # end of the last block sent, in any hold
        self._pending_press: float | None = None
        self._reset(0.0)

    def _reset(self, pressed: float) -> None:
        self.pressed_at = pressed
        self.released_at: float | None = None
        self._window_until = 0.0
        self._drain_until = 0.0
        self._heard = False  # the microphone delivered audio for this hold
        self._permitted = False  # the person was told to talk
        self._covered = float("-inf")  # capture time up to which audio has arrived
        self._said_s = 0.0  # seconds of audio sent in this hold
        self._held_back: list[TimedBlock] = []  # arrived after the release instant

    def _set(self, state: PressState) -> None:
        if state is not self.state:
            self.state = state
            self._fx.state_changed(state)

    # -- inputs --------------------------------------------------------------

    def press(self, now: float) -> None:
        if self.state in (PressState.IDLE, PressState.DONE):
            self._begin(now)
        elif self.state is PressState.RELEASING or (
            self.state is PressState.DRAINING and now <= self._window_until
        ):
            self._rejoin()
        elif self.state is PressState.DRAINING:
            self._pending_press = now  # a new hold, once this one is complete
        # ARMING, TALKING: the key is already down (an auto-repeat); nothing to do.

    def release(self, now: float) -> None:
        if self.state in HELD:
            self._release(now, self.timing.rejoin_s)

    def focus_lost(self, now: float) -> None:
        """The window lost focus while held: its key-up may never come to us."""
        if self.state in HELD:
            self._release(now, self.timing.focus_grace_s)

    def stop(self, now: float) -> None:
        """End the hold now, without a rejoin window (Ctrl-C, closing the app)."""
        self._pending_press = None
        if self.state in HELD:
            self._release(now, 0.0)
        elif self.state is PressState.RELEASING:
            self._after_window()

    def audio(self, block: TimedBlock) -> None:
        if self.state not in ACTIVE:
            return
        if block.end <= self.pressed_at - self.timing.preroll_s + _EPSILON:
            return  # from before the pre-roll
        if block.start < self._sent_until - _EPSILON:
            return  # already sent (a pre-roll overlapping the previous hold)
        self._covered = max(self._covered, block.end)
        if self.state in HELD:
            self._send(block)
            self._talking()
            self._check_audio_limit(block)
            return
        assert self.released_at is not None
        if block.start < self.released_at - _EPSILON:
            self._send(block)
        else:
            self._held_back.append(block)
        if self.state is PressState.DRAINING and self._covered >= self.released_at - _EPSILON:
            self._finish()

    def mic_failed(self, message: str) -> None:
        if self.state in ACTIVE:
            self._pending_press = None
            self._finish()
            self._fx.failed(message)

    def input_ended(self) -> None:
        """A finite input (a file) has delivered everything: the hold is complete."""
        if self.state in ACTIVE:
            self._finish()

    def tick(self, now: float) -> None:
        deadline = self.deadline
        if deadline is None or now < deadline:
            return
        if self.state is PressState.ARMING:
            seconds = self.timing.arm_timeout_s
            self.mic_failed(f"the microphone gave no sound for {seconds:.0f} s")
        elif self.state is PressState.TALKING:
            self._fx.note(f"held for {self.timing.max_hold_s:.0f} s: sent (the limit of one hold)")
            self._release(now, 0.0)
        elif self.state is PressState.RELEASING:
            self._after_window()
        elif self.state is PressState.DRAINING and not self._heard:
            self.mic_failed(f"the microphone gave no sound for {self.timing.arm_timeout_s:.0f} s")
        elif self.state is PressState.DRAINING:
            self._finish()  # the rest never came: send what did

    @property
    def deadline(self) -> float | None:
        """When ``tick`` next has something to do (None: only an input can change things)."""
        if self.state is PressState.ARMING:
            return self.pressed_at + self.timing.arm_timeout_s
        if self.state is PressState.TALKING:
            return self.pressed_at + self.timing.max_hold_s
        if self.state is PressState.RELEASING:
            return self._window_until
        if self.state is PressState.DRAINING:
            return self._drain_until
        return None

    # -- transitions -----------------------------------------------------------

    def _begin(self, now: float) -> None:
        self._reset(now)
        self._fx.start_transmission()
        self._set(PressState.ARMING)
        self._fx.start_capture(now - self.timing.preroll_s)

    def _rejoin(self) -> None:
        self.released_at = None
        held, self._held_back = self._held_back, []
        for block in held:
            self._send(block)
        if self._heard:
            self._talking()
        else:
            self._set(PressState.ARMING)

    def _talking(self) -> None:
        self._set(PressState.TALKING)
        if not self._permitted:
            self._permitted = True
            self._fx.permit()

    def _release(self, at: float, window: float) -> None:
        self.released_at = at + self.timing.tail_s
        self._window_until = at + window
        if window > 0:
            self._set(PressState.RELEASING)
        else:
            self._after_window()

    def _after_window(self) -> None:
        assert self.released_at is not None
        if self._covered >= self.released_at - _EPSILON:
            self._finish()
            return
        # Wait for the audio up to the release; a microphone that has not
        # started yet may still deliver it (its blocks are stamped earlier).
        if self._heard:
            self._drain_until = self._window_until + self.timing.drain_timeout_s
        else:
            self._drain_until = self.pressed_at + self.timing.arm_timeout_s
        self._set(PressState.DRAINING)

    def _send(self, block: TimedBlock) -> None:
        self._heard = True
        self._said_s += block.end - block.start
        self._sent_until = max(self._sent_until, block.end)
        self._fx.send(block)

    def _check_audio_limit(self, block: TimedBlock) -> None:
        # Counted in audio, not by the clock: a device's first blocks can come in
        # a burst whose capture times are not evenly spaced.
        limit = self.timing.audio_limit_s
        if limit is not None and self._said_s >= limit - _EPSILON:
            self.released_at = block.end
            self._finish()

    def _finish(self) -> None:
        self._held_back = []
        self._fx.stop_capture()
        self._fx.finish_transmission()
        self._set(PressState.DONE)
        pending, self._pending_press = self._pending_press, None
        if pending is not None:
            self._begin(pending)

"""`chok talk` keeps every word between the press and the release, on the
virtual sound device against the real broker.

A clock signal (100 ms tone slots) plays into the virtual microphone; a
person holds for 4 s (Enter, Enter in a terminal); the transmission read back
from Kafka must hold the first and the last slot said in between. The talker's
cues play in another room (PULSE_SINK=chok_ear), so they are not recorded.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from chok.bench.clock_signal import ClockPlayer
from chok.bench.press import entries_of, recording
from chok.channel.session import open_session
from tests.sound.press_helpers import (
    HOLD_S,
    SETTLED_S,
    TalkProcess,
    check_markers,
)

pytestmark = [pytest.mark.sound, pytest.mark.broker, pytest.mark.usefixtures("virtual_sound")]

EAR = {"PULSE_SINK": "chok_ear"}  # the talker's own cues go to the other room


@pytest.fixture
def clock() -> Iterator[ClockPlayer]:
    player = ClockPlayer().start()
    yield player
    player.stop()


def _reads_the_prompt(talk: TalkProcess) -> None:
    """The prompt comes once the microphone delivers; a person takes a moment to
    press Enter, and by then a microphone that woke slowly has settled."""
    talk.wait_for("press Enter to talk")
    time.sleep(SETTLED_S + 0.5)  # the person reads the prompt (a test input, not a wait)


def _hold_enter(talk: TalkProcess) -> tuple[float, float]:
    _reads_the_prompt(talk)
    pressed = talk.enter()
    deadline = pressed + HOLD_S
    while time.monotonic() < deadline:  # the person holds the floor for 4 s
        time.sleep(deadline - time.monotonic())
    return pressed, talk.enter()


def test_chok_talk_keeps_the_first_and_last_word(new_user, clock: ClockPlayer) -> None:  # type: ignore[no-untyped-def]
    alice = new_user("alice")
    talk = TalkProcess.start(alice.name, "--device", "pulse", env=EAR)
    pressed, released = _hold_enter(talk)
    sent = json.loads(talk.finish())
    session = open_session(alice)
    [entry] = entries_of(session, alice.user)
    assert entry.id == sent["id"]
    holds, _, story = check_markers(recording(session, entry), clock, pressed, released)
    print(story)
    assert holds, story


def test_chok_talk_keeps_the_first_word_when_the_sink_was_idle(new_user) -> None:  # type: ignore[no-untyped-def]
    """Nothing plays before the press: the clock signal starts with it."""
    alice = new_user("alice")
    talk = TalkProcess.start(alice.name, "--device", "pulse", env=EAR)
    _reads_the_prompt(talk)
    player = ClockPlayer().start()
    try:
        pressed = talk.enter()
        deadline = pressed + HOLD_S
        while time.monotonic() < deadline:  # the person holds the floor for 4 s
            time.sleep(deadline - time.monotonic())
        released = talk.enter()
        talk.finish()
    finally:
        player.stop()
    session = open_session(alice)
    [entry] = entries_of(session, alice.user)
    holds, _, story = check_markers(recording(session, entry), player, pressed, released)
    print(story)
    assert holds, story

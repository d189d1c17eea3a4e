"""A press is a press, in the real window: synthetic Qt key and focus events,
the fake live microphone (it can wake slowly), the real broker.

Each test reads back from Kafka what was sent: one hold must be one
transmission, as long as the hold (plus the pre-roll), whatever Qt delivered.
"""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QWidget

from chok.bench.press import entries_of
from chok.channel.session import open_session
from chok.gui.audio_io import AudioSettings
from tests.gui.conftest import hold_space_with_auto_repeat, space_key

pytestmark = [pytest.mark.gui, pytest.mark.broker]


def _settled(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: any(t.startswith("sent") for t, _ in window.messages), timeout=20_000)
    qtbot.waitUntil(lambda: window.vm.ptt_state == "idle", timeout=20_000)


def _durations(profile) -> list[int]:  # type: ignore[no-untyped-def]
    return [e.transmission.duration_ms for e in entries_of(open_session(profile), profile.user)]


@pytest.mark.parametrize("misflag", [0.0, 0.45], ids=["flagged", "misflagged"])
def test_space_with_x11_auto_repeat_is_one_transmission(
    qtbot, new_user, open_window, misflag: float
) -> None:  # type: ignore[no-untyped-def]
    alice = new_user("alice")
    window = open_window(alice)
    pressed, released = hold_space_with_auto_repeat(
        qtbot, window.timeline.list, 2.0, misflag=misflag
    )
    _settled(qtbot, window)
    [duration] = _durations(alice)
    # The hold, its 300 ms pre-roll, and the block that covers the release.
    assert (released - pressed) * 1000 <= duration <= (released - pressed + 0.42) * 1000
    assert window.vm.sound.cues_played.count("permit") == 1


def test_focus_lost_and_back_while_space_is_held_is_one_transmission(
    qtbot, new_user, open_window
) -> None:  # type: ignore[no-untyped-def]
    alice = new_user("alice")
    window = open_window(alice)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    list_view = window.timeline.list
    pressed = space_key(list_view, QEvent.Type.KeyPress, False)
    qtbot.waitUntil(lambda: window.vm.ptt_state == "talking", timeout=10_000)
    other = QWidget()  # a notification pops up and takes the focus for 200 ms
    qtbot.addWidget(other)
    other.show()
    other.activateWindow()
    qtbot.waitUntil(lambda: not window.isActiveWindow())
    qtbot.wait(200)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    # Space is still down: X11 sends auto-repeats again when focus is back.
    space_key(list_view, QEvent.Type.KeyPress, True)
    qtbot.wait(1000)
    released = space_key(list_view, QEvent.Type.KeyRelease, False)
    _settled(qtbot, window)
    [duration] = _durations(alice)
    assert duration >= (released - pressed) * 1000


def test_focus_lost_for_good_sends_what_was_said_until_then(qtbot, new_user, open_window) -> None:  # type: ignore[no-untyped-def]
    alice = new_user("alice")
    window = open_window(alice)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.mousePress(window.ptt, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.vm.ptt_state == "talking", timeout=10_000)
    qtbot.wait(800)
    other = QWidget()
    qtbot.addWidget(other)
    other.show()
    left = time.monotonic()
    other.activateWindow()  # the button-up will go to the other window
    _settled(qtbot, window)
    [duration] = _durations(alice)
    assert 800 <= duration <= (time.monotonic() - left + 0.8 + 0.42) * 1000
    assert not window.ptt.isDown()


def test_a_slow_microphone_says_starting_and_the_chirp_waits_for_it(
    qtbot, new_user, sound, open_window
) -> None:  # type: ignore[no-untyped-def]
    """Microphone opened at the press (the setting off), waking in 1.5 s."""
    sound.wake_s = 1.5
    alice = new_user("alice")
    window = open_window(alice, audio=AudioSettings(keep_mic_open=False))
    pressed = time.monotonic()
    qtbot.mousePress(window.ptt, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.vm.ptt_state == "arming", timeout=5_000)
    assert "Microphone starting" in window.caption.text()
    assert window.ptt.text() == "Wait"
    assert "permit" not in window.vm.sound.cues_played
    qtbot.waitUntil(lambda: window.vm.ptt_state == "talking", timeout=10_000)
    assert time.monotonic() - pressed >= 1.5
    assert window.vm.sound.cues_played == ["permit"]
    qtbot.wait(500)
    qtbot.mouseRelease(window.ptt, Qt.MouseButton.LeftButton)
    _settled(qtbot, window)
    [duration] = _durations(alice)
    assert 400 <= duration <= 1000  # what the microphone delivered, from its wake


def test_a_kept_open_microphone_is_heard_at_once_even_if_it_wakes_slowly(
    qtbot, new_user, sound, open_window
) -> None:  # type: ignore[no-untyped-def]
    sound.wake_s = 1.5
    alice = new_user("alice")
    window = open_window(alice)
    qtbot.waitUntil(lambda: window.vm.talking.capture.buffered_s >= 0.3, timeout=10_000)
    pressed = time.monotonic()
    qtbot.mousePress(window.ptt, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.vm.sound.cues_played == ["permit"], timeout=5_000)
    assert time.monotonic() - pressed < 0.3  # the permit at once: the microphone was awake
    qtbot.wait(600)
    qtbot.mouseRelease(window.ptt, Qt.MouseButton.LeftButton)
    _settled(qtbot, window)
    [duration] = _durations(alice)
    assert duration >= 600 + 240  # the hold and its pre-roll
    assert sound.inputs_opened == 1


def test_space_held_while_the_channel_is_busy_plays_the_busy_cue_once(
    qtbot, new_user, open_window
) -> None:  # type: ignore[no-untyped-def]
    from tests.gui.conftest import talk_in_thread

    alice, bob = new_user("alice"), new_user("bob")
    window = open_window(alice)
    speaker = talk_in_thread(open_session(bob), seconds=3)
    qtbot.waitUntil(lambda: window.vm.ptt_state == "busy", timeout=15_000)
    hold_space_with_auto_repeat(qtbot, window.timeline.list, 1.0)
    assert window.vm.sound.cues_played.count("busy") == 1
    assert sum("busy" in text for text, _ in window.messages) == 1
    speaker.join()
    assert _durations(alice) == []


def test_a_refused_hold_is_refused_once_until_it_is_really_let_go() -> None:
    from chok.gui.talking import RefusedHold

    now = [0.0]
    hold = RefusedHold(clock=lambda: now[0])
    assert not hold.goes_on()  # nothing refused yet: a press is judged
    hold.refused()
    now[0] = 0.6
    assert hold.goes_on()  # a key repeat after the 500-660 ms repeat delay, no release
    hold.released()  # a misflagged repeat: release...
    now[0] = 0.603
    assert hold.goes_on()  # ...and its press 3 ms later
    hold.released()
    now[0] = 1.5
    assert not hold.goes_on()  # let go for good: the next press is judged again

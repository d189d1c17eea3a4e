"""The desktop app keeps every word of a press, with the real sound devices.

The real main window records the virtual microphone (scripts/virtual-sound)
while a clock signal (100 ms tone slots) plays into it; a 4 s hold with the
mouse, or with Space and the X server's key auto-repeat (including repeats Qt
misflags as real releases), must give ONE transmission on Kafka that holds the
first and the last slot said between the press and the release.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import Qt

from chok.bench.clock_signal import ClockPlayer
from chok.bench.press import entries_of, recording
from chok.channel.session import open_session
from chok.gui.audio_io import AudioDevices, AudioSettings
from chok.profiles import Profile
from tests.gui.conftest import hold_space_with_auto_repeat
from tests.sound.press_helpers import (
    HOLD_S,
    SETTLED_S,
    check_markers,
)

pytestmark = [
    pytest.mark.gui,
    pytest.mark.sound,
    pytest.mark.broker,
    pytest.mark.usefixtures("virtual_sound"),
]


@pytest.fixture
def device_window(qtbot) -> Iterator[Callable[[Profile], object]]:  # type: ignore[no-untyped-def]
    """The real main window on the real (virtual) microphone; cues go nowhere."""
    from chok.gui.main_window import MainWindow

    windows: list[MainWindow] = []

    def make(profile: Profile) -> MainWindow:
        window = MainWindow(profile, AudioDevices(), AudioSettings(None, "null"), probe_ms=500)
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        qtbot.waitUntil(lambda: window.vm.ptt_state == "idle", timeout=30_000)
        # The app has been open a moment: the kept-open microphone has settled
        # (a PulseAudio stream's first seconds after a slow wake carry stale
        # audio under wrong capture times; see docs/benchmarks.md).
        capture = window.vm.talking.capture
        qtbot.waitUntil(lambda: capture.buffered_s >= SETTLED_S, timeout=15_000)
        return window

    yield make
    for window in windows:
        window.close()


def _sent_and_settled(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: any(t.startswith("sent") for t, _ in window.messages), timeout=20_000)
    qtbot.waitUntil(lambda: window.vm.ptt_state == "idle", timeout=20_000)


def _one_whole_transmission(
    profile: Profile, player: ClockPlayer, pressed: float, released: float
) -> None:
    session = open_session(profile)
    entries = entries_of(session, profile.user)
    lengths = [e.transmission.duration_ms for e in entries]
    assert len(entries) == 1, f"the hold was split into {len(entries)} transmissions: {lengths} ms"
    holds, _, story = check_markers(recording(session, entries[0]), player, pressed, released)
    print(story)
    assert holds, story


def _mouse_hold(qtbot, window) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    pressed = time.monotonic()
    qtbot.mousePress(window.ptt, Qt.MouseButton.LeftButton)
    qtbot.wait(int(HOLD_S * 1000))  # the person holds the button for 4 s
    released = time.monotonic()
    qtbot.mouseRelease(window.ptt, Qt.MouseButton.LeftButton)
    return pressed, released


def test_a_mouse_hold_keeps_the_first_and_last_word(qtbot, new_user, device_window) -> None:  # type: ignore[no-untyped-def]
    alice = new_user("alice")
    window = device_window(alice)
    player = ClockPlayer().start()
    try:
        qtbot.wait(300)  # the signal is playing before the press
        pressed, released = _mouse_hold(qtbot, window)
        _sent_and_settled(qtbot, window)
    finally:
        player.stop()
    _one_whole_transmission(alice, player, pressed, released)


def test_space_with_auto_repeat_is_one_press(qtbot, new_user, device_window) -> None:  # type: ignore[no-untyped-def]
    alice = new_user("alice")
    window = device_window(alice)
    player = ClockPlayer().start()
    try:
        qtbot.wait(300)  # the signal is playing before the press
        pressed, released = hold_space_with_auto_repeat(qtbot, window.timeline.list, HOLD_S)
        _sent_and_settled(qtbot, window)
    finally:
        player.stop()
    _one_whole_transmission(alice, player, pressed, released)


def test_a_press_right_after_the_sink_was_idle_keeps_the_first_word(
    qtbot, new_user, device_window
) -> None:  # type: ignore[no-untyped-def]
    """Nothing played before: the clock signal starts with the press."""
    alice = new_user("alice")
    window = device_window(alice)
    player = ClockPlayer().start()
    try:
        pressed, released = _mouse_hold(qtbot, window)
        _sent_and_settled(qtbot, window)
    finally:
        player.stop()
    _one_whole_transmission(alice, player, pressed, released)

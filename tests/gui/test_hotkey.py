"""Push-to-talk from anywhere: the global hotkey, for real under Xvfb (keys typed
with xdotool through the X server's XTest), and the rules around it."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt

from chok.gui.hotkey import ComboTracker, from_qt, hotkey_problem, shown

pytestmark = [pytest.mark.gui]


def test_where_the_desktop_does_not_allow_it_says_why() -> None:
    assert hotkey_problem({"DISPLAY": ":0"}, "linux") is None
    wayland = hotkey_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert wayland is not None and "Wayland" in wayland and "Space" in wayland
    nothing = hotkey_problem({}, "linux")
    assert nothing is not None and "DISPLAY" in nothing
    assert hotkey_problem({}, "win32") is None


def test_qt_key_names_become_pynput_hotkeys_and_back() -> None:
    assert from_qt("F8") == "<f8>"
    assert from_qt("Ctrl+Alt+Space") == "<ctrl>+<alt>+<space>"
    assert from_qt("Ctrl+T") == "<ctrl>+t"
    assert shown("<ctrl>+<alt>+<space>") == "Ctrl+Alt+Space"
    assert shown("<f8>") == "F8"
    with pytest.raises(ValueError, match="choose a key"):
        from_qt("")


def test_auto_repeat_never_splits_a_hold() -> None:
    combo = ComboTracker({"ctrl", "space"})
    assert not combo.down("ctrl")
    assert combo.down("space")  # the whole combination: a press
    assert not any(combo.down("space") for _ in range(20))  # auto-repeat
    assert not combo.down("x")  # another key meanwhile changes nothing
    assert combo.up("space")  # one release
    assert not combo.up("ctrl")
    assert combo.down("ctrl") is False and combo.down("space")  # the next hold


# -- for real, on an X server ----------------------------------------------------


@pytest.fixture(scope="module")
def x_display() -> Iterator[str]:
    """A throwaway X server (Xvfb) where xdotool types as a person would."""
    if not (shutil.which("Xvfb") and shutil.which("xdotool")):
        pytest.skip("Xvfb and xdotool are needed (scripts/bootstrap installs them)")
    for number in range(90, 120):
        if not os.path.exists(f"/tmp/.X11-unix/X{number}"):
            break
    display = f":{number}"
    server = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", "800x600x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while not os.path.exists(f"/tmp/.X11-unix/X{number}") and time.monotonic() < deadline:
        time.sleep(0.05)  # waiting for the X server's socket
    old = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = display  # pynput opens its X connection from DISPLAY
    try:
        yield display
    finally:
        if old is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = old
        server.terminate()
        server.wait(10)


def xdotool(display: str, *args: str) -> None:
    subprocess.run(["xdotool", *args], check=True, env={**os.environ, "DISPLAY": display})


def test_the_hotkey_is_seen_while_no_chok_window_has_the_focus(qtbot, x_display: str) -> None:  # type: ignore[no-untyped-def]
    from chok.gui.hotkey import GlobalHotkey

    hotkey = GlobalHotkey()
    assert hotkey.start("<ctrl>+<f8>") is None, hotkey.problem
    presses: list[str] = []
    hotkey.pressed.connect(lambda: presses.append("press"))
    hotkey.released.connect(lambda: presses.append("release"))
    try:
        xdotool(x_display, "keydown", "ctrl", "keydown", "F8")
        qtbot.waitUntil(lambda: presses == ["press"], timeout=5000)
        qtbot.wait(1200)  # held past the X server's auto-repeat delay
        xdotool(x_display, "keyup", "F8", "keyup", "ctrl")
        qtbot.waitUntil(lambda: presses == ["press", "release"], timeout=5000)
        xdotool(x_display, "key", "F8")  # without Ctrl: not the hotkey
        qtbot.wait(300)
        assert presses == ["press", "release"]
    finally:
        hotkey.stop()
        xdotool(x_display, "key", "shift")  # X11: the stopped listener returns at the next key
        qtbot.waitUntil(lambda: not hotkey.stopping.is_alive(), timeout=5000)
    xdotool(x_display, "key", "ctrl+F8")
    qtbot.wait(200)
    assert presses == ["press", "release"]  # stopped: heard no more


@pytest.mark.broker
def test_the_hotkey_talks_through_the_same_path_as_space(  # type: ignore[no-untyped-def]
    qtbot, x_display: str, new_user, open_window
) -> None:
    from chok.channel.live import TalkEnded
    from chok.channel.session import open_session
    from chok.gui.tray import DesktopSettings
    from tests.integration.talk_helpers import Recorder

    alice, bob = new_user("alice"), new_user("bob")
    window = open_window(alice)
    window.apply_desktop(DesktopSettings(hotkey_on=True, hotkey="<f8>"))
    assert window.hotkey.active, window.messages
    assert window.messages[-1] == ("hold F8 in any app to talk", False)
    bob_hears = Recorder(open_session(bob)).start()
    try:
        xdotool(x_display, "keydown", "F8")  # no chok window has the X focus
        qtbot.waitUntil(lambda: window.vm.ptt_state == "talking", timeout=10_000)
        assert window.ptt.isDown()
        qtbot.keyPress(window, Qt.Key.Key_Space)  # Space as well: still one press
        qtbot.wait(1500)  # held, through the X server's auto-repeat
        qtbot.keyRelease(window, Qt.Key.Key_Space)
        assert window.vm.ptt_state == "talking"  # F8 still holds it
        xdotool(x_display, "keyup", "F8")
        qtbot.waitUntil(lambda: window.vm.ptt_state == "idle", timeout=15_000)
        bob_hears.wait_for(lambda events: any(isinstance(e, TalkEnded) for e in events))
        qtbot.wait(500)  # a second transmission would have started by now
    finally:
        bob_hears.finish()
        window.apply_desktop(DesktopSettings(hotkey_on=False))
        xdotool(x_display, "key", "shift")
    ended = [e for e in bob_hears.events if isinstance(e, TalkEnded)]
    assert len(ended) == 1, ended  # one hold, one transmission
    assert ended[0].duration_ms >= 1200

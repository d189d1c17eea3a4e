"""The tray icon's unheard count, starting minimised, and the desktop settings."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QKeySequence

from chok.channel.session import open_session
from chok.gui.settings_dialog import SettingsDialog
from chok.gui.tray import DesktopSettings, badge_icon
from chok.gui.widgets import app_icon
from tests.gui.conftest import quick_talk

pytestmark = [pytest.mark.gui]


def test_the_badge_changes_the_icon_only_when_there_is_something(qtbot) -> None:  # type: ignore[no-untyped-def]
    base = app_icon()
    plain = badge_icon(base, 0).pixmap(64, 64).toImage()
    three = badge_icon(base, 3).pixmap(64, 64).toImage()
    assert plain != three
    assert three.pixelColor(52, 12).red() > 180  # the red circle, top right


@pytest.mark.broker
def test_the_tray_counts_what_is_unheard(qtbot, new_user, private_channel, open_window) -> None:  # type: ignore[no-untyped-def]
    _, (alice, bob) = private_channel(new_user("alice"), new_user("bob"))
    first = open_window(alice)  # the first time everything counts as heard
    qtbot.waitUntil(lambda: first.timeline.unheard_label.text() == "You have heard everything.")
    assert first.tray.tooltip == "chok walkie-talkie: nothing unheard"
    first.close()
    for _ in range(2):
        quick_talk(open_session(bob), frames=5)
    window = open_window(alice)
    qtbot.waitUntil(lambda: window.tray.count == 2, timeout=15_000)
    assert window.tray.tooltip == "chok walkie-talkie: 2 unheard"


@pytest.mark.broker
def test_start_minimised_and_the_setting_is_remembered(qtbot, new_user, sound, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("DISPLAY", raising=False)  # a desktop where no hotkey can work
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    from chok.gui.app import ChokApp
    from chok.gui.main_window import MainWindow

    alice = new_user("alice")
    app = ChokApp(alice.name, None, sound.devices, minimized=True)
    app.start()
    window = app.window
    assert isinstance(window, MainWindow)
    try:
        # Offscreen there is no tray: a minimised window rather than an invisible app.
        assert window.tray.available or window.isMinimized()
        dialog = SettingsDialog(window.audio, window.profile, window, window.desktop)
        qtbot.addWidget(dialog)
        dialog.minimized_check.setChecked(True)
        dialog.hotkey_check.setChecked(True)
        dialog.hotkey_edit.setKeySequence(QKeySequence("Ctrl+F9"))
        dialog.accept()
        assert dialog.desktop == DesktopSettings(True, "<ctrl>+<f9>", True)
        window.apply_desktop(dialog.desktop)
        assert DesktopSettings.load(alice.name) == dialog.desktop
        # No X display: the app says why there is no global hotkey.
        assert window.messages[-1][1] is True and "hotkey" in window.messages[-1][0]
    finally:
        window.close()

"""Menus and keyboard shortcuts: everything the mouse does, the keyboard does too."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QKeySequence

from chok.gui.channel_timeline import SINCE
from chok.gui.viewmodel import REACTIONS

if TYPE_CHECKING:
    from chok.gui.main_window import MainWindow

KEYS_HELP = """\
Space (hold)      talk; release to send
Hotkey (hold)     talk from any app (Settings; F8 by default, off until chosen)
Tab / Shift+Tab   move between controls
Up / Down         choose a recording
Enter             play or stop the chosen recording
Esc               stop playing
Ctrl+U            play all unheard, oldest first
Ctrl+1 / 2 / 3    react \U0001f44d / \u2764\ufe0f / \U0001f525 (again to take it back)
Ctrl+E            save the chosen recording as a file
Alt+1 .. Alt+4    show the last hour / 6 h / 24 h / all
F5                read the timeline again
Ctrl+,            settings
Ctrl+Q            quit"""


def _action(
    window: MainWindow, text: str, keys: str | QKeySequence.StandardKey, slot: Callable[[], None]
) -> QAction:
    action = QAction(text, window)
    action.setShortcut(QKeySequence(keys))
    action.triggered.connect(lambda _checked=False: slot())
    window.addAction(action)
    return action


def add_actions(window: MainWindow) -> None:
    bar = window.menuBar()
    app_menu = bar.addMenu("&chok")
    app_menu.addAction(_action(window, "&Settings\u2026", "Ctrl+,", window.settingsRequested.emit))
    app_menu.addSeparator()
    app_menu.addAction(_action(window, "&Quit", "Ctrl+Q", window.quit))

    def pane_call(name: str) -> Callable[[], None]:
        def call() -> None:
            pane = window.timeline
            if pane is not None:
                getattr(pane, name)()

        return call

    timeline = bar.addMenu("&Timeline")
    timeline.addAction(_action(window, "&Play or stop", "Ctrl+P", pane_call("play_or_stop")))
    timeline.addAction(_action(window, "S&top playing", "Esc", lambda: window.vm.stop()))
    timeline.addAction(
        _action(window, "Play all &unheard", "Ctrl+U", lambda: window.vm.play_unheard())
    )
    timeline.addSeparator()
    for number, emoji in enumerate(REACTIONS, start=1):

        def react(e: str = emoji) -> None:
            if window.timeline is not None:
                window.timeline.react(e)

        timeline.addAction(_action(window, f"React {emoji}", f"Ctrl+{number}", react))
    timeline.addAction(_action(window, "&Save audio\u2026", "Ctrl+E", pane_call("export_selected")))
    timeline.addSeparator()
    for number, label in enumerate(SINCE, start=1):

        def since(key: str = label) -> None:
            if window.timeline is not None:
                window.timeline.since_buttons[key].click()

        timeline.addAction(_action(window, f"Show {label}", f"Alt+{number}", since))
    timeline.addAction(_action(window, "&Refresh", "F5", lambda: window.vm.reload()))
    help_menu = bar.addMenu("&Help")
    help_menu.addAction(_action(window, "&Keys", "F1", window.show_keys))

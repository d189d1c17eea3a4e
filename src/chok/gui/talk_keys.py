"""What holds the talk button: the mouse, Space in the window, the global hotkey.

The main window installs this object as the application's event filter and
hands it the global hotkey's presses; every source ends in one hold, so
holding Space and the hotkey together is still one press, and the hold ends
when the last of them lets go. The view-model's press machine sorts out key
auto-repeat; this only decides which key events are talk keys.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

from chok.gui.widgets import PttButton

_TYPING = (QLineEdit, QTextEdit, QPlainTextEdit, QAbstractSpinBox)


class TalkKeys(QObject):
    def __init__(
        self,
        window: QWidget,
        button: PttButton,
        press: Callable[[], None],
        release: Callable[[], None],
        focus_lost: Callable[[], None],
    ) -> None:
        """``press``, ``release``, ``focus_lost``: the current view-model's (it
        changes with the channel, so they look it up on every call)."""
        super().__init__(window)
        self._window = window
        self.button = button
        self._press, self._release, self._focus_lost = press, release, focus_lost
        self._holding: set[str] = set()  # what holds the talk button: "space", "hotkey"
        button.pressed.connect(press)
        button.released.connect(release)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Space held anywhere in this window talks (not while typing in a field).

        Every key-down is passed on as a press, auto-repeats included: the press
        machine knows a repeat of a hold from a new press. A key-up Qt flags as
        an auto-repeat is dropped; one it misflags as real (X11 does that) is
        passed on, and the repeat's key-down a few ms later rejoins the hold.
        """
        kind = event.type()
        if kind not in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            return False
        if not isinstance(event, QKeyEvent) or event.key() != Qt.Key.Key_Space:
            return False
        if not isinstance(watched, QWidget) or watched.window() is not self._window:
            return False
        if isinstance(watched, _TYPING) or QApplication.activeModalWidget() is not None:
            return False
        if kind == QEvent.Type.KeyPress:
            self.key_down("space")
        elif not event.isAutoRepeat():
            self.key_up("space")
        return True

    def key_down(self, source: str) -> None:
        """A key that talks went down: Space in the window, or the global hotkey.

        Both take this one path; holding both is still one press."""
        if source in self._holding:
            return
        self._holding.add(source)
        if len(self._holding) == 1:
            self.button.setDown(True)
            self._press()

    def key_up(self, source: str) -> None:
        if source not in self._holding:
            return
        self._holding.discard(source)
        if not self._holding:
            self.button.setDown(False)
            self._release()

    def window_left(self) -> None:
        """Leaving the window during a hold: its key-up (or button-up) may go
        elsewhere. The hold ends at this moment unless a press comes back soon
        (the key still held when focus returns)."""
        # The global hotkey works without focus: only Space and the mouse let go.
        window_hold = "space" in self._holding or (self.button.isDown() and not self._holding)
        if window_hold:
            self._holding.discard("space")
            if not self._holding:
                self.button.setDown(False)
                self._focus_lost()

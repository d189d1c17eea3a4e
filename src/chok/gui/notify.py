"""Desktop notifications: a tray message when there is a tray, else the
window asks for attention (taskbar flash) and the title shows who talked."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon, QWidget


@dataclass(frozen=True)
class Notice:
    title: str
    text: str
    how: str  # "tray" or "alert"


class Notifier:
    def __init__(self, window: QWidget, icon: QIcon, tray: QSystemTrayIcon | None = None) -> None:
        """``tray``: the app's tray icon (chok.gui.tray), else one of its own."""
        self.window = window
        self.sent: list[Notice] = []
        self.tray: QSystemTrayIcon | None = None
        self._own_tray = tray is None
        if tray is not None:
            self.tray = tray if QSystemTrayIcon.isSystemTrayAvailable() else None
        elif QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(icon, window)
            self.tray.setToolTip("chok walkie-talkie")
            menu = QMenu(window)
            menu.addAction("Show chok", self._show_window)
            menu.addAction("Quit", QApplication.quit)
            self.tray.setContextMenu(menu)
            self.tray.activated.connect(lambda _reason: self._show_window())
            self.tray.show()

    @property
    def how(self) -> str:
        if self.tray is not None and QSystemTrayIcon.supportsMessages():
            return "tray"
        return "alert"

    def notify(self, title: str, text: str) -> Notice:
        notice = Notice(title, text, self.how)
        if notice.how == "tray" and self.tray is not None:
            self.tray.showMessage(title, text, QSystemTrayIcon.MessageIcon.Information, 5000)
        else:
            QApplication.alert(self.window, 0)
        self.sent.append(notice)
        return notice

    def _show_window(self) -> None:
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()

    def close(self) -> None:
        if self.tray is not None and self._own_tray:
            self.tray.hide()

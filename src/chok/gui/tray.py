"""The tray icon (with the number of unheard recordings) and the desktop settings:
the global push-to-talk hotkey and starting minimised to the tray."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from PySide6.QtCore import QObject, QRect, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon, QWidget

from chok import profiles
from chok.gui.hotkey import DEFAULT_HOTKEY

BADGE_SIZE = 64


@dataclass
class DesktopSettings:
    hotkey_on: bool = False  # off until chosen: a global key is seen in every app
    hotkey: str = DEFAULT_HOTKEY  # pynput's text, e.g. "<f8>" or "<ctrl>+<alt>+<space>"
    start_minimized: bool = False
    KEYS: ClassVar[tuple[str, str, str]] = ("gui_hotkey_on", "gui_hotkey", "gui_start_minimized")

    @classmethod
    def load(cls, profile: str) -> DesktopSettings:
        on, key, minimized = (profiles.recall(profile, k) for k in cls.KEYS)
        return cls(
            on is True, key if isinstance(key, str) and key else DEFAULT_HOTKEY, minimized is True
        )

    def save(self, profile: str) -> None:
        values = (self.hotkey_on, self.hotkey, self.start_minimized)
        for key, value in zip(self.KEYS, values, strict=True):
            profiles.remember(profile, key, value)


def badge_icon(base: QIcon, count: int) -> QIcon:
    """The app icon with a red circle and the count (nothing when 0; "99+" beyond)."""
    pixmap = base.pixmap(BADGE_SIZE, BADGE_SIZE)
    if count <= 0:
        return QIcon(pixmap)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    size = BADGE_SIZE * 3 // 5
    circle = QRect(BADGE_SIZE - size, 0, size, size)
    painter.setBrush(QColor("#d32f2f"))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawEllipse(circle)
    font = QFont()
    font.setBold(True)
    font.setPixelSize(size // 2 if count < 100 else size // 3)
    painter.setFont(font)
    painter.setPen(QColor("white"))
    painter.drawText(circle, Qt.AlignmentFlag.AlignCenter, str(count) if count < 100 else "99+")
    painter.end()
    return QIcon(pixmap)


class Tray(QObject):
    """The tray icon: unheard count, show/hide, quit. Exists without a tray too
    (``available`` says whether the desktop shows it)."""

    def __init__(self, window: QWidget, icon: QIcon) -> None:
        super().__init__(window)
        self.window = window
        self._base = icon
        self.count = 0
        self.available = QSystemTrayIcon.isSystemTrayAvailable()
        self.icon = QSystemTrayIcon(icon, window)
        menu = QMenu(window)
        menu.addAction("Show chok", self.show_window)
        menu.addAction("Hide to the tray", window.hide)
        menu.addSeparator()
        menu.addAction("Quit", QApplication.quit)
        self.icon.setContextMenu(menu)
        self.icon.activated.connect(lambda _reason: self.toggle_window())
        self.set_unheard(0)
        if self.available:
            self.icon.show()

    @property
    def tooltip(self) -> str:
        return self.icon.toolTip()

    def set_unheard(self, count: int) -> None:
        self.count = count
        self.icon.setIcon(badge_icon(self._base, count))
        heard = f"{count} unheard" if count else "nothing unheard"
        self.icon.setToolTip(f"chok walkie-talkie: {heard}")

    def show_window(self) -> None:
        self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()

    def toggle_window(self) -> None:
        if self.window.isVisible() and not self.window.isMinimized():
            self.window.hide()
        else:
            self.show_window()

    def close(self) -> None:
        self.icon.hide()

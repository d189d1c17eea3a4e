"""Small custom widgets: the push-to-talk button, a level bar, a rolling waveform,
a status line that elides.

Sizes follow the font, so the app stays readable at any scaling.
"""

from __future__ import annotations

from collections import deque

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QIcon, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QAbstractButton, QSizePolicy, QWidget

from chok.gui.ptt import PttState

# A connection state's colour and first words (the main line and scan's line).
CONN_LOOK = {
    "connected": ("#2e7d32", "Connected"),
    "connecting": ("#757575", "Connecting\u2026"),
    "reconnecting": ("#ef6c00", "Reconnecting\u2026"),
    "offline": ("#c62828", "Offline\u2026"),
    "closed": ("#c62828", "Stopped:"),
}

FLOOR_DB = -60.0

# state -> (fill colour, main text, small text)
PTT_LOOK: dict[str, tuple[str, str, str]] = {
    PttState.IDLE: ("#2e7d32", "Hold to talk", "or hold Space"),
    PttState.ARMING: ("#ad1457", "Wait", "microphone starting\u2026"),
    PttState.TALKING: ("#c62828", "Talking", "release to send"),
    PttState.SENDING: ("#ef6c00", "Sending", "one moment"),
    PttState.BUSY: ("#6d4c41", "Channel busy", "wait for the end"),
    PttState.OFFLINE: ("#757575", "Not connected", "hold to talk: sent when connected"),
    PttState.NO_MIC: ("#757575", "No microphone", "listen only (see Settings)"),
}


def level_fraction(dbfs: float) -> float:
    """dBFS to 0..1 for drawing: -60 dBFS and below is empty, 0 dBFS full."""
    return min(1.0, max(0.0, (dbfs - FLOOR_DB) / -FLOOR_DB))


class PttButton(QAbstractButton):
    """A big round button: press and hold to talk, release to send."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = PttState.OFFLINE
        self.detail = ""  # e.g. who is talking, the elapsed time
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAccessibleName("Push to talk")
        self._refresh_text()

    def set_state(self, state: str, detail: str = "") -> None:
        self.state, self.detail = state, detail
        self._refresh_text()
        self.update()

    def _refresh_text(self) -> None:
        _, main, small = PTT_LOOK.get(self.state, PTT_LOOK[PttState.OFFLINE])
        self.setText(main)
        self.setAccessibleDescription(f"{main}: {self.detail or small}")
        self.setToolTip("Hold the mouse button or the Space key while you talk; release to send")

    def sizeHint(self) -> QSize:
        side = self.fontMetrics().height() * 13
        return QSize(side, side)

    def minimumSizeHint(self) -> QSize:
        side = self.fontMetrics().height() * 8
        return QSize(side, side)

    def paintEvent(self, event: QPaintEvent) -> None:
        fill, main, small = PTT_LOOK.get(self.state, PTT_LOOK[PttState.OFFLINE])
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        side = min(self.width(), self.height()) - 8
        rect = QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)
        colour = QColor(fill)
        if self.isDown() or self.state == PttState.TALKING:
            colour = colour.darker(115)
        painter.setPen(QPen(QColor("#ffffff" if not self.hasFocus() else "#1565c0"), 6))
        painter.setBrush(colour)
        painter.drawEllipse(rect.adjusted(3, 3, -3, -3))
        painter.setPen(QColor("white"))
        big = QFont(self.font())
        big.setPointSizeF(max(8.0, side / 11 / max(1.0, self._dpi_scale())))
        big.setBold(True)
        painter.setFont(big)
        top = QRectF(rect.left(), rect.top(), rect.width(), rect.height() * 0.55)
        painter.drawText(
            top, int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom), main
        )
        note = QFont(self.font())
        note.setPointSizeF(max(7.0, big.pointSizeF() * 0.5))
        painter.setFont(note)
        bottom = QRectF(rect.left() + side * 0.1, rect.top() + rect.height() * 0.58,
                        rect.width() * 0.8, rect.height() * 0.3)  # fmt: skip
        flags = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop
        painter.drawText(bottom, int(flags | Qt.TextFlag.TextWordWrap), self.detail or small)
        painter.end()

    def _dpi_scale(self) -> float:
        # Point sizes are in typographic points: side is in logical pixels.
        return self.logicalDpiY() / 72.0


class LevelBar(QWidget):
    """How loud, as a bar from green to red; falls back smoothly."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.value = 0.0
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("Level")

    def sizeHint(self) -> QSize:
        return QSize(self.fontMetrics().height() * 12, self.fontMetrics().height())

    def set_level(self, dbfs: float) -> None:
        self.value = max(level_fraction(dbfs), self.value * 0.6)
        self.update()

    def clear(self) -> None:
        self.value = 0.0
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        radius = rect.height() / 2
        painter.setPen(QPen(self.palette().mid().color(), 1))
        painter.setBrush(self.palette().base())
        painter.drawRoundedRect(rect, radius, radius)
        if self.value > 0:
            colour = (
                "#43a047" if self.value < 0.75 else "#fdd835" if self.value < 0.92 else "#e53935"
            )
            filled = QRectF(rect.left(), rect.top(), rect.width() * self.value, rect.height())
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(colour))
            painter.drawRoundedRect(filled, radius, radius)
        painter.end()


class Waveform(QWidget):
    """The latest levels of someone talking, as a rolling row of bars."""

    def __init__(self, colour: str = "#1565c0", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.levels: deque[float] = deque(maxlen=48)
        self.colour = QColor(colour)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("Waveform of who is talking")

    def sizeHint(self) -> QSize:
        return QSize(self.fontMetrics().height() * 12, self.fontMetrics().height() * 3)

    def push(self, dbfs: float) -> None:
        self.levels.append(level_fraction(dbfs))
        self.update()

    def clear(self) -> None:
        self.levels.clear()
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        slots = self.levels.maxlen or 48
        width = self.width() / slots
        middle = self.height() / 2
        painter.setPen(QPen(self.palette().mid().color(), 1))
        painter.drawLine(QPointF(0, middle), QPointF(self.width(), middle))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.colour)
        start = slots - len(self.levels)
        for index, value in enumerate(self.levels):
            half = max(1.0, value * (self.height() / 2 - 1))
            bar = QRectF((start + index) * width + 1, middle - half, max(1.0, width - 2), half * 2)
            painter.drawRoundedRect(bar, 1.5, 1.5)
        painter.end()


def app_icon() -> QIcon:
    """A green round walkie-talkie badge, drawn (no image files needed)."""
    icon = QIcon()
    for size in (16, 32, 64, 128):
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("#2e7d32"))
        painter.drawEllipse(QRectF(0, 0, size, size))
        painter.setBrush(QColor("white"))
        w = size * 0.28
        painter.drawRoundedRect(QRectF((size - w) / 2, size * 0.2, w, size * 0.42), w / 2, w / 2)
        painter.drawRect(QRectF(size * 0.48, size * 0.62, size * 0.04 + 1, size * 0.14))
        painter.end()
        icon.addPixmap(pixmap)
    return icon


class StatusLine(QWidget):
    """A coloured dot and one line of text, elided to the width it gets: a long
    message never widens the window. A click asks for the details."""

    clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._text = ""
        self._colour = QColor("#757575")
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def set_status(self, colour: str, text: str) -> None:
        self._colour, self._text = QColor(colour), text
        self.setAccessibleDescription(text)
        self.update()

    def text(self) -> str:
        """The whole text, however much of it fits."""
        return self._text

    def sizeHint(self) -> QSize:
        metrics = self.fontMetrics()
        return QSize(metrics.height() * 12, metrics.height() + 4)

    def minimumSizeHint(self) -> QSize:
        metrics = self.fontMetrics()
        return QSize(metrics.height() * 3, metrics.height() + 4)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
        super().mouseReleaseEvent(event)

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        height = self.fontMetrics().height()
        dot = height * 0.6
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self._colour)
        painter.drawEllipse(QRectF(0, (self.height() - dot) / 2, dot, dot))
        left = int(dot + height * 0.4)
        shown = self.fontMetrics().elidedText(
            self._text, Qt.TextElideMode.ElideRight, max(0, self.width() - left)
        )
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(
            left, 0, self.width() - left, self.height(),
            int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft), shown,
        )  # fmt: skip
        painter.end()

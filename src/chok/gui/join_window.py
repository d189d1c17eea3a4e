"""First start: join with the bundle file or the link your admin gave you.

Drop the file (or the link) on the window, paste it (Ctrl+V), or pick the
file. Fetching, checking and installing run on a worker; a bad, expired or
already-used bundle is one clear sentence under the field.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import (
    QCloseEvent,
    QDragEnterEvent,
    QDragLeaveEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
    QShortcut,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from chok.gui import joining
from chok.gui.tasks import TaskRunner
from chok.profiles import Profile
from chok.protocol.bundle import Bundle

BUNDLE_FILTER = "chok bundles (*.chok *.zip);;All files (*)"


class JoinWindow(QWidget):
    joined = Signal(object)  # Profile

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("chok: join your family's walkie-talkie")
        self.setAcceptDrops(True)
        self.tasks = TaskRunner(self)
        self._bundle: Bundle | None = None  # kept when only the name clash is left
        layout = QVBoxLayout(self)
        layout.setSpacing(self.fontMetrics().height() // 2)
        title = QLabel("<h2>Welcome to chok</h2>")
        layout.addWidget(title)
        intro = QLabel(
            "Your admin gave you a <b>.chok file</b> or a <b>link</b>. "
            "Drop it here, paste it, or choose the file."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.drop_zone = QLabel("Drop your .chok file or link here")
        self.drop_zone.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.drop_zone.setFrameShape(QFrame.Shape.StyledPanel)
        self.drop_zone.setMinimumHeight(self.fontMetrics().height() * 6)
        self.drop_zone.setStyleSheet(
            "QLabel { border: 2px dashed #90a4ae; border-radius: 12px; color: #455a64; }"
        )
        layout.addWidget(self.drop_zone)
        row = QHBoxLayout()
        self.field = QLineEdit()
        self.field.setPlaceholderText("Paste the link, or the path of the .chok file")
        self.field.setAccessibleName("Join link or bundle file")
        self.field.returnPressed.connect(self.join_from_field)
        self.field.setAcceptDrops(False)  # a drop anywhere joins, the field included
        row.addWidget(self.field, 1)
        self.join_button = QPushButton("Join")
        self.join_button.setDefault(True)
        self.join_button.clicked.connect(self.join_from_field)
        row.addWidget(self.join_button)
        self.pick_button = QPushButton("Choose file\u2026")
        self.pick_button.clicked.connect(self.pick_file)
        row.addWidget(self.pick_button)
        layout.addLayout(row)
        self.error = QLabel("")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("QLabel { color: #b71c1c; }")
        self.error.setAccessibleName("Problem")
        layout.addWidget(self.error)
        self.replace_button = QPushButton("Replace that profile")
        self.replace_button.hide()
        self.replace_button.clicked.connect(self._replace)
        layout.addWidget(self.replace_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addStretch(1)
        paste = QShortcut(QKeySequence.StandardKey.Paste, self)
        paste.setContext(Qt.ShortcutContext.WindowShortcut)
        paste.activated.connect(self.paste)
        self.resize(self.fontMetrics().height() * 36, self.fontMetrics().height() * 20)

    # -- the ways in ------------------------------------------------------------

    def pick_file(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(self, "Your chok bundle", "", BUNDLE_FILTER)
        if chosen:
            self.join_path(Path(chosen))

    def paste(self) -> None:
        if self.field.hasFocus():
            self.field.paste()
            return
        mime = QGuiApplication.clipboard().mimeData()
        text = _text_of(mime) if mime is not None else None
        if text:
            self.field.setText(text)
            self.join_from_field()

    def join_from_field(self) -> None:
        text = self.field.text()
        self._start(lambda: joining.bundle_from_text(text))

    def join_path(self, path: Path) -> None:
        self.field.setText(str(path))
        self._start(lambda: joining.bundle_from_file(path))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if _text_of(event.mimeData()):
            event.acceptProposedAction()
            self.drop_zone.setText("Release to join")

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self.drop_zone.setText("Drop your .chok file or link here")

    def dropEvent(self, event: QDropEvent) -> None:
        self.drop_zone.setText("Drop your .chok file or link here")
        text = _text_of(event.mimeData())
        if text:
            event.acceptProposedAction()
            self.field.setText(text)
            self.join_from_field()

    # -- doing it ------------------------------------------------------------------

    def _start(self, read: Callable[[], Bundle]) -> None:
        self._busy(True, "Checking the bundle\u2026")
        self.tasks.run(read, self._read_ok, self._failed)

    def _read_ok(self, bundle: Bundle) -> None:
        self._bundle = bundle
        self.tasks.run(lambda: joining.install(bundle, replace=False), self._done, self._failed)

    def _replace(self) -> None:
        bundle = self._bundle
        if bundle is not None:
            self._busy(True, "Replacing the profile\u2026")
            self.tasks.run(lambda: joining.install(bundle, replace=True), self._done, self._failed)

    def _done(self, profile: Profile) -> None:
        self._busy(False, "")
        self.drop_zone.setText(f"Joined as {profile.user}")
        self.joined.emit(profile)

    def _failed(self, message: str) -> None:
        self._busy(False, message)
        self.replace_button.setVisible("already has a profile named" in message)

    def _busy(self, busy: bool, text: str) -> None:
        for widget in (self.field, self.join_button, self.pick_button):
            widget.setEnabled(not busy)
        self.replace_button.hide()
        self.error.setStyleSheet(f"QLabel {{ color: {'#455a64' if busy else '#b71c1c'}; }}")
        self.error.setText(text)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.tasks.shutdown(2000)
        super().closeEvent(event)


def _text_of(mime: QMimeData) -> str | None:
    """A dropped or pasted file (its path) or link (its text)."""
    if mime.hasUrls():
        for url in mime.urls():
            if url.isLocalFile():
                return url.toLocalFile()
            return url.toString()
    if mime.hasText() and mime.text().strip():
        return mime.text().strip().splitlines()[0]
    return None

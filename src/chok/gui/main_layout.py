"""The main screen's widgets and where they sit; the window (``main_window``)
fills and wires them.

    top:   Channel [box] | connection line | who you are | Settings
    left:  scan panel, the talk button, its caption, your level and talk time,
           who is talking, their waveform, the family's members
    right: the timeline pane (one per view-model: added by the window)

Sizes follow the font, so the screen stays readable when scaled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from chok.gui.members import MembersPane
from chok.gui.scan_panel import ScanPanel
from chok.gui.widgets import LevelBar, PttButton, StatusLine, Waveform

if TYPE_CHECKING:
    from chok.gui.main_window import MainWindow


def build(window: MainWindow) -> None:
    """Create the window's widgets (as its attributes) and lay them out."""
    top = _top_bar(window)
    left = _talk_column(window)
    window.splitter = QSplitter(Qt.Orientation.Horizontal)
    window.splitter.addWidget(left)
    window.splitter.setChildrenCollapsible(False)
    body = QWidget()
    outer = QVBoxLayout(body)
    outer.addLayout(top)
    outer.addWidget(window.splitter, 1)
    window.setCentralWidget(body)
    window.timeline = None


def _top_bar(window: MainWindow) -> QHBoxLayout:
    top = QHBoxLayout()
    channel_label = QLabel("&Channel:")
    window.channel_box = QComboBox()
    window.channel_box.setAccessibleName("Channel")
    channel_label.setBuddy(window.channel_box)
    top.addWidget(channel_label)
    top.addWidget(window.channel_box)
    window.conn_label = StatusLine()  # elided: a long message never widens the window
    window.conn_label.setAccessibleName("Connection")
    top.addWidget(window.conn_label, 1)
    window.who_label = QLabel()
    window.who_label.setTextFormat(Qt.TextFormat.PlainText)
    window.who_label.setMaximumWidth(window.fontMetrics().height() * 14)
    top.addWidget(window.who_label)
    window.settings_button = QPushButton("\u2699 Settings")
    window.settings_button.setToolTip("Microphone, speaker, volume, profile (Ctrl+,)")
    top.addWidget(window.settings_button)
    return top


def _talk_column(window: MainWindow) -> QWidget:
    left = QWidget()
    column = QVBoxLayout(left)
    window.scan_panel = ScanPanel(window.family.channels())
    column.addWidget(window.scan_panel)
    window.ptt = PttButton()
    column.addWidget(window.ptt, 1)
    window.caption = QLabel()
    window.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
    window.caption.setWordWrap(True)
    window.caption.setAccessibleName("Talk state")
    column.addWidget(window.caption)
    own = QHBoxLayout()
    own.addWidget(QLabel("You:"))
    window.own_level = LevelBar()
    own.addWidget(window.own_level, 1)
    window.elapsed_label = QLabel("0:00.0")
    window.elapsed_label.setAccessibleName("Talk time")
    own.addWidget(window.elapsed_label)
    column.addLayout(own)
    window.others_label = QLabel("Nobody else is talking")
    window.others_label.setAccessibleName("Who is talking")
    column.addWidget(window.others_label)
    window.waveform = Waveform()
    column.addWidget(window.waveform)
    window.members = MembersPane(window.profile.user)
    column.addWidget(window.members)
    return left

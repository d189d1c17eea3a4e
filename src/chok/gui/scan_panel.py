"""The channel list of scan: which channels you hear, muted ones, the priority
channel, what happens on the ones you are not looking at, and whether the
broker can be reached for them. Names come from records anyone may write:
shown through chok.protocol.display, and escaped in the rich text."""

from __future__ import annotations

import html
from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QGroupBox,
    QLabel,
    QPushButton,
    QToolButton,
    QWidget,
)

from chok.channel.scan import ScanSettings
from chok.gui.widgets import CONN_LOOK, StatusLine
from chok.protocol.client_config import ChannelConfig
from chok.protocol.display import safe_text

MUTE, PRIORITY = "\U0001f507", "\u2605"


class _Row:
    def __init__(self, channel: ChannelConfig) -> None:
        self.number = channel.number
        self.hear = QCheckBox()
        self.hear.setToolTip(f"Hear channel {channel.number} while you look at another one")
        self.hear.setAccessibleName(f"Hear channel {channel.number}")
        self.name = QPushButton(f"{channel.number} \u00b7 {safe_text(channel.name)}")
        self.name.setFlat(True)
        self.name.setToolTip("Look at this channel (and talk on it)")
        self.mute = QToolButton()
        self.mute.setText(MUTE)
        self.mute.setCheckable(True)
        self.mute.setToolTip("Mute: show who talks there, do not play it")
        self.mute.setAccessibleName(f"Mute channel {channel.number}")
        self.priority = QToolButton()
        self.priority.setText(PRIORITY)
        self.priority.setCheckable(True)
        self.priority.setToolTip("Priority: this channel interrupts the others")
        self.priority.setAccessibleName(f"Priority channel {channel.number}")
        self.activity = QLabel("")
        self.activity.setTextFormat(Qt.TextFormat.RichText)  # names in it are escaped
        self.activity.setAccessibleName(f"Activity on channel {channel.number}")
        self.talkers: list[str] = []
        self.missed = 0


class ScanPanel(QGroupBox):
    """Rows of channels: hear, name (click: look at it), mute, priority, activity."""

    settingsChanged = Signal(object)  # ScanSettings
    channelChosen = Signal(int)

    def __init__(self, channels: Sequence[ChannelConfig], parent: QWidget | None = None) -> None:
        super().__init__("Channels you hear", parent)
        self.rows: dict[int, _Row] = {}
        self.selected: int | None = None
        self._updating = False
        grid = QGridLayout(self)
        for index, channel in enumerate(channels):
            row = _Row(channel)
            self.rows[channel.number] = row
            for column, widget in enumerate(
                (row.hear, row.name, row.mute, row.priority, row.activity)
            ):
                grid.addWidget(widget, index, column)
            row.hear.toggled.connect(lambda _on: self._changed())
            row.mute.toggled.connect(lambda _on: self._changed())
            row.priority.toggled.connect(lambda on, n=channel.number: self._priority(n, on))
            row.name.clicked.connect(lambda _c=False, n=channel.number: self.channelChosen.emit(n))
        grid.setColumnStretch(4, 1)
        # The other channels' connection, while it is not there (elided: never widens).
        self.connection = StatusLine()
        self.connection.setAccessibleName("Connection for the other channels")
        self.connection.setVisible(False)
        grid.addWidget(self.connection, len(channels), 0, 1, 5)
        self.setVisible(len(channels) > 1)

    # -- from the window -------------------------------------------------------------

    def show_settings(self, settings: ScanSettings, selected: int) -> None:
        self._updating = True
        self.selected = selected
        for number, row in self.rows.items():
            row.hear.setChecked(number in settings.channels)
            row.hear.setEnabled(number != selected)  # the one on screen is always heard
            row.mute.setChecked(number in settings.muted)
            row.priority.setChecked(number == settings.priority)
            font = row.name.font()
            font.setBold(number == selected)
            row.name.setFont(font)
            if number == selected:
                row.missed = 0
            self._show_activity(row)
        self._updating = False

    def set_activity(self, number: int, talkers: list[str]) -> None:
        row = self.rows.get(number)
        if row is not None:
            row.talkers = talkers
            self._show_activity(row)

    def set_missed(self, number: int, count: int) -> None:
        row = self.rows.get(number)
        if row is not None:
            row.missed = count
            self._show_activity(row)

    def set_connection(self, state: str, text: str) -> None:
        """The other channels' connection (a ConnState value, "" with none heard), in
        the main connection line's words; shown only while it is not there."""
        colour, words = CONN_LOOK.get(state, ("#757575", state))
        shown = state not in ("", "connected", "connecting")  # connecting: for a moment
        line = f"{words} {text}" if shown else ""
        self.connection.set_status(colour, line)
        self.connection.setToolTip(f"The channels you hear but do not look at: {line}")
        self.connection.setVisible(shown)

    @property
    def missed_total(self) -> int:
        return sum(r.missed for n, r in self.rows.items() if n != self.selected)

    def _show_activity(self, row: _Row) -> None:
        parts = []
        if row.talkers:
            names = ", ".join(html.escape(safe_text(t)) for t in row.talkers)
            parts.append(f"<b style='color:#c62828'>\u25cf {names}</b>")
        if row.missed and row.number != self.selected:
            parts.append(f"{row.missed} new")
        row.activity.setText(" ".join(parts))

    # -- from the person ---------------------------------------------------------------

    def _priority(self, number: int, on: bool) -> None:
        if self._updating:
            return
        if on:  # one priority channel at most
            self._updating = True
            for other, row in self.rows.items():
                if other != number:
                    row.priority.setChecked(False)
            self.rows[number].hear.setChecked(True)
            self._updating = False
        self._changed()

    def settings(self) -> ScanSettings:
        heard = tuple(n for n, r in self.rows.items() if r.hear.isChecked() or n == self.selected)
        priority = next((n for n, r in self.rows.items() if r.priority.isChecked()), None)
        return ScanSettings(
            heard,
            frozenset(n for n, r in self.rows.items() if r.mute.isChecked() and n in heard),
            priority if priority in heard else None,
        )

    def _changed(self) -> None:
        if not self._updating:
            self.settingsChanged.emit(self.settings())

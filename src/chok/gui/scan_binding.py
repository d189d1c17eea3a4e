"""The main window's other channels: its scan panel wired to ``Scanning``.

The panel (``scan_panel``) shows the channels not on screen and takes the
person's choices; ``scanning`` hears them on one connection. This object
connects the two for the window: who talks there (by the names the family
chose), missed counts into the tray's badge, a notification when the window
is away, the choices saved per profile, and a new panel when the admin
changes one's channels. The window keeps both as its attributes (``window.
scan_panel``, ``window.scanning``), as the tests and the menus reach them.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from chok.channel.scan import ScanSettings
from chok.gui.scan_panel import ScanPanel
from chok.gui.scanning import load_scan, save_scan
from chok.protocol.client_config import ChannelConfig
from chok.protocol.people import shown

if TYPE_CHECKING:
    from chok.gui.main_window import MainWindow


class ScanBinding(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        scan, panel = window.scanning, window.scan_panel
        scan.activity.connect(self._activity)
        scan.someoneTalking.connect(self._talking)
        scan.missedChanged.connect(self._missed)
        scan.liveStarted.connect(lambda key: window.vm.live_started(key))
        scan.liveEnded.connect(lambda key: window.vm.live_ended(key))
        scan.problem.connect(lambda text: window.show_message(text, True))
        scan.connectionChanged.connect(window.scan_panel.set_connection)
        panel.settingsChanged.connect(self.set_scan)
        panel.channelChosen.connect(window.set_channel)

    def replace_panel(self, channels: list[ChannelConfig]) -> None:
        """The channels one hears follow the channels one has."""
        window = self._window
        mine = window.effective_profile()
        window.scanning.profile = mine
        old, window.scan_panel = window.scan_panel, ScanPanel(channels)
        parent = old.parentWidget()
        layout = parent.layout() if parent is not None else None
        if layout is not None:
            layout.replaceWidget(old, window.scan_panel)
        old.deleteLater()
        window.scanning.activity.connect(self._activity)
        window.scan_panel.settingsChanged.connect(self.set_scan)
        window.scan_panel.channelChosen.connect(window.set_channel)
        current = window.vm.session.number
        if any(c.number == current for c in channels):
            self.set_scan(load_scan(mine, current))

    def show_channel(self, number: int) -> None:
        """A view-model for channel ``number`` is on screen: scan around it."""
        window = self._window
        settings = window.scan_gate.settings
        if number not in settings.channels:  # the one on screen is always heard
            settings = load_scan(window.profile, number)
        window.scanning.configure(settings, number)
        window.scan_panel.show_settings(settings, number)

    def set_scan(self, settings: ScanSettings) -> None:
        """Which channels are heard, muted, and the priority one (remembered)."""
        window = self._window
        save_scan(window.profile.name, settings)
        window.scanning.configure(settings, window.vm.session.number)
        window.scan_panel.show_settings(settings, window.vm.session.number)

    def _activity(self, number: int, talkers: list[str]) -> None:
        """Who talks on a channel not on screen, by the names the family chose."""
        names = [html.escape(self._window.name_of(t)) for t in talkers]
        self._window.scan_panel.set_activity(number, names)

    def _talking(self, number: int, talker: str) -> None:
        window = self._window
        if window.isHidden() or window.isMinimized():
            name = shown(window.effective_profile().channel(number).name, 32)
            window.notifier.notify(
                f"{window.name_of(talker)} is talking", f"on channel {name} (chok)"
            )

    def _missed(self, number: int, count: int) -> None:
        self._window.scan_panel.set_missed(number, count)
        self._window.update_tray()

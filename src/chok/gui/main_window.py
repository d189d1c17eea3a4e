"""The main screen: channel, connection, the big button, who is talking, the timeline."""

from __future__ import annotations

import html
import time

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSplitter,
)

from chok.channel.scan import ScanGate
from chok.channel.timeline import Entry
from chok.gui.audio_io import AudioDevices, AudioSettings
from chok.gui.family import FamilyModel
from chok.gui.hotkey import GlobalHotkey
from chok.gui.keys import KEYS_HELP, add_actions
from chok.gui.main_layout import build
from chok.gui.members import MembersPane
from chok.gui.notify import Notifier
from chok.gui.ptt import PttState
from chok.gui.scan_binding import ScanBinding
from chok.gui.scan_panel import ScanPanel
from chok.gui.scanning import Scanning, load_scan
from chok.gui.talk_keys import TalkKeys
from chok.gui.tasks import TaskRunner, UiCaller
from chok.gui.timeline_view import TimelinePane, ask_export_path
from chok.gui.tray import DesktopSettings, Tray
from chok.gui.viewmodel import ChannelViewModel
from chok.gui.widgets import CONN_LOOK, LevelBar, PttButton, StatusLine, Waveform, app_icon
from chok.profiles import Profile
from chok.protocol.client_config import ChannelConfig
from chok.protocol.people import shown

# How often the app asks the broker whether it is there and whether the
# timeline changed (reactions; new recordings also come live): each probe is
# four small requests, so every 5 s keeps an idle app's egress below the
# original app's (issue 12: 2 s cost 0.56 KB/s, 5 s 0.44 KB/s, the original
# 0.47 KB/s); new recordings still appear at once.
PROBE_MS = 5000


class MainWindow(QMainWindow):
    settingsRequested = Signal()
    # The widgets, made by gui.main_layout.build (the tests and the menus reach them by name).
    channel_box: QComboBox
    conn_label: StatusLine
    who_label: QLabel
    settings_button: QPushButton
    scan_panel: ScanPanel
    ptt: PttButton
    caption: QLabel
    own_level: LevelBar
    elapsed_label: QLabel
    others_label: QLabel
    waveform: Waveform
    members: MembersPane
    splitter: QSplitter
    timeline: TimelinePane | None

    def __init__(
        self,
        profile: Profile,
        devices: AudioDevices | None = None,
        audio: AudioSettings | None = None,
        channel: int | None = None,
        probe_ms: int = PROBE_MS,
    ) -> None:
        super().__init__()
        self.profile = profile
        self.devices = devices or AudioDevices()
        self.audio = audio or AudioSettings.load(profile.name)
        self.probe_ms = probe_ms
        self.messages: list[tuple[str, bool]] = []  # everything shown in the status bar
        self._retired: list[ChannelViewModel] = []
        self.setWindowIcon(app_icon())
        self.tray = Tray(self, app_icon())
        self.notifier = Notifier(self, app_icon(), self.tray.icon)
        self.desktop = DesktopSettings.load(profile.name)
        self.hotkey = GlobalHotkey(self)
        self.ui, self.tasks = UiCaller(self), TaskRunner(self, max_threads=2)
        self.family = FamilyModel(profile)  # before the views: they show its names
        self._build()
        mine = self.effective_profile()  # the channels the admin lets us use now
        first = mine.channel(channel).number
        self.scan_gate = ScanGate(load_scan(mine, first), time.monotonic)
        self.scanning = Scanning(
            mine, self.scan_gate, self.devices, lambda: self.audio.output,
            lambda: self.audio.volume, self.tasks, self.ui,
        )  # fmt: skip
        self.scan_binding = ScanBinding(self)  # the other channels: gui.scan_binding
        self.vm = self._new_vm(channel)
        self._attach(self.vm)
        self._bind_family()
        add_actions(self)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self.talk_keys)
        self._reaper = QTimer(self)
        self._reaper.setInterval(1000)
        self._reaper.timeout.connect(self._reap)
        self._reaper.start()
        line = self.fontMetrics().height()
        self.resize(line * 62, line * 38)
        self.apply_desktop(self.desktop)

    # -- building ------------------------------------------------------------

    def _build(self) -> None:
        build(self)  # gui.main_layout: the widgets and where they sit
        self._fill_channels(self.family.channels())
        self.channel_box.activated.connect(
            lambda index: self.set_channel(int(self.channel_box.itemData(index)))
        )
        self.conn_label.clicked.connect(self._connection_details)
        self._show_me()
        self.settings_button.clicked.connect(self.settingsRequested)
        self.members.set_members(self.family.members)
        self.talk_keys = TalkKeys(
            self, self.ptt, lambda: self.vm.press(), lambda: self.vm.release(),
            lambda: self.vm.focus_lost(),
        )  # fmt: skip
        self.hotkey.pressed.connect(lambda: self.talk_keys.key_down("hotkey"))
        self.hotkey.released.connect(lambda: self.talk_keys.key_up("hotkey"))

    def _new_vm(self, channel: int | None) -> ChannelViewModel:
        profile = self.effective_profile()
        return ChannelViewModel(
            profile, channel, self.devices, self.audio, self.probe_ms, self.scan_gate,
            family=self.family,
        )  # fmt: skip

    def effective_profile(self) -> Profile:
        """The profile with the channels the admin lets this person use now."""
        from dataclasses import replace

        channels = self.family.channels()
        return Profile(self.profile.name, self.profile.path, replace(self.profile.config,
                                                                    channels=channels))  # fmt: skip

    # -- the family ------------------------------------------------------------------

    def _bind_family(self) -> None:
        fam = self.family
        fam.membersChanged.connect(self.members.set_members)
        fam.namesChanged.connect(self._show_me)
        fam.namesChanged.connect(lambda: self._floor(self.vm.listening.talkers()))
        fam.channelsChanged.connect(self._channels_changed)
        fam.message.connect(self.show_message)
        fam.start()

    def _show_me(self) -> None:
        name = self.family.my_name
        text = f"You are {shown(name)}" if name else f"You are {self.profile.user}"
        metrics = self.who_label.fontMetrics()
        width = self.who_label.maximumWidth()
        self.who_label.setText(metrics.elidedText(text, Qt.TextElideMode.ElideRight, width))
        self.who_label.setToolTip(f"{text} (user name {self.profile.user})")

    def _fill_channels(self, channels: list[ChannelConfig]) -> None:
        self._channels_shown = list(channels)
        self.channel_box.clear()
        for c in channels:
            self.channel_box.addItem(f"{c.number} \u00b7 {shown(c.name, 32)}", c.number)

    def _channels_changed(self, channels: list[ChannelConfig]) -> None:
        """The admin granted or took away a channel: the list follows at once."""
        shown_now = [(c.number, c.name) for c in self._channels_shown]
        if [(c.number, c.name) for c in channels] == shown_now:
            return  # the first record read says what the bundle said: nothing to do
        current = self.vm.session.number
        before = {self.channel_box.itemData(i) for i in range(self.channel_box.count())}
        self._fill_channels(channels)
        self.scan_binding.replace_panel(channels)
        numbers = [c.number for c in channels]
        if current in numbers:
            self.channel_box.setCurrentIndex(self.channel_box.findData(current))
        elif numbers:
            self.show_message(f"channel {current} was taken away from you", True)
            self.set_channel(numbers[0])
        added = [c for c in channels if c.number not in before]
        if added:
            names = ", ".join(f"{c.number} {shown(c.name, 32)}" for c in added)
            self.show_message(f"new channel for you: {names}", False)

    def name_of(self, user: str) -> str:
        return shown(self.family.name(user), 32)

    def update_tray(self) -> None:
        self.tray.set_unheard(len(self.vm.unheard) + self.scan_panel.missed_total)

    def _attach(self, vm: ChannelViewModel) -> None:
        vm.connectionChanged.connect(self._connection)
        vm.pttStateChanged.connect(self._ptt_state)
        vm.floorChanged.connect(self._floor)
        vm.otherLevel.connect(lambda _talker, dbfs: self.waveform.push(dbfs))
        vm.ownLevel.connect(self.own_level.set_level)
        vm.ownElapsed.connect(self._elapsed)
        vm.message.connect(self.show_message)
        vm.someoneTalking.connect(self._someone_talking)
        vm.unheardChanged.connect(lambda _ids: self.update_tray())
        pane = TimelinePane(vm)
        pane.exportRequested.connect(self._export)
        if self.timeline is not None:
            self.splitter.replaceWidget(1, pane)
            self.timeline.deleteLater()
        else:
            self.splitter.addWidget(pane)
            self.splitter.setSizes([self.width() * 2 // 5, self.width() * 3 // 5])
        self.timeline = pane
        index = self.channel_box.findData(vm.session.number)
        self.channel_box.setCurrentIndex(index)
        self.setWindowTitle(f"chok: {self.profile.user} on channel {vm.session.config.name}")
        self._connection(vm.listening.state.value, vm.listening.detail)
        self._ptt_state(vm.ptt_state)
        self._floor([])
        self.scan_binding.show_channel(vm.session.number)
        vm.start()

    # -- channel -----------------------------------------------------------------

    def set_channel(self, number: int) -> None:
        if number == self.vm.session.number:
            return
        old = self.vm
        old.close(wait_ms=0)  # its threads end on their own; reaped when idle
        self._retired.append(old)
        self.vm = self._new_vm(number)
        self._attach(self.vm)

    def _reap(self) -> None:
        for vm in [v for v in self._retired if v.tasks.idle]:
            self._retired.remove(vm)
            vm.deleteLater()

    def apply_audio(self, audio: AudioSettings) -> None:
        """New devices or volume: volume applies at once, devices on a fresh channel view."""
        before = (self.audio.input, self.audio.output, self.audio.keep_mic_open)
        self.audio.input, self.audio.output = audio.input, audio.output
        self.audio.volume, self.audio.keep_mic_open = audio.volume, audio.keep_mic_open
        self.audio.save(self.profile.name)
        if (audio.input, audio.output) != before[:2]:
            self.scanning.new_output()
        if (audio.input, audio.output, audio.keep_mic_open) != before:
            old = self.vm
            old.close(wait_ms=0)
            self._retired.append(old)
            self.vm = self._new_vm(old.session.number)
            self._attach(self.vm)

    # -- push to talk ------------------------------------------------------------

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.ActivationChange and not self.isActiveWindow():
            self.talk_keys.window_left()  # a hold by Space or the mouse ends here (gui.talk_keys)
        super().changeEvent(event)

    def apply_desktop(self, desktop: DesktopSettings) -> None:
        """The global hotkey on or off (saying why not, where the desktop forbids it)."""
        self.desktop = desktop
        desktop.save(self.profile.name)
        said = self.hotkey.apply(desktop.hotkey_on, desktop.hotkey)
        if said is not None:
            self.show_message(*said)

    def _ptt_state(self, state: str) -> None:
        talkers = self.vm.listening.talkers()
        detail = ""
        if state == PttState.BUSY:
            names = " and ".join(self.name_of(t) for t in talkers)
            detail = f"{names} {'is' if len(talkers) == 1 else 'are'} talking"
        elif state == PttState.NO_MIC:
            detail = "listen only: no microphone"
        self.ptt.set_state(state, detail)
        captions = {
            PttState.IDLE: "Hold the button (or Space) while you talk; release to send.",
            PttState.ARMING: "Microphone starting\u2026 talk after the chirp.",
            PttState.TALKING: "Talking\u2026 release to send.",
            PttState.SENDING: "Sending\u2026",
            PttState.BUSY: f"{detail}: wait for the end of it.",
            PttState.OFFLINE: f"Not connected: {self.vm.listening.detail}",
            PttState.NO_MIC: f"No microphone ({self.vm.mic_problem}). You can still listen.",
        }
        self.caption.setText(captions.get(state, ""))
        if state == PttState.TALKING:
            self._elapsed(0)
        else:
            self.own_level.clear()

    def _elapsed(self, ms: int) -> None:
        self.elapsed_label.setText(f"{ms // 60000}:{ms % 60000 / 1000:04.1f}")

    # -- others -----------------------------------------------------------------

    def _floor(self, talkers: list[str]) -> None:
        if talkers:
            verb = "is" if len(talkers) == 1 else "are"
            names = " and ".join(html.escape(self.name_of(t)) for t in talkers)
            self.others_label.setText(f"<b>{names}</b> {verb} talking")
        else:
            self.others_label.setText("Nobody else is talking")
            self.waveform.clear()
        self._ptt_state(self.vm.ptt_state)

    def _someone_talking(self, talker: str) -> None:
        if self.isHidden() or self.isMinimized():
            self.notifier.notify(
                f"{self.name_of(talker)} is talking",
                f"on channel {shown(self.vm.session.config.name, 32)} (chok)",
            )

    def _connection(self, state: str, detail: str) -> None:
        colour, text = CONN_LOOK.get(state, ("#757575", state))
        self.conn_label.set_status(colour, text if state == "connected" else f"{text} {detail}")
        kafka = self.vm.listening.kafka_detail
        more = f"\n\nDetails (click): {kafka}" if kafka else ""
        self.conn_label.setToolTip(detail + more)

    def _connection_details(self) -> None:
        """The whole story, Kafka's own words included (the label shows one line)."""
        listening = self.vm.listening
        text = listening.detail
        if listening.kafka_detail:
            text += f"\n\nKafka says: {listening.kafka_detail}"
        QMessageBox.information(self, "chok: connection", text)

    # -- messages, export, closing ------------------------------------------------

    def show_message(self, text: str, error: bool = False) -> None:
        self.messages.append((text, error))
        bar = self.statusBar()
        bar.setStyleSheet("QStatusBar { color: #b71c1c; }" if error else "")
        bar.showMessage(text, 10000)

    def _export(self, entry: Entry) -> None:
        path = ask_export_path(self, entry)
        if path is not None:
            self.vm.export(entry, path)

    def quit(self) -> None:
        self.close()

    def show_keys(self) -> None:
        QMessageBox.information(self, "chok keys", KEYS_HELP)

    def closeEvent(self, event: QCloseEvent) -> None:
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self.talk_keys)
        self._reaper.stop()
        self.hotkey.stop()
        self.scanning.close()
        self.notifier.close()
        self.tray.close()
        self.vm.close(wait_ms=3000)
        for vm in self._retired:
            vm.tasks.shutdown(3000)
        self.tasks.shutdown(3000)
        self.ui.closed = True
        self.family.close(wait_ms=3000)  # says "offline" to the family
        super().closeEvent(event)

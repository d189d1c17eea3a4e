"""The main screen: channel, connection, the big button, who is talking, the timeline."""

from __future__ import annotations

import html

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from chok.channel.timeline import Entry
from chok.gui.audio_io import AudioDevices, AudioSettings
from chok.gui.family import FamilyModel
from chok.gui.keys import KEYS_HELP, add_actions
from chok.gui.members import MembersPane
from chok.gui.notify import Notifier
from chok.gui.timeline_view import TimelinePane, ask_export_path
from chok.gui.viewmodel import ChannelViewModel, PttState
from chok.gui.widgets import LevelBar, PttButton, Waveform, app_icon
from chok.profiles import Profile
from chok.protocol.client_config import ChannelConfig
from chok.protocol.people import shown

CONN_LOOK = {
    "connected": ("#2e7d32", "Connected"),
    "connecting": ("#757575", "Connecting\u2026"),
    "reconnecting": ("#ef6c00", "Reconnecting\u2026"),
}
_TYPING = (QLineEdit, QTextEdit, QPlainTextEdit, QAbstractSpinBox)


class MainWindow(QMainWindow):
    settingsRequested = Signal()

    def __init__(
        self,
        profile: Profile,
        devices: AudioDevices | None = None,
        audio: AudioSettings | None = None,
        channel: int | None = None,
        probe_ms: int = 2000,
    ) -> None:
        super().__init__()
        self.profile = profile
        self.devices = devices or AudioDevices()
        self.audio = audio or AudioSettings.load(profile.name)
        self.probe_ms = probe_ms
        self.messages: list[tuple[str, bool]] = []  # everything shown in the status bar
        self._retired: list[ChannelViewModel] = []
        self._space_down = False
        self.setWindowIcon(app_icon())
        self.notifier = Notifier(self, app_icon())
        self.family = FamilyModel(profile)
        self._build()
        self._bind_family()
        self.vm = self._new_vm(channel)
        self._attach(self.vm)
        add_actions(self)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        self._reaper = QTimer(self)
        self._reaper.setInterval(1000)
        self._reaper.timeout.connect(self._reap)
        self._reaper.start()
        line = self.fontMetrics().height()
        self.resize(line * 62, line * 38)

    # -- building ------------------------------------------------------------

    def _build(self) -> None:
        top = QHBoxLayout()
        channel_label = QLabel("&Channel:")
        self.channel_box = QComboBox()
        self.channel_box.setAccessibleName("Channel")
        channel_label.setBuddy(self.channel_box)
        self._fill_channels(self.family.channels())
        self.channel_box.activated.connect(
            lambda index: self.set_channel(int(self.channel_box.itemData(index)))
        )
        top.addWidget(channel_label)
        top.addWidget(self.channel_box)
        self.conn_label = QLabel()
        self.conn_label.setAccessibleName("Connection")
        top.addWidget(self.conn_label, 1)
        self.who_label = QLabel()
        self.who_label.setTextFormat(Qt.TextFormat.PlainText)
        self.who_label.setMaximumWidth(self.fontMetrics().height() * 14)
        self._show_me()
        top.addWidget(self.who_label)
        self.settings_button = QPushButton("\u2699 Settings")
        self.settings_button.setToolTip("Microphone, speaker, volume, profile (Ctrl+,)")
        self.settings_button.clicked.connect(self.settingsRequested)
        top.addWidget(self.settings_button)

        left = QWidget()
        column = QVBoxLayout(left)
        self.ptt = PttButton()
        self.ptt.pressed.connect(self._ptt_pressed)
        self.ptt.released.connect(self._ptt_released)
        column.addWidget(self.ptt, 1)
        self.caption = QLabel()
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption.setWordWrap(True)
        self.caption.setAccessibleName("Talk state")
        column.addWidget(self.caption)
        own = QHBoxLayout()
        own.addWidget(QLabel("You:"))
        self.own_level = LevelBar()
        own.addWidget(self.own_level, 1)
        self.elapsed_label = QLabel("0:00.0")
        self.elapsed_label.setAccessibleName("Talk time")
        own.addWidget(self.elapsed_label)
        column.addLayout(own)
        self.others_label = QLabel("Nobody else is talking")
        self.others_label.setAccessibleName("Who is talking")
        column.addWidget(self.others_label)
        self.waveform = Waveform()
        column.addWidget(self.waveform)
        self.members = MembersPane(self.profile.user)
        self.members.set_members(self.family.members)
        column.addWidget(self.members)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.setChildrenCollapsible(False)
        body = QWidget()
        outer = QVBoxLayout(body)
        outer.addLayout(top)
        outer.addWidget(self.splitter, 1)
        self.setCentralWidget(body)
        self.timeline: TimelinePane | None = None

    def _new_vm(self, channel: int | None) -> ChannelViewModel:
        profile = self._effective_profile()
        return ChannelViewModel(
            profile, channel, self.devices, self.audio, self.probe_ms, family=self.family
        )

    def _effective_profile(self) -> Profile:
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
        self.channel_box.clear()
        for c in channels:
            self.channel_box.addItem(f"{c.number} \u00b7 {shown(c.name, 32)}", c.number)

    def _channels_changed(self, channels: list[ChannelConfig]) -> None:
        """The admin granted or took away a channel: the list follows at once."""
        current = self.vm.session.number
        before = {self.channel_box.itemData(i) for i in range(self.channel_box.count())}
        self._fill_channels(channels)
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

    def _attach(self, vm: ChannelViewModel) -> None:
        vm.connectionChanged.connect(self._connection)
        vm.pttStateChanged.connect(self._ptt_state)
        vm.floorChanged.connect(self._floor)
        vm.otherLevel.connect(lambda _talker, dbfs: self.waveform.push(dbfs))
        vm.ownLevel.connect(self.own_level.set_level)
        vm.ownElapsed.connect(self._elapsed)
        vm.message.connect(self.show_message)
        vm.someoneTalking.connect(self._someone_talking)
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
        devices_changed = (audio.input, audio.output) != (self.audio.input, self.audio.output)
        self.audio.input, self.audio.output, self.audio.volume = (
            audio.input,
            audio.output,
            audio.volume,
        )
        self.audio.save(self.profile.name)
        if devices_changed:
            old = self.vm
            old.close(wait_ms=0)
            self._retired.append(old)
            self.vm = self._new_vm(old.session.number)
            self._attach(self.vm)

    # -- push to talk ------------------------------------------------------------

    def _ptt_pressed(self) -> None:
        self.vm.press()

    def _ptt_released(self) -> None:
        self.vm.release()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Space held anywhere in this window talks (not while typing in a field)."""
        kind = event.type()
        if kind not in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            return False
        if not isinstance(event, QKeyEvent) or event.key() != Qt.Key.Key_Space:
            return False
        if not isinstance(watched, QWidget) or watched.window() is not self:
            return False
        if isinstance(watched, _TYPING) or QApplication.activeModalWidget() is not None:
            return False
        if event.isAutoRepeat():
            return True
        if kind == QEvent.Type.KeyPress and not self._space_down:
            self._space_down = True
            self.ptt.setDown(True)
            self.vm.press()
        elif kind == QEvent.Type.KeyRelease and self._space_down:
            self._space_down = False
            self.ptt.setDown(False)
            self.vm.release()
        return True

    def changeEvent(self, event: QEvent) -> None:
        """Leaving the window while holding Space sends: the key-up would go elsewhere."""
        left = event.type() == QEvent.Type.ActivationChange and not self.isActiveWindow()
        if left and self._space_down:
            self._space_down = False
            self.ptt.setDown(False)
            self.vm.release()
        super().changeEvent(event)

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
        extra = "" if state == "connected" else f" <small>{detail}</small>"
        self.conn_label.setText(f"<span style='color:{colour}'>\u25cf</span> {text}{extra}")
        self.conn_label.setToolTip(detail)

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
            app.removeEventFilter(self)
        self._reaper.stop()
        self.notifier.close()
        self.vm.close(wait_ms=3000)
        for vm in self._retired:
            vm.tasks.shutdown(3000)
        self.family.close(wait_ms=3000)  # says "offline" to the family
        super().closeEvent(event)

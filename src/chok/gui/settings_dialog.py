"""Settings: microphone, speaker, volume, and which profile you are."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QKeySequenceEdit,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from chok import profiles
from chok.audio import DeviceInfo, list_devices
from chok.errors import UsageError
from chok.gui.audio_io import NO_INPUT, NO_OUTPUT, AudioSettings
from chok.gui.hotkey import from_qt, hotkey_problem, shown
from chok.gui.tasks import TaskRunner
from chok.gui.tray import DesktopSettings
from chok.profiles import Profile
from chok.protocol.people import MAX_DISPLAY_NAME, validate_display_name

JOIN_ANOTHER = "join"  # what ``choice`` holds when the person wants to join again


class SettingsDialog(QDialog):
    def __init__(
        self,
        audio: AudioSettings,
        profile: Profile,
        parent: QWidget | None = None,
        desktop: DesktopSettings | None = None,
        display_name: str | None = None,
        archive: bool = False,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("chok settings")
        self.audio = AudioSettings(audio.input, audio.output, audio.volume, audio.keep_mic_open)
        self.desktop = dataclasses.replace(desktop or DesktopSettings())
        self.profile = profile
        self.choice: str | None = None  # a profile name to switch to, or JOIN_ANOTHER
        self.tasks = TaskRunner(self, max_threads=1)
        self.display_name = display_name  # what the family sees (None: the user name)
        self.archive = archive
        form = QFormLayout()
        self.name_edit = QLineEdit(display_name or "")
        self.name_edit.setPlaceholderText(profile.user)
        self.name_edit.setMaxLength(MAX_DISPLAY_NAME)
        self.name_edit.setAccessibleName("Your name")
        self.name_edit.setToolTip("What the family sees instead of your user name (any language)")
        form.addRow("Your &name:", self.name_edit)
        self.name_error = QLabel("")
        self.name_error.setStyleSheet("color: #b71c1c")
        self.name_error.setWordWrap(True)
        form.addRow("", self.name_error)
        self.input_box = QComboBox()
        self.input_box.setAccessibleName("Microphone")
        self._fill(self.input_box, [("System default", None), ("No microphone", NO_INPUT)])
        self._keep(self.input_box, audio.input)
        form.addRow("&Microphone:", self.input_box)
        self.keep_open_box = QCheckBox("&Keep the microphone ready while chok is open")
        self.keep_open_box.setToolTip(
            "Your first word is never lost: the microphone does not have to wake up at the "
            "press, and the moment just before it is kept. The system shows the microphone "
            "as in use while chok is open."
        )
        self.keep_open_box.setChecked(audio.keep_mic_open)
        form.addRow("", self.keep_open_box)
        self.output_box = QComboBox()
        self.output_box.setAccessibleName("Speaker")
        self._fill(self.output_box, [("System default", None), ("No sound", NO_OUTPUT)])
        self._keep(self.output_box, audio.output)
        form.addRow("&Speaker:", self.output_box)
        volume_row = QHBoxLayout()
        self.volume = QSlider(Qt.Orientation.Horizontal)
        self.volume.setRange(0, 150)
        self.volume.setValue(round(audio.volume * 100))
        self.volume.setAccessibleName("Volume")
        self.volume_label = QLabel()
        self.volume.valueChanged.connect(lambda v: self.volume_label.setText(f"{v} %"))
        self.volume_label.setText(f"{self.volume.value()} %")
        volume_row.addWidget(self.volume, 1)
        volume_row.addWidget(self.volume_label)
        volume_label = QLabel("&Volume:")
        volume_label.setBuddy(self.volume)
        form.addRow(volume_label, volume_row)
        self.devices_note = QLabel("Looking for sound devices\u2026")
        self.devices_note.setWordWrap(True)
        form.addRow("", self.devices_note)
        self._desktop_rows(form)
        self.profile_box = QComboBox()
        self.profile_box.setAccessibleName("Profile")
        for name in profiles.names():
            self.profile_box.addItem(name, name)
        self.profile_box.setCurrentIndex(max(0, self.profile_box.findData(profile.name)))
        form.addRow("&Profile:", self.profile_box)
        who = QLabel(
            f"You are <b>{profile.user}</b> on {profile.config.broker_url}; channels "
            + ", ".join(f"{c.number} ({c.name})" for c in profile.config.channels)
        )
        who.setWordWrap(True)
        who.setTextFormat(Qt.TextFormat.RichText)
        form.addRow("", who)
        self.archive_box = QCheckBox("&Keep every recording on this computer (family archive)")
        self.archive_box.setChecked(archive)
        self.archive_box.setToolTip(
            "Recordings stay playable here after the server's retention removes them"
        )
        form.addRow("", self.archive_box)
        join = QPushButton("&Join with another bundle\u2026")
        join.clicked.connect(self._join_another)
        form.addRow("", join)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.setMinimumWidth(self.fontMetrics().height() * 32)
        self.tasks.run(list_devices, self._devices, self._no_devices)

    def _desktop_rows(self, form: QFormLayout) -> None:
        """The global push-to-talk hotkey and starting in the tray."""
        row = QHBoxLayout()
        self.hotkey_check = QCheckBox("Talk from any app, holding")
        self.hotkey_check.setChecked(self.desktop.hotkey_on)
        self.hotkey_edit = QKeySequenceEdit(QKeySequence(shown(self.desktop.hotkey)))
        self.hotkey_edit.setMaximumSequenceLength(1)
        self.hotkey_edit.setAccessibleName("Push-to-talk hotkey")
        row.addWidget(self.hotkey_check)
        row.addWidget(self.hotkey_edit, 1)
        form.addRow("Hotkey:", row)
        problem = hotkey_problem()
        self.hotkey_note = QLabel(
            f"Not on this desktop: {problem}." if problem else
            "Works while chok is in the background; the key still reaches the app you are in."
        )  # fmt: skip
        self.hotkey_note.setWordWrap(True)
        form.addRow("", self.hotkey_note)
        self.minimized_check = QCheckBox("Start minimised to the tray")
        self.minimized_check.setChecked(self.desktop.start_minimized)
        form.addRow("", self.minimized_check)

    @staticmethod
    def _fill(box: QComboBox, items: list[tuple[str, str | None]]) -> None:
        for label, value in items:
            box.addItem(label, value)

    @staticmethod
    def _keep(box: QComboBox, value: str | None) -> None:
        """Select ``value``, adding it when it is not one of the choices (e.g. file:...)."""
        index = box.findData(value)
        if index < 0:
            box.addItem(str(value), value)
            index = box.count() - 1
        box.setCurrentIndex(index)

    def _devices(self, devices: list[DeviceInfo]) -> None:
        inputs = [d for d in devices if d.max_input_channels > 0]
        outputs = [d for d in devices if d.max_output_channels > 0]
        for box, found, current in (
            (self.input_box, inputs, self.audio.input),
            (self.output_box, outputs, self.audio.output),
        ):
            for device in found:
                if box.findData(device.name) < 0:
                    box.addItem(f"{device.name} ({device.host_api})", device.name)
            self._keep(box, current)
        self.devices_note.setText(
            f"{len(inputs)} microphone(s) and {len(outputs)} speaker(s) found"
            if devices
            else "No sound devices found: you can still read the timeline."
        )

    def _no_devices(self, message: str) -> None:
        self.devices_note.setText(f"No sound devices: {message}")

    def _join_another(self) -> None:
        self.choice = JOIN_ANOTHER
        self.accept()

    def accept(self) -> None:
        typed = self.name_edit.text().strip()
        if typed:
            try:
                self.display_name = validate_display_name(typed)
            except UsageError as exc:
                self.name_error.setText(str(exc))
                return
        self.archive = self.archive_box.isChecked()
        self.audio.input = self.input_box.currentData()
        self.audio.output = self.output_box.currentData()
        self.audio.volume = self.volume.value() / 100
        text = self.hotkey_edit.keySequence().toString(QKeySequence.SequenceFormat.PortableText)
        try:
            self.desktop.hotkey = from_qt(text) if text else self.desktop.hotkey
        except ValueError as exc:
            self.hotkey_note.setText(str(exc))
            return
        self.desktop.hotkey_on = self.hotkey_check.isChecked()
        self.desktop.start_minimized = self.minimized_check.isChecked()
        self.audio.keep_mic_open = self.keep_open_box.isChecked()
        chosen = self.profile_box.currentData()
        if self.choice is None and isinstance(chosen, str) and chosen != self.profile.name:
            self.choice = chosen
        self.tasks.shutdown(0)
        super().accept()

    def reject(self) -> None:
        self.tasks.shutdown(0)
        super().reject()

"""The timeline pane: how far back, the list, what you missed, and what to do
with the selected recording (play/stop with progress, react, export)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListView,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from chok.channel.timeline import Entry
from chok.codec.tempo import SPEEDS
from chok.gui.channel_timeline import SINCE
from chok.gui.timeline_model import (
    ENTRY_ROLE,
    EntryDelegate,
    TimelineModel,
    seconds_text,
    when_text,
)
from chok.gui.viewmodel import REACTIONS, ChannelViewModel
from chok.protocol.display import moment_local, safe_file_part

QT_INT_MAX = 2**31 - 1
EXPORT_FILTER = "Ogg Opus audio (*.ogg);;WAV audio (*.wav)"


class TimelinePane(QWidget):
    exportRequested = Signal(object)  # Entry (the window asks where to save)

    def __init__(self, vm: ChannelViewModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.vm = vm
        self.model = TimelineModel(vm.me)
        self._pending: set[tuple[int, str]] = set()
        self._completed: int | None = None  # the recording last played to its end
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._header())
        layout.addLayout(self._suspicious_row())
        layout.addLayout(self._unheard_row())
        self.list = QListView()
        self.list.setModel(self.model)
        self.list.setItemDelegate(EntryDelegate(self.model))
        self.list.setUniformItemSizes(True)
        # Lay 10,000 rows out a batch per event-loop turn, not all at once.
        self.list.setLayoutMode(QListView.LayoutMode.Batched)
        self.list.setBatchSize(500)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.setAccessibleName("Timeline: recordings, newest first")
        self.list.activated.connect(lambda _index: self.play_or_stop())
        self.list.doubleClicked.connect(lambda _index: self.play_or_stop())
        layout.addWidget(self.list, 1)
        self.status = QLabel("Loading the timeline...")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        layout.addLayout(self._actions())
        self._bind()
        self._selection_changed()

    # -- building -------------------------------------------------------------

    def _header(self) -> QHBoxLayout:
        row = QHBoxLayout()
        title = QLabel("<b>Timeline</b>")
        row.addWidget(title)
        row.addStretch(1)
        self.since_group = QButtonGroup(self)
        self.since_buttons: dict[str, QPushButton] = {}
        for label, seconds in SINCE.items():
            button = QPushButton(label)
            button.setCheckable(True)
            button.setChecked(seconds == self.vm.since)
            button.setToolTip(f"Show the recordings of the last {label}" if seconds else "Show all")
            button.clicked.connect(lambda _checked=False, s=seconds: self.vm.set_since(s))
            self.since_group.addButton(button)
            self.since_buttons[label] = button
            row.addWidget(button)
        return row

    def _suspicious_row(self) -> QHBoxLayout:
        """Forged recordings are hidden; a warning says so and a box shows them."""
        row = QHBoxLayout()
        self.suspicious_label = QLabel("")
        self.suspicious_label.setStyleSheet("color: #c62828")
        self.suspicious_label.setWordWrap(True)
        row.addWidget(self.suspicious_label, 1)
        self.suspicious_box = QCheckBox("Show suspicious")
        self.suspicious_box.setToolTip(
            "Show recordings whose signature does not hold: someone may have "
            "written them in another person's name"
        )
        self.suspicious_box.toggled.connect(self.vm.set_show_suspicious)
        row.addWidget(self.suspicious_box)
        self.suspicious_box.setVisible(False)
        return row

    def _suspicious(self, count: int, shown: bool) -> None:
        self.suspicious_box.setVisible(count > 0 or shown)
        if count == 0:
            self.suspicious_label.setText("")
        elif shown:
            self.suspicious_label.setText(
                f"\u26a0 {count} suspicious recording{'s' if count != 1 else ''} shown: "
                "their signature does not hold, they may not be who they claim"
            )
        else:
            self.suspicious_label.setText(
                f"\u26a0 {count} suspicious recording{'s' if count != 1 else ''} hidden "
                "(forged signature)"
            )

    def _unheard_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.unheard_label = QLabel("")
        row.addWidget(self.unheard_label, 1)
        self.play_unheard_button = QPushButton("\u25b6 Play all unheard")
        self.play_unheard_button.setToolTip("Play what you missed, oldest first (Ctrl+U)")
        self.play_unheard_button.clicked.connect(self.vm.play_unheard)
        row.addWidget(self.play_unheard_button)
        return row

    def _actions(self) -> QVBoxLayout:
        box = QVBoxLayout()
        top = QHBoxLayout()
        self.play_button = QPushButton("\u25b6 Play")
        self.play_button.setToolTip("Play or stop the selected recording (Enter)")
        self.play_button.clicked.connect(self.play_or_stop)
        top.addWidget(self.play_button)
        self.speed_box = QComboBox()
        self.speed_box.setAccessibleName("Replay speed")
        self.speed_box.setToolTip("Replay speed; the voice keeps its pitch")
        for speed in SPEEDS:
            self.speed_box.addItem(f"{speed:g}\u00d7", speed)
        self.speed_box.setCurrentIndex(max(0, self.speed_box.findData(self.vm.replayer.speed)))
        self.speed_box.activated.connect(
            lambda index: self.vm.set_speed(float(self.speed_box.itemData(index)))
        )
        top.addWidget(self.speed_box)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        self.progress.setAccessibleName("Playback progress")
        top.addWidget(self.progress, 1)
        box.addLayout(top)
        bottom = QHBoxLayout()
        bottom.addWidget(QLabel("React:"))
        self.react_buttons: dict[str, QToolButton] = {}
        for number, emoji in enumerate(REACTIONS, start=1):
            button = QToolButton()
            button.setCheckable(True)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.setToolTip(f"React with {emoji} (Ctrl+{number}); click again to take it back")
            button.setAccessibleName(f"React {emoji}")
            button.setMinimumWidth(self.fontMetrics().height() * 4)
            button.clicked.connect(lambda _checked=False, e=emoji: self.react(e))
            self.react_buttons[emoji] = button
            bottom.addWidget(button)
        bottom.addStretch(1)
        self.export_button = QPushButton("Save audio\u2026")
        self.export_button.setToolTip("Save the selected recording as .ogg or .wav (Ctrl+E)")
        self.export_button.clicked.connect(self.export_selected)
        bottom.addWidget(self.export_button)
        self.delete_button = QPushButton("Delete for everyone\u2026")
        self.delete_button.setToolTip("Take back your own selected recording, for everyone")
        self.delete_button.clicked.connect(self.delete_selected)
        bottom.addWidget(self.delete_button)
        box.addLayout(bottom)
        return box

    def _bind(self) -> None:
        vm = self.vm
        vm.timelineChanged.connect(self._entries)
        vm.timelineLoading.connect(self._loading)
        vm.timelineError.connect(self._error)
        vm.entryChanged.connect(self._entry_changed)
        vm.unheardChanged.connect(self._unheard)
        vm.playStarted.connect(self._play_started)
        vm.playProgress.connect(self._progress)
        vm.playEnded.connect(self._play_ended)
        vm.playingChanged.connect(lambda _playing: self._selection_changed())
        vm.playPaused.connect(lambda _paused: self._selection_changed())
        vm.reactionPending.connect(self._reaction_pending)
        vm.suspiciousChanged.connect(self._suspicious)
        self.list.selectionModel().currentChanged.connect(lambda *_: self._selection_changed())
        # Names and heard-by come from the family's topics, whatever the channel.
        self._family_timer = QTimer(self)
        self._family_timer.setSingleShot(True)
        self._family_timer.setInterval(300)
        self._family_timer.timeout.connect(self._family)
        vm.family.namesChanged.connect(self._family_timer.start)
        vm.family.heardChanged.connect(self._family_timer.start)
        self._family()

    def _family(self) -> None:
        self.model.set_family(
            self.vm.family.names, self.vm.family.heard_index(self.vm.session.number)
        )

    # -- reacting to the view-model --------------------------------------------------

    def _entries(self, entries: list[Entry]) -> None:
        selected = self.selected()
        scroll = self.list.verticalScrollBar().value()
        self.model.set_entries(entries)
        row = self.model.row_of(selected.id) if selected is not None else None
        if row is None and entries:
            row = 0
        if row is not None:
            self.list.selectionModel().setCurrentIndex(
                self.model.index(row), QItemSelectionModel.SelectionFlag.ClearAndSelect
            )
        self.list.verticalScrollBar().setValue(scroll)
        self._show_count()
        self._selection_changed()

    def _show_count(self) -> None:
        shown = len(self.model.rows)
        label = next((k for k, v in SINCE.items() if v == self.vm.since), "All")
        window = "" if self.vm.since is None else f" in the last {label}"
        if shown == 0:
            self.status.setText(f"No recordings{window} yet: hold the big button to talk.")
        else:
            self.status.setText(f"{shown} recording{'s' if shown != 1 else ''}{window}")

    def _loading(self, loading: bool) -> None:
        if loading and not self.model.rows:
            self.status.setText("Loading the timeline...")
        elif not loading:
            self._show_count()

    def _error(self, message: str) -> None:
        self.status.setText(message)

    def _entry_changed(self, entry: Entry) -> None:
        self.model.update_entry(entry)
        self._selection_changed()

    def _unheard(self, ids: list[int]) -> None:
        self.model.set_unheard(ids)
        count = len(ids)
        self.unheard_label.setText(
            f"<b>{count} unheard</b>" if count else "You have heard everything."
        )
        self.play_unheard_button.setEnabled(count > 0)

    def _progress(self, entry_id: int, played_ms: int, total_ms: int) -> None:
        if self._completed == entry_id:
            self._completed = None
        self.model.set_playing(entry_id, played_ms, total_ms)
        selected = self.selected()
        if selected is not None and selected.id == entry_id:
            self._show_progress(played_ms, total_ms)

    def _play_started(self, entry_id: int, total_ms: int) -> None:
        self._progress(entry_id, 0, total_ms)
        self._selection_changed()  # the button turns into Stop now, not at the next reload

    def _show_progress(self, played_ms: int, total_ms: int) -> None:
        # A record may claim any length: the bar takes Qt's 32-bit ints.
        top = min(max(1, total_ms), QT_INT_MAX)
        self.progress.setRange(0, top)
        self.progress.setValue(max(0, min(played_ms, top)))
        paused = "  (paused: live audio first)" if self.vm.replayer.paused else ""
        self.progress.setFormat(f"{seconds_text(played_ms)} / {seconds_text(total_ms)}{paused}")

    def _play_ended(self, entry_id: int, completed: bool) -> None:
        if self.model.playing is not None and self.model.playing[0] == entry_id:
            self.model.set_playing(None)
        if completed:
            self._completed = entry_id  # played to the end: its bar stays full
        self._selection_changed()

    def _reaction_pending(self, entry_id: int, emoji: str, pending: bool) -> None:
        (self._pending.add if pending else self._pending.discard)((entry_id, emoji))
        self._selection_changed()

    # -- the selected recording -----------------------------------------------------

    def selected(self) -> Entry | None:
        index = self.list.currentIndex()
        entry = index.data(ENTRY_ROLE) if index.isValid() else None
        return entry if isinstance(entry, Entry) else None

    def select_id(self, entry_id: int) -> None:
        row = self.model.row_of(entry_id)
        if row is not None:
            self.list.setCurrentIndex(self.model.index(row))

    def _selection_changed(self) -> None:
        entry = self.selected()
        playing_id = self.model.playing[0] if self.model.playing else None
        is_playing = entry is not None and playing_id == entry.id and self.vm.replayer.playing
        self.play_button.setText("\u25a0 Stop" if is_playing else "\u25b6 Play")
        playable = entry is not None and (entry.audio_available or entry.archived)
        self.play_button.setEnabled(playable or is_playing)
        self.export_button.setEnabled(playable)
        self.delete_button.setEnabled(entry is not None and self.vm.can_delete(entry))
        if entry is not None and is_playing and self.model.playing is not None:
            self._show_progress(self.model.playing[1], self.model.playing[2])

        elif entry is not None:
            total = entry.transmission.duration_ms
            self._show_progress(total if entry.id == self._completed else 0, total)
            if not entry.audio_available:
                self.progress.setFormat("from the archive" if entry.archived else "audio expired")
        else:
            self.progress.setValue(0)
            self.progress.setFormat("")
        for emoji, button in self.react_buttons.items():
            names = entry.reactions.get(emoji, []) if entry is not None else []
            button.setText(f"{emoji} {len(names)}" if names else emoji)
            button.setChecked(entry is not None and self.vm.me in names)
            pending = entry is not None and (entry.id, emoji) in self._pending
            button.setEnabled(entry is not None and not pending)

    def play_or_stop(self) -> None:
        entry = self.selected()
        if entry is None:
            return
        playing_id = self.model.playing[0] if self.model.playing else None
        if self.vm.replayer.playing and playing_id == entry.id:
            self.vm.stop()
        else:
            self.vm.play(entry)

    def react(self, emoji: str) -> None:
        entry = self.selected()
        if entry is None:
            return
        self.vm.toggle_reaction(entry.id, emoji)
        self._selection_changed()  # the button shows the state it had until confirmed

    def export_selected(self) -> None:
        entry = self.selected()
        if entry is not None:
            self.exportRequested.emit(entry)

    def delete_selected(self, confirm: bool = True) -> None:
        """Delete for everyone, after asking (one's own recordings only)."""
        entry = self.selected()
        if entry is None or not self.vm.can_delete(entry):
            return
        if confirm:
            answer = QMessageBox.question(
                self,
                "Delete for everyone",
                f"Delete this recording ({when_text(entry.transmission.timestamp_ms)}) for "
                "everyone? It leaves every chok timeline and the Android app's at once. "
                "Its audio stays on the server until the channel's retention removes it.",
            )
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.vm.delete(entry)


def ask_export_path(parent: QWidget, entry: Entry) -> Path | None:
    """The save dialog, with a name made of who and when."""
    moment = moment_local(entry.transmission.timestamp_ms)
    when = f"{moment:%Y%m%d-%H%M%S}" if moment is not None else str(entry.id)
    name = f"{safe_file_part(entry.transmission.user_id)}-{when}.ogg"
    chosen, selected_filter = QFileDialog.getSaveFileName(
        parent, "Save the recording", str(Path.home() / name), EXPORT_FILTER
    )
    if not chosen:
        return None
    path = Path(chosen)
    if not path.suffix:
        path = path.with_suffix(".wav" if "wav" in selected_filter else ".ogg")
    return path

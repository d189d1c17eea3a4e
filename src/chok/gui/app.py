"""Starting the desktop app: the join screen when nobody joined yet, else the
main screen; switching profile or joining again from Settings."""

from __future__ import annotations

import logging
import sys
import traceback
from types import TracebackType

from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import QApplication, QWidget

from chok import profiles
from chok.errors import ChokError
from chok.gui.audio_io import AudioDevices, AudioSettings
from chok.gui.join_window import JoinWindow
from chok.gui.main_window import MainWindow
from chok.gui.settings_dialog import JOIN_ANOTHER, SettingsDialog
from chok.gui.widgets import app_icon
from chok.home import chok_home

log = logging.getLogger("chok.gui")
EMOJI_FONTS = ("Noto Color Emoji", "Apple Color Emoji", "Segoe UI Emoji")


def use_emoji_font(app: QApplication) -> None:
    """Let the UI font fall back to a colour emoji font (reactions need one)."""
    families = set(QFontDatabase.families())
    fallback = [f for f in EMOJI_FONTS if f in families]
    if fallback:
        font = QFont(app.font())
        font.setFamilies([app.font().family(), *fallback])
        app.setFont(font)


def make_app() -> QApplication:
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    app = QApplication(sys.argv[:1])
    app.setApplicationName("chok")
    app.setApplicationDisplayName("chok")
    app.setWindowIcon(app_icon())
    # Hidden in the tray is not closed: only closing the window (or Quit) ends chok.
    app.setQuitOnLastWindowClosed(True)
    return app


class ChokApp:
    """Which window is shown, and the audio overrides from the command line."""

    def __init__(
        self,
        profile: str | None,
        channel: int | None,
        devices: AudioDevices | None = None,
        input_device: str | None = None,
        output_device: str | None = None,
        minimized: bool = False,
    ) -> None:
        self.requested_profile = profile
        self.minimized = minimized  # `chok gui --minimized` (else the setting)
        self.channel = channel
        self.devices = devices or AudioDevices()
        self.input_device, self.output_device = input_device, output_device
        self.window: QWidget | None = None

    def start(self) -> None:
        try:
            profile = profiles.active(self.requested_profile)
        except ChokError:
            if self.requested_profile is not None:
                raise
            self.show_join()
            return
        self.show_main(profile)

    def _audio_for(self, profile: profiles.Profile) -> AudioSettings:
        audio = AudioSettings.load(profile.name)
        if self.input_device is not None:
            audio.input = self.input_device
        if self.output_device is not None:
            audio.output = self.output_device
        return audio

    def show_join(self) -> None:
        join = JoinWindow()
        join.joined.connect(self._joined)
        self._replace(join)

    def _joined(self, profile: profiles.Profile) -> None:
        self.channel = None
        self.show_main(profile)

    def show_main(self, profile: profiles.Profile) -> None:
        window = MainWindow(profile, self.devices, self._audio_for(profile), self.channel)
        window.settingsRequested.connect(self.open_settings)
        hidden = self.minimized or window.desktop.start_minimized
        self.minimized = False  # only the first window starts in the tray
        self._replace(window, hidden)

    def _replace(self, window: QWidget, minimized: bool = False) -> None:
        old, self.window = self.window, window
        if not minimized:
            window.show()
        elif isinstance(window, MainWindow) and window.tray.available:
            window.show_message("chok is in the tray: click its icon to open", False)
        else:  # no tray on this desktop: a minimised window, not an invisible app
            window.showMinimized()
        if old is not None:
            old.close()
            old.deleteLater()

    def open_settings(self) -> None:
        window = self.window
        if not isinstance(window, MainWindow):
            return
        family = window.family
        before_name = family.my_name
        dialog = SettingsDialog(
            window.audio, window.profile, window, window.desktop,
            display_name=before_name, archive=family.archive_enabled,
        )  # fmt: skip
        if not dialog.exec():
            return
        window.apply_desktop(dialog.desktop)
        if dialog.display_name and dialog.display_name != before_name:
            family.set_display_name(dialog.display_name)
        if dialog.archive != family.archive_enabled:
            family.set_archive(dialog.archive)
            if dialog.archive:
                family.archive(window.vm.session)
        if dialog.choice == JOIN_ANOTHER:
            self.show_join()
        elif dialog.choice is not None:
            self.channel = None
            self.show_main(profiles.load(dialog.choice))
        else:
            window.apply_audio(dialog.audio)


def _log_to_file() -> str:
    path = chok_home() / "gui.log"
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    return str(path)


def run(
    profile: str | None,
    channel: int | None,
    input_device: str | None = None,
    output_device: str | None = None,
    minimized: bool = False,
) -> int:
    """Run the app until its window closes; return the exit code."""
    app = make_app()
    where = _log_to_file()
    controller = ChokApp(profile, channel, None, input_device, output_device, minimized)

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        # A bug must not kill the walkie-talkie: log it, say one line in the window.
        log.error("".join(traceback.format_exception(kind, exc, tb)))
        window = controller.window
        text = str(exc) if isinstance(exc, ChokError) else f"unexpected error: {kind.__name__}"
        if isinstance(window, MainWindow):
            window.show_message(f"{text} (details in {where})", True)

    sys.excepthook = hook
    controller.start()
    return app.exec()

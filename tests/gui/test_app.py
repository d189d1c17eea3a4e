"""The app around the main screen: joining, settings, notifications, keys, channels."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, Qt, QUrl
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from chok import profiles
from chok.channel.live import TalkEnded
from chok.channel.session import open_session
from chok.errors import AudioDeviceError, BadBundleError, EnvironmentError_
from chok.gui import NO_DISPLAY, check_display
from chok.gui.audio_io import AudioSettings
from chok.gui.join_window import JoinWindow
from chok.gui.settings_dialog import SettingsDialog
from chok.provision import handover, local
from chok.provision.server import BundleServer
from tests.conftest import run_chok
from tests.gui.conftest import quick_talk, talk_in_thread
from tests.integration.talk_helpers import Recorder

pytestmark = [pytest.mark.gui]


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:6]}"


# -- joining ---------------------------------------------------------------------


@pytest.fixture
def join_window(qtbot) -> JoinWindow:  # type: ignore[no-untyped-def]
    window = JoinWindow()
    qtbot.addWidget(window)
    window.show()
    return window


def _error_shown(qtbot, window: JoinWindow, words: str) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: words in window.error.text(), timeout=15_000)
    assert window.field.isEnabled()  # ready for another try


def test_join_refuses_bad_input_with_one_clear_sentence(qtbot, join_window, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    not_zip = tmp_path / "grandpa.chok"
    not_zip.write_bytes(b"hello")
    join_window.join_path(not_zip)
    _error_shown(qtbot, join_window, "grandpa.chok is not a chok bundle (not a zip file)")
    join_window.join_path(tmp_path / "missing.chok")
    _error_shown(qtbot, join_window, "there is no file")
    join_window.field.setText("")
    join_window.join_from_field()
    _error_shown(qtbot, join_window, "paste the join link or the path")
    join_window.field.setText("http://127.0.0.1:9/bundle/AAAAAAAAAAAAAAAAAAAAAA")
    join_window.join_from_field()
    _error_shown(qtbot, join_window, "lacks its secret part")
    assert "Traceback" not in join_window.error.text()


def test_the_join_screen_checks_a_bundle_like_chok_join(join_window, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from tests.unit.test_bundle_checks import bundle

    name = unique("mixed").replace("-", "_")
    mixed = replace(bundle(name), key_pem=bundle("bob").key_pem)
    path = tmp_path / "mixed.chok"
    path.write_bytes(mixed.to_zip())
    join_window.join_path(path)
    _error_shown(qtbot, join_window, "private key does not belong to its certificate")
    assert name not in profiles.names()


@pytest.mark.broker
def test_an_expired_bundle_is_refused(cluster) -> None:  # type: ignore[no-untyped-def]
    bundle, _ = local.add_user(unique("oldtimer"), None, force=True)
    profiles.check_bundle(bundle)  # valid today
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=365 * 30)
    with pytest.raises(BadBundleError, match=r"this bundle expired on .*ask your admin"):
        profiles.check_bundle(bundle, now=later)


@pytest.mark.broker
def test_join_by_dropping_the_file_then_by_pasting_a_link(qtbot, cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    gran = unique("gran")
    bundle, _ = local.add_user(gran, None, force=True)
    path = tmp_path / "gran.chok"
    path.write_bytes(bundle.to_zip())
    window = JoinWindow()
    qtbot.addWidget(window)
    window.show()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QDropEvent

    drop = QDropEvent(
        QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip
    with qtbot.waitSignal(window.joined, timeout=15_000) as joined:
        window.dropEvent(drop)
    assert joined.args[0].user == gran
    assert profiles.default_name() == gran

    # A one-time link from `chok admin serve`, pasted with Ctrl+V.
    grandpa = unique("grandpa")
    bundle, _ = local.add_user(grandpa, None, force=True)
    server = BundleServer("127.0.0.1", 0, 60)
    link = server.offer(grandpa, handover.seal(bundle.to_zip()), "127.0.0.1").link
    server.start()
    try:
        QGuiApplication.clipboard().setText(link)
        window.setFocus()
        with qtbot.waitSignal(window.joined, timeout=15_000) as joined:
            window.paste()
        assert joined.args[0].user == grandpa
        window.field.setText(link)  # the same link again: it was for one use
        window.join_from_field()
        _error_shown(qtbot, window, "this link was already used or has expired")
    finally:
        server.stop()


@pytest.mark.broker
def test_join_offers_to_replace_a_profile_of_someone_else(qtbot, cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    twin = unique("twin")
    first, _ = local.add_user(twin, None, force=True)
    profiles.install(first, None, force=True)
    # Another cluster's "twin" (a different broker) cannot silently replace it.
    from dataclasses import replace

    other = replace(first, config=replace(first.config, broker_url="elsewhere:9093"))
    path = tmp_path / "twin.chok"
    path.write_bytes(other.to_zip())
    window = JoinWindow()
    qtbot.addWidget(window)
    window.show()
    window.join_path(path)
    _error_shown(qtbot, window, f"already has a profile named '{twin}'")
    assert window.replace_button.isVisibleTo(window)
    with qtbot.waitSignal(window.joined, timeout=15_000):
        qtbot.mouseClick(window.replace_button, Qt.MouseButton.LeftButton)
    assert profiles.load(twin).config.broker_url == "elsewhere:9093"


# -- the main window around the button --------------------------------------------


@pytest.mark.broker
def test_a_notification_when_someone_talks_while_the_window_is_hidden(
    qtbot, new_user, open_window
) -> None:  # type: ignore[no-untyped-def]
    alice, bob = new_user("alice"), new_user("bob")
    window = open_window(alice)
    bob_session = open_session(bob)
    quick_talk(bob_session)
    qtbot.waitUntil(lambda: window.vm.sound.cues_played[-1:] == ["end"], timeout=15_000)
    assert window.notifier.sent == []  # visible: no notification

    window.hide()
    quick_talk(bob_session)
    qtbot.waitUntil(lambda: bool(window.notifier.sent), timeout=15_000)
    notice = window.notifier.sent[0]
    assert notice.title == f"{bob.user} is talking"
    assert notice.how in ("tray", "alert")  # no tray offscreen: the window asks for attention


@pytest.mark.broker
def test_without_a_microphone_you_can_still_listen(qtbot, new_user, open_window, sound) -> None:  # type: ignore[no-untyped-def]
    sound.input_error = AudioDeviceError("no sound input device found: connect a microphone")
    alice, bob = new_user("alice"), new_user("bob")
    window = open_window(alice, connected=False)
    qtbot.waitUntil(lambda: window.vm.ptt_state == "no-mic", timeout=30_000)
    assert "No microphone" in window.caption.text()
    assert window.ptt.text() == "No microphone"
    qtbot.mouseClick(window.ptt, Qt.MouseButton.LeftButton)
    assert window.messages[-1] == (
        "cannot talk: no sound input device found: connect a microphone",
        True,
    )
    speaker = talk_in_thread(open_session(bob), seconds=1.5)
    qtbot.waitUntil(lambda: bob.user in window.others_label.text(), timeout=15_000)
    speaker.join()


@pytest.mark.broker
def test_settings_change_devices_and_volume_and_are_remembered(
    qtbot, new_user, open_window
) -> None:  # type: ignore[no-untyped-def]
    alice = new_user("alice")
    window = open_window(alice)
    dialog = SettingsDialog(window.audio, window.profile, window)
    qtbot.addWidget(dialog)
    dialog.input_box.setCurrentIndex(dialog.input_box.findData("none"))
    dialog.output_box.setCurrentIndex(dialog.output_box.findData("null"))
    dialog.volume.setValue(40)
    assert dialog.volume_label.text() == "40 %"
    dialog.accept()
    window.apply_audio(dialog.audio)
    qtbot.waitUntil(lambda: window.vm.ptt_state == "no-mic", timeout=30_000)
    assert window.vm.audio.volume == pytest.approx(0.4)
    stored = AudioSettings.load(alice.name)
    assert (stored.input, stored.output, stored.volume) == ("none", "null", pytest.approx(0.4))


@pytest.mark.broker
def test_switching_channel_talks_on_the_new_one(qtbot, new_user, open_window) -> None:  # type: ignore[no-untyped-def]
    alice, bob = new_user("alice", [1, 2]), new_user("bob", [2])
    window = open_window(alice)
    assert window.vm.session.number == 1
    window.channel_box.setCurrentIndex(window.channel_box.findData(2))
    window.channel_box.activated.emit(window.channel_box.currentIndex())
    qtbot.waitUntil(
        lambda: window.vm.session.number == 2 and window.vm.ptt_state == "idle", timeout=30_000
    )
    assert "channel 2" in window.conn_label.toolTip()
    bob_hears = Recorder(open_session(bob, 2)).start()
    qtbot.mousePress(window.ptt, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.elapsed_label.text() >= "0:00.5", timeout=10_000)
    qtbot.mouseRelease(window.ptt, Qt.MouseButton.LeftButton)
    bob_hears.wait_for(lambda events: any(isinstance(e, TalkEnded) for e in events))
    bob_hears.finish()
    qtbot.waitUntil(lambda: not window._retired, timeout=20_000)  # the old channel let go


@pytest.mark.broker
def test_everything_is_reachable_from_the_keyboard(qtbot, new_user, open_window) -> None:  # type: ignore[no-untyped-def]
    alice, bob = new_user("alice"), new_user("bob")
    tx = quick_talk(open_session(bob)).transmission
    assert tx is not None
    window = open_window(alice)
    pane = window.timeline
    wanted = {
        window.channel_box, window.settings_button, window.ptt, pane.list, pane.play_button,
        pane.play_unheard_button, pane.export_button, *pane.react_buttons.values(),
        *pane.since_buttons.values(),
    }  # fmt: skip
    chain, widget = [], window.channel_box.nextInFocusChain()
    while widget is not window.channel_box and len(chain) < 200:
        if widget.focusPolicy() & Qt.FocusPolicy.TabFocus:
            chain.append(widget)
        widget = widget.nextInFocusChain()
    missing = [w.accessibleName() or w.text() for w in wanted - set(chain) - {window.channel_box}]
    assert not missing, f"not reachable with Tab: {missing}"
    # Shortcuts work on the chosen recording: Ctrl+1 reacts, Ctrl+1 again takes it back.
    window.activateWindow()
    qtbot.waitUntil(lambda: pane.model.row_of(tx.start_offset) is not None, timeout=15_000)
    pane.select_id(tx.start_offset)
    pane.list.setFocus()
    qtbot.keyClick(pane.list, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: pane.react_buttons["\U0001f44d"].isChecked(), timeout=15_000)
    qtbot.waitUntil(pane.react_buttons["\U0001f44d"].isEnabled)
    qtbot.keyClick(pane.list, Qt.Key.Key_Return)  # Enter plays
    qtbot.waitUntil(lambda: window.vm.replayer.playing, timeout=10_000)
    qtbot.keyClick(pane.list, Qt.Key.Key_Escape)  # Esc stops
    qtbot.waitUntil(lambda: not window.vm.replayer.playing, timeout=10_000)


# -- no display -------------------------------------------------------------------------


def test_no_display_is_one_clear_line() -> None:
    with pytest.raises(EnvironmentError_) as caught:
        check_display(environ={}, platform="linux")
    assert str(caught.value) == NO_DISPLAY
    assert "chok demo" in NO_DISPLAY and "\n" not in NO_DISPLAY
    check_display(environ={"DISPLAY": ":0"}, platform="linux")
    check_display(environ={}, platform="darwin")


def test_chok_gui_without_a_display_says_so(tmp_path: Path) -> None:
    env = {"DISPLAY": "", "WAYLAND_DISPLAY": "", "QT_QPA_PLATFORM": ""}
    result = run_chok("gui", env=env, home=tmp_path)
    if "No such command 'gui'" in result.err:
        pytest.skip("`chok gui` is not registered in cli/main.py yet")
    assert result.code == 4, result
    assert result.err.strip() == f"chok: error: {NO_DISPLAY}"


@pytest.mark.broker
def test_first_start_joins_then_shows_the_main_screen(
    qtbot, cluster, sound, tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from chok.gui.app import ChokApp
    from chok.gui.main_window import MainWindow

    newcomer = unique("newcomer")
    bundle, _ = local.add_user(newcomer, None, force=True)  # the admin, beforehand
    path = tmp_path / "newcomer.chok"
    path.write_bytes(bundle.to_zip())
    monkeypatch.setenv("CHOK_HOME", str(tmp_path / "fresh-home"))  # a machine that never joined
    app = ChokApp(None, None, sound.devices)
    app.start()
    join = app.window
    assert isinstance(join, JoinWindow)
    join.join_path(path)
    qtbot.waitUntil(lambda: isinstance(app.window, MainWindow), timeout=15_000)
    window = app.window
    assert isinstance(window, MainWindow)
    try:
        assert window.profile.user == newcomer
        qtbot.waitUntil(lambda: window.vm.ptt_state == "idle", timeout=30_000)
        shown = [w for w in QApplication.topLevelWidgets() if w.isVisible()]
        assert not any(isinstance(w, JoinWindow) for w in shown)
    finally:
        window.close()

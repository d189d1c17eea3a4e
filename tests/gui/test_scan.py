"""Scan in the app against the real broker: two channels heard, activity on the
one you are not looking at, mute, the priority channel, and switching."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt

from chok.audio import BufferOutput
from chok.channel.session import open_session
from chok.gui.scanning import load_scan
from tests.gui.conftest import quick_talk, talk_in_thread

pytestmark = [pytest.mark.gui, pytest.mark.broker]


def _scan_speaker(window) -> BufferOutput:  # type: ignore[no-untyped-def]
    player = window.scanning._player
    assert player is not None
    inner = player.output.inner
    assert isinstance(inner, BufferOutput)
    return inner


def _wait_quiet(qtbot, output: BufferOutput, quiet_s: float = 0.5) -> int:  # type: ignore[no-untyped-def]
    """Wait until the speaker got nothing new for ``quiet_s`` (its queue played out)."""
    last = {"size": -1, "since": time.monotonic()}

    def quiet() -> bool:
        size = output.pcm().size
        if size != last["size"]:
            last["size"], last["since"] = size, time.monotonic()
        return time.monotonic() - last["since"] >= quiet_s

    qtbot.waitUntil(quiet, timeout=15_000)
    return output.pcm().size


def test_hear_two_channels_see_activity_mute_and_switch(qtbot, new_user, open_window) -> None:  # type: ignore[no-untyped-def]
    mum, bob = new_user("mum", [1, 2]), new_user("bob", [2])
    window = open_window(mum)
    panel = window.scan_panel
    assert panel.isVisibleTo(window) and window.vm.session.number == 1
    assert not panel.rows[1].hear.isEnabled()  # the channel on screen is always heard
    panel.rows[2].hear.setChecked(True)  # hear channel 2 too
    assert load_scan(mum, 1).channels == (1, 2)  # remembered
    qtbot.waitUntil(lambda: window.scanning.listening, timeout=20_000)

    # bob talks on channel 2 while mum looks at channel 1: shown, and played.
    quick_talk(open_session(bob, 2), frames=1)  # a fresh broker's producer id comes first
    speaker = talk_in_thread(open_session(bob, 2), seconds=1.5)
    qtbot.waitUntil(lambda: bob.user in panel.rows[2].activity.text(), timeout=15_000)
    speaker.join()
    qtbot.waitUntil(lambda: panel.rows[2].activity.text() == "", timeout=15_000)
    heard = _wait_quiet(qtbot, _scan_speaker(window))
    # bob's voice reached the speaker (not all of it under load: the jitter
    # buffer drops frames that come too late, as it should live).
    assert heard >= 48 * 300
    assert panel.rows[2].missed == 0  # heard whole: nothing new to see there

    # Muted: shown and counted as new, not played.
    qtbot.mouseClick(panel.rows[2].mute, Qt.MouseButton.LeftButton)
    assert window.scan_gate.settings.muted == {2}
    speaker = talk_in_thread(open_session(bob, 2), seconds=1.0)
    qtbot.waitUntil(lambda: bob.user in panel.rows[2].activity.text(), timeout=15_000)
    speaker.join()
    qtbot.waitUntil(lambda: "1 new" in panel.rows[2].activity.text(), timeout=15_000)
    assert _scan_speaker(window).pcm().size - heard < 48 * 200  # not played
    assert window.tray.count >= 1  # the tray counts it

    # Looking at channel 2: talk goes there; channel 1 is now the one heard by scan.
    qtbot.mouseClick(panel.rows[2].name, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.vm.session.number == 2, timeout=10_000)
    assert panel.rows[2].missed == 0 and not panel.rows[2].hear.isEnabled()
    assert window.scanning.channels == (1,)


def test_the_priority_channel_interrupts_the_channel_on_screen(
    qtbot, new_user, open_window
) -> None:  # type: ignore[no-untyped-def]
    mum, dad, bob = new_user("mum", [1, 2]), new_user("dad", [1]), new_user("bob", [2])
    window = open_window(mum)
    panel = window.scan_panel
    qtbot.mouseClick(panel.rows[2].priority, Qt.MouseButton.LeftButton)
    settings = window.scan_gate.settings
    assert settings.priority == 2 and settings.channels == (1, 2)
    qtbot.waitUntil(lambda: window.scanning.listening, timeout=20_000)

    ended: list[tuple[str, bool]] = []
    window.vm.listening.talkEnded.connect(
        lambda _k, talker, _ms, heard: ended.append((talker, heard))
    )
    long_talk = talk_in_thread(open_session(dad, 1), seconds=4.0)  # on the channel on screen
    qtbot.waitUntil(lambda: window.scan_gate.holder == 1, timeout=15_000)
    priority_talk = talk_in_thread(open_session(bob, 2), seconds=1.0)
    qtbot.waitUntil(lambda: window.scan_gate.holder == 2, timeout=15_000)  # interrupted
    priority_talk.join(), long_talk.join()
    qtbot.waitUntil(lambda: bool(ended), timeout=15_000)
    assert ended == [(dad.user, False)]  # cut off: dad's stays unheard, to replay
    assert _scan_speaker(window).pcm().size >= 48 * 300  # bob's was played


def test_talk_on_another_channel_notifies_while_hidden(qtbot, new_user, open_window) -> None:  # type: ignore[no-untyped-def]
    mum, bob = new_user("mum", [1, 2]), new_user("bob", [2])
    window = open_window(mum)
    window.scan_panel.rows[2].hear.setChecked(True)
    qtbot.waitUntil(lambda: window.scanning.listening, timeout=20_000)
    window.hide()
    quick_talk(open_session(bob, 2), frames=5)
    qtbot.waitUntil(lambda: bool(window.notifier.sent), timeout=15_000)
    notice = window.notifier.sent[0]
    assert notice.title == f"{bob.user} is talking" and "channel" in notice.text


def test_without_a_speaker_activity_still_shows(qtbot, new_user, sound) -> None:  # type: ignore[no-untyped-def]
    from chok.errors import AudioDeviceError
    from chok.gui.audio_io import AudioDevices, AudioSettings
    from chok.gui.main_window import MainWindow

    def no_speaker(_spec: str | None) -> BufferOutput:
        raise AudioDeviceError("no sound output device found")

    mum, bob = new_user("mum", [1, 2]), new_user("bob", [2])
    devices = AudioDevices(sound.open_input, no_speaker)
    window = MainWindow(mum, devices, AudioSettings(), channel=1, probe_ms=500)
    qtbot.addWidget(window)
    window.show()
    try:
        window.scan_panel.rows[2].hear.setChecked(True)
        qtbot.waitUntil(lambda: window.scanning.listening, timeout=20_000)
        assert any("no sound for the other channels" in text for text, _ in window.messages)
        speaker = talk_in_thread(open_session(bob, 2), seconds=1.0)
        qtbot.waitUntil(
            lambda: bob.user in window.scan_panel.rows[2].activity.text(), timeout=15_000
        )
        speaker.join()
        assert window.scanning._player is None
        assert not any("trying again" in text for text, _ in window.messages)
    finally:
        window.close()


def test_the_panel_shows_names_safely_and_the_other_channels_connection(qapp) -> None:  # type: ignore[no-untyped-def]
    """Names come from bundles and records: escaped (and never taken for rich text);
    the monitor's connection shows in the main line's words only while it is not there."""
    from chok.gui.scan_panel import ScanPanel
    from chok.protocol.client_config import ChannelConfig
    from chok.protocol.display import is_unsafe_char

    channels = [ChannelConfig.standard(1, "home"), ChannelConfig.standard(2, "kids\n\u202eevil")]
    panel = ScanPanel(channels)
    panel.set_activity(2, ["\u202emallory\n", "<img src='x'>", "bob"])
    shown = [panel.rows[2].name.text(), panel.rows[2].activity.text()]
    assert not [c for text in shown for c in text if is_unsafe_char(c)], shown
    assert "kids\\n\\u202eevil" in shown[0]
    assert "\\u202emallory\\n" in shown[1] and "&lt;img src=&#x27;x&#x27;&gt;" in shown[1]

    assert not panel.connection.isVisibleTo(panel)
    words = "Can't reach the family's Kafka at localhost:9093 — retrying (last try 3 s ago)"
    panel.set_connection("reconnecting", words)
    assert panel.connection.isVisibleTo(panel)
    assert panel.connection.text() == f"Reconnecting\u2026 {words}"
    before = panel.minimumSizeHint().width()
    panel.set_connection("offline", words * 20)  # long: elided, never wider
    assert panel.minimumSizeHint().width() == before
    panel.set_connection("connected", "Connected to the family's Kafka at localhost:9093")
    assert not panel.connection.isVisibleTo(panel)
    panel.set_connection("", "")  # no other channel heard
    assert not panel.connection.isVisibleTo(panel)

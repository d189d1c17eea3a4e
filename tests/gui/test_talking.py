"""Push to talk in the desktop app, against the real broker."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from chok.channel.live import TalkEnded
from chok.channel.session import open_session
from tests.gui.conftest import TickCounter, talk_in_thread
from tests.integration.talk_helpers import Recorder

pytestmark = [pytest.mark.gui, pytest.mark.broker]


def test_holding_and_releasing_the_button_sends_what_another_client_hears(
    qtbot, new_user, open_window, sound
) -> None:  # type: ignore[no-untyped-def]
    alice, bob = new_user("alice"), new_user("bob")
    window = open_window(alice)
    bob_hears = Recorder(open_session(bob)).start()
    ticks = TickCounter().start()

    qtbot.mousePress(window.ptt, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.vm.ptt_state == "talking")
    qtbot.waitUntil(lambda: window.vm.talking.state == "talking")
    # While talking: the elapsed time runs and the level meter moves.
    qtbot.waitUntil(lambda: window.elapsed_label.text() >= "0:01.0", timeout=10_000)
    assert window.own_level.value > 0
    qtbot.mouseRelease(window.ptt, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any("sent" in text for text, _ in window.messages), timeout=20_000)
    ticks.stop()

    sent_ms = float(next(t for t, _ in window.messages if t.startswith("sent")).split()[1]) * 1000
    assert sent_ms >= 1000
    bob_hears.wait_for(lambda events: any(isinstance(e, TalkEnded) for e in events))
    ended = [e for e in bob_hears.finish() if isinstance(e, TalkEnded)]
    assert [e.talker for e in ended] == [alice.user]
    assert ended[0].duration_ms == pytest.approx(sent_ms, abs=61)
    assert window.vm.sound.cues_played[:2] == ["permit", "end"]
    # The timeline shows it, newest first, as alice's.
    qtbot.waitUntil(lambda: bool(window.timeline.model.rows))
    top = window.timeline.model.rows[0].transmission
    assert top.user_id == alice.user and top.duration_ms == ended[0].duration_ms
    assert ticks.max_gap_ms < 250, "the UI thread waited while recording"
    assert sound.inputs_opened == 1  # opened when the window was ready, kept open


def test_holding_space_talks_too(qtbot, new_user, open_window) -> None:  # type: ignore[no-untyped-def]
    window = open_window(new_user("spacey"))
    qtbot.keyPress(window.timeline.list, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: window.vm.talking.state == "talking")
    assert window.ptt.isDown()
    qtbot.waitUntil(lambda: window.elapsed_label.text() >= "0:00.5", timeout=10_000)
    qtbot.keyRelease(window.timeline.list, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: any(t.startswith("sent") for t, _ in window.messages), timeout=20_000)
    assert not window.ptt.isDown()


def test_someone_else_talking_shows_busy_and_a_busy_cue(qtbot, new_user, open_window) -> None:  # type: ignore[no-untyped-def]
    alice, bob = new_user("alice"), new_user("bob")
    window = open_window(alice)
    speaker = talk_in_thread(open_session(bob), seconds=3)

    qtbot.waitUntil(lambda: window.vm.ptt_state == "busy", timeout=15_000)
    assert bob.user in window.others_label.text()
    assert bob.user in window.ptt.detail
    qtbot.waitUntil(lambda: len(window.waveform.levels) > 5)
    assert max(window.waveform.levels) > 0.2  # a live level, not silence
    qtbot.mousePress(window.ptt, Qt.MouseButton.LeftButton)
    qtbot.mouseRelease(window.ptt, Qt.MouseButton.LeftButton)
    assert "busy" in window.vm.sound.cues_played
    assert window.vm.talking.state == "idle"
    assert any("busy" in text and error for text, error in window.messages)

    result = speaker.join()
    qtbot.waitUntil(lambda: window.vm.ptt_state == "idle", timeout=15_000)
    assert window.vm.sound.cues_played[-1] == "end"
    assert window.others_label.text() == "Nobody else is talking"
    assert result.transmission is not None
    # bob's words came out of alice's speaker, and the timeline got them.
    qtbot.waitUntil(
        lambda: window.timeline.model.row_of(result.transmission.start_offset) is not None,
        timeout=15_000,
    )

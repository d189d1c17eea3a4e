"""Replay comfort in the app against the real broker: 1.5x/2x with the pitch kept,
Play turning into Stop, and live audio pausing a replay (which then goes on)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from chok import profiles
from chok.audio import BufferOutput
from chok.channel.session import open_session
from chok.gui.replaying import SPEED_KEY
from tests.gui.conftest import quick_talk, talk_in_thread

pytestmark = [pytest.mark.gui, pytest.mark.broker]


def _replay_output(window) -> BufferOutput:  # type: ignore[no-untyped-def]
    output = window.vm.sound._output  # the cue/replay speaker (a VolumeOutput)
    assert output is not None
    inner = output.inner
    assert isinstance(inner, BufferOutput)
    return inner


def _select(window, entry_id: int, qtbot) -> None:  # type: ignore[no-untyped-def]
    pane = window.timeline
    qtbot.waitUntil(lambda: pane.model.row_of(entry_id) is not None, timeout=15_000)
    pane.select_id(entry_id)


def test_play_at_twice_the_speed_gives_half_the_audio(qtbot, new_user, open_window) -> None:  # type: ignore[no-untyped-def]
    alice, bob = new_user("alice"), new_user("bob")
    tx = quick_talk(open_session(bob), frames=40).transmission  # 2.4 s
    assert tx is not None
    window = open_window(alice)
    pane = window.timeline
    _select(window, tx.start_offset, qtbot)
    pane.speed_box.setCurrentIndex(pane.speed_box.findData(2.0))
    pane.speed_box.activated.emit(pane.speed_box.currentIndex())
    assert window.vm.replayer.speed == 2.0
    assert profiles.recall(alice.name, SPEED_KEY) == 2.0  # remembered
    window.vm.sound.cue("end")  # the speaker opens: its samples are counted from here
    qtbot.waitUntil(lambda: window.vm.sound._output is not None, timeout=5000)
    before = _replay_output(window).pcm().size
    with qtbot.waitSignal(window.vm.playEnded, timeout=20_000) as ended:
        with qtbot.waitSignal(window.vm.playStarted, timeout=10_000):
            qtbot.mouseClick(pane.play_button, Qt.MouseButton.LeftButton)
        assert pane.play_button.text().endswith("Stop")  # as soon as it plays
    assert ended.args == [tx.start_offset, True]
    played = _replay_output(window).pcm().size - before
    assert played / 48 == pytest.approx(tx.duration_ms / 2, rel=0.05)
    assert pane.play_button.text().endswith("Play")


def test_live_audio_pauses_a_replay_which_then_goes_on(qtbot, new_user, open_window) -> None:  # type: ignore[no-untyped-def]
    alice, bob, carol = new_user("alice"), new_user("bob"), new_user("carol")
    tx = quick_talk(open_session(bob), frames=60).transmission  # 3.6 s
    assert tx is not None
    window = open_window(alice)
    pane = window.timeline
    _select(window, tx.start_offset, qtbot)
    with qtbot.waitSignal(window.vm.playEnded, timeout=40_000) as ended:
        pane.play_or_stop()
        qtbot.waitUntil(lambda: window.vm.sound._output is not None, timeout=10_000)
        speaker = _replay_output(window)
        qtbot.waitUntil(lambda: speaker.pcm().size > 48 * 500, timeout=10_000)
        carol_talks = talk_in_thread(open_session(carol), seconds=1.5)  # live, meanwhile
        qtbot.waitUntil(lambda: window.vm.replayer.paused, timeout=10_000)
        assert "paused" in pane.progress.format()
        at_pause = speaker.pcm().size
        carol_talks.join()
        qtbot.waitUntil(lambda: not window.vm.replayer.paused, timeout=15_000)
        during_pause = speaker.pcm().size - at_pause
    assert ended.args == [tx.start_offset, True]  # resumed, and played to the end
    # While carol talked, at most what was already handed ahead (0.25 s) and the end cue.
    assert during_pause / 48 < 250 + 60 + 400, during_pause / 48
    assert speaker.pcm().size / 48 >= tx.duration_ms
